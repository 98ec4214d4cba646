"""Framing: upstream bytes -> whole events, with one policy for SSE and NDJSON.

Upstreams stream in two framings: SSE (OpenAI-compatible servers, Anthropic) and NDJSON
(Ollama). Both framers here take bytes cut anywhere (mid-line, mid-CRLF, mid-character) and
hand back only whole events, each checked as a client would read it: all UTF-8, every
payload a JSON object, no event larger than `MAX_EVENT_BYTES`. The first input that fails a
check sets `error` and ends the framing: nothing after it is read, and nothing is ever
dropped silently. A framer only holds back an event that is not complete yet.

Line endings come out as LF: CRLF and lone CR are legal SSE, and one form lets events be
cut alike. A last event that the body's end cut off mid-JSON is dropped by `close` without
an error: the stream is then truncated (the translator sees no end of answer), not malformed.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

# An event still has no end after this many bytes: the upstream is not speaking the
# framing (or never will finish the event), and holding more would only eat memory.
MAX_EVENT_BYTES = 1024 * 1024
_EXCERPT = 80

# The SSE fields (WHATWG HTML, "Server-sent events"). The standard says a client ignores
# any other field name, but no provider sends one: such a line is what an HTML error page
# or a plain-text body looks like when read as SSE. llama.cpp's server reports a failure
# mid-stream as an `error: {json}` line; it is read as an event named "error".
_IGNORED_FIELDS = frozenset({b"id", b"retry"})
_ERROR_FIELD = b"error"


class Event(NamedTuple):
    """One whole upstream event.

    `raw`: its bytes as received (an SSE event up to and including its closing blank line,
    line endings normalised to LF; an NDJSON line with its newline), relayed untouched by a
    passthrough. `name`: the SSE `event:` field, or None. `data`: the parsed JSON object of
    the `data:` payload (SSE) or of the line (NDJSON); None for an event without data (a
    comment, a keep-alive) and for OpenAI's `data: [DONE]` (then `done` is True).
    """

    raw: bytes
    name: str | None
    data: dict[str, Any] | None
    done: bool = False


class FramingError(ValueError):
    """What made the stream unreadable, worded to end a sentence in the client's error.

    `cut` marks a last event that the stream's end interrupted (its JSON incomplete)."""

    def __init__(self, reason: str, *, cut: bool = False) -> None:
        super().__init__(reason)
        self.cut = cut


class _Framer:
    """What both framings share: CR handling, the size cap, the error state."""

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self.error: FramingError | None = None
        self._max_event = max_event
        self._buffer = bytearray()  # the event not complete yet
        self._cr = False  # the last chunk ended with a CR that may be half of a CRLF

    def _lf(self, data: bytes) -> bytes:
        if self._cr:
            data, self._cr = b"\r" + data, False
        if b"\r" in data:
            if data.endswith(b"\r"):
                data, self._cr = data[:-1], True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return data

    def _check_size(self, what: str) -> None:
        if self.error is None and len(self._buffer) > self._max_event:
            self._fail(f"{len(self._buffer)} bytes without {what} (the limit is {self._max_event})")

    def _tail(self) -> bytes:
        """What is left at the end of the body, with a pending CR as a line end."""
        tail = bytes(self._buffer) + (b"\n" if self._cr else b"")
        self._buffer.clear()
        self._cr = False
        return tail

    def _fail(self, reason: str) -> None:
        self.error = FramingError(reason)
        self._buffer.clear()

    def _object(self, raw: bytes, what: str) -> dict[str, Any]:
        """A JSON payload as a client would read it: UTF-8, JSON, an object."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            near = exc.object[max(exc.start - 20, 0) : exc.end + 20]
            raise FramingError(f"bytes that are not UTF-8 ({exc.reason} in {near!r})") from None
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError):
            # An object the body's end cut off is truncation; anything else is not JSON.
            cut = raw.lstrip().startswith(b"{")
            raise FramingError(f"{what} that is not JSON ({excerpt(raw)})", cut=cut) from None
        if not isinstance(payload, dict):
            raise FramingError(f"{what} that is not a JSON object ({excerpt(raw)})")
        return payload


class SSEFramer(_Framer):
    """Server-sent events: every line a comment or an SSE field, every `data:` payload
    `[DONE]` or a JSON object."""

    def feed(self, data: bytes) -> list[Event]:
        """The events `data` completes, in order; stops before a bad one (see `error`)."""
        if self.error is not None:
            return []
        data = self._lf(data)
        buffer = self._buffer
        if not buffer and data.endswith(b"\n\n"):
            return self._events(data)  # the usual chunk: whole events, nothing held
        # The buffer holds no blank line, so a new one ends at most one byte before `data`.
        scan_from = max(len(buffer) - 1, 0)
        buffer += data
        end = buffer.rfind(b"\n\n", scan_from)
        events: list[Event] = []
        if end >= 0:
            block = bytes(buffer[: end + 2])
            del buffer[: end + 2]
            events = self._events(block)
        self._check_size("the blank line that ends an SSE event")
        return events

    def close(self) -> list[Event]:
        """The body ended: a last event that lacks only its closing blank line is still
        read; one cut off mid-JSON is dropped (see the module docstring)."""
        tail = self._tail()
        if self.error is not None or not tail.strip():
            return []
        events = self._events(tail.rstrip(b"\n") + b"\n\n")
        if self.error is not None and self.error.cut:
            self.error = None
        return events

    def _events(self, block: bytes) -> list[Event]:
        """Split a block of whole events (ending with a blank line) and check each."""
        events: list[Event] = []
        try:
            if block.startswith(b"data: ") and block.find(b"\n") == len(block) - 2:
                # The usual chunk, a single one-line data event: checked without the loop.
                return [self._event(block, None, block[6:-2])]
            start = pos = 0
            name: str | None = None
            data: list[bytes] = []
            for line in block[:-1].split(b"\n"):
                end = pos + len(line) + 1
                if not line:  # a blank line ends the event
                    raw = block[start:end]
                    events.append(self._event(raw, name, b"\n".join(data) if data else None))
                    start, name, data = end, None, []
                elif line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                elif line.startswith(b"event:"):
                    name = _text(line[7:] if line[6:7] == b" " else line[6:])
                else:
                    name = self._field(line, data) or name
                pos = end
        except FramingError as exc:
            self.error = exc
            self._buffer.clear()
        return events

    def _field(self, line: bytes, data: list[bytes]) -> str | None:
        """A line other than `data:` or `event:`: a comment, another SSE field, or not SSE.
        Answers the event's name when the line gives it one (llama.cpp's `error:`)."""
        _text(line)  # what a client cannot decode, it cannot read
        if line.startswith(b":"):
            return None  # a comment: keep-alives look like this
        field, _, value = line.partition(b":")
        if field == b"data":  # `data` alone (no colon): a data line with an empty value
            data.append(b"")
        elif field == _ERROR_FIELD:
            data.append(value.strip())
            return "error"
        elif field not in _IGNORED_FIELDS:
            raise FramingError(f"a line that is not an SSE field ({excerpt(line)})")
        return None

    def _event(self, raw: bytes, name: str | None, payload: bytes | None) -> Event:
        if payload is None:
            return Event(raw, name, None)
        if payload.startswith(b"[DONE]"):  # as lenient as OpenAI's own SDK
            return Event(raw, name, None, True)
        if name == "error" and not payload.startswith(b"{"):
            # llama.cpp's `error:` line in plain words: the provider's message all the same.
            return Event(raw, name, {"error": {"message": _text(payload)}})
        return Event(raw, name, self._object(payload, "a data: payload"))


class NDJSONFramer(_Framer):
    """Newline-delimited JSON: every non-blank line a JSON object."""

    def feed(self, data: bytes) -> list[Event]:
        if self.error is not None:
            return []
        data = self._lf(data)
        buffer = self._buffer
        if b"\n" not in data:
            buffer += data
            self._check_size("a line end")
            return []
        buffer += data
        end = buffer.rfind(b"\n")
        block = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        events = self._lines(block.split(b"\n")[:-1])
        self._check_size("a line end")
        return events

    def close(self) -> list[Event]:
        tail = self._tail()
        if self.error is not None or not tail.strip():
            return []
        events = self._lines(tail.rstrip(b"\n").split(b"\n"))
        if self.error is not None and self.error.cut:
            self.error = None
        return events

    def _lines(self, lines: list[bytes]) -> list[Event]:
        events: list[Event] = []
        try:
            for line in lines:
                if line.strip():
                    events.append(Event(line + b"\n", None, self._object(line, "a line")))
        except FramingError as exc:
            self.error = exc
            self._buffer.clear()
        return events


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        near = exc.object[max(exc.start - 20, 0) : exc.end + 20]
        raise FramingError(f"bytes that are not UTF-8 ({exc.reason} in {near!r})") from None


def excerpt(raw: bytes, limit: int = _EXCERPT) -> str:
    text = raw[:limit].decode("utf-8", "replace")
    return repr(text + "…" if len(raw) > limit else text)
