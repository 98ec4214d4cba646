"""Reading an OpenAI-style SSE stream as it passes through: cut into whole events, each
checked before it goes on.

An OpenAI-compatible provider's stream is relayed without translation, but not blindly: a
client's SDK that meets a line it cannot parse fails with an error that names neither the
provider nor the cause (or, worse, skips text silently). So every event is read as the
client would read it, and the first one that a client could not read ends the stream with
one clear error instead of being relayed.

The reader only ever holds back an event that is not complete yet (it could not be checked
otherwise); every complete event goes on with the chunk that completed it.
"""

from __future__ import annotations

import json
from typing import Any

# llama.cpp's server reports a failure mid-stream as an `error: {json}` line, not as a data
# event; it is the provider's own message, so it is passed on as such (see ProviderErrorEvent).
_ERROR_FIELD = b"error"
# An event still has no closing blank line after this many bytes: the upstream is not
# speaking SSE (or never will finish the event), and holding more would only eat memory.
MAX_EVENT_BYTES = 1024 * 1024

# The SSE fields (WHATWG HTML, "Server-sent events"). The standard says a client ignores
# any other field name, but an OpenAI-compatible provider never sends one: such a line is
# what an HTML error page or a plain-text body looks like when read as SSE.
_OTHER_FIELDS = frozenset({b"event", b"id", b"retry"})
_EXCERPT = 80


class MalformedSSE(ValueError):
    """What made the stream unreadable, worded for the end of the client's error message.

    `cut` marks a last event that the stream's end interrupted (its JSON incomplete): that
    is a truncated stream, not a malformed one."""

    def __init__(self, reason: str, *, cut: bool = False) -> None:
        super().__init__(reason)
        self.cut = cut


class ProviderErrorEvent(MalformedSSE):
    """The provider ended the stream with an `error:` line: not garbage, but its own report
    of a failure, which the client should see in the provider's words."""

    def __init__(self, raw: bytes) -> None:
        super().__init__("an error event")
        self.raw = raw


# One event: its bytes as relayed (up to and including its closing blank line), and its
# `data:` payload parsed, or None when it has none (a comment, `[DONE]`). A plain tuple:
# one is made per chunk of every stream.
Event = tuple[bytes, dict[str, Any] | None]


class SSEReader:
    """Cuts a byte stream into whole SSE events and checks each: every line a comment or an
    SSE field, all UTF-8, every `data:` payload `[DONE]` or a JSON object.

    Fed chunks cut anywhere (mid-line, mid-CRLF, mid-character). Line endings come out as
    LF: CRLF and lone CR are legal SSE, and one framing lets events be cut alike. After the
    first bad event `error` is set and nothing more is read.
    """

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self.done = False  # saw `data: [DONE]`: the stream ended as it should
        self.error: MalformedSSE | None = None
        self._max_event = max_event
        self._buffer = bytearray()  # the event not complete yet; never holds a blank line
        self._cr = False  # the last chunk ended with a CR that may be half of a CRLF

    def feed(self, data: bytes) -> list[Event]:
        """The events `data` completes, in order; stops before a bad one (see `error`)."""
        if self.error is not None:
            return []
        if self._cr:
            data, self._cr = b"\r" + data, False
        if b"\r" in data:
            if data.endswith(b"\r"):
                data, self._cr = data[:-1], True
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
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
        if self.error is None and len(buffer) > self._max_event:
            self._fail(
                f"{len(buffer)} bytes without the blank line that ends an SSE event "
                f"(the limit is {self._max_event})"
            )
        return events

    def close(self) -> list[Event]:
        """The stream ended: a last event that lacks only its closing blank line is still
        read, and completed with one. A last event cut off mid-JSON is dropped (the stream
        is then truncated, not malformed: `done` stays false)."""
        tail = bytes(self._buffer) + (b"\r" if self._cr else b"")
        self._buffer.clear()
        self._cr = False
        if self.error is not None or not tail.strip():
            return []
        events = self._events(tail.replace(b"\r", b"\n").rstrip(b"\n") + b"\n\n")
        if self.error is not None and self.error.cut:
            self.error = None
        return events

    def _events(self, block: bytes) -> list[Event]:
        """Split a block of whole events (ending with a blank line) and check each."""
        events: list[Event] = []
        start = pos = 0
        data: list[bytes] = []
        try:
            if block.startswith(b"data: ") and block.find(b"\n") == len(block) - 2:
                # The usual chunk, a single one-line data event: checked without the loop.
                return [(block, self._payload(block[6:-2]))]
            for line in block[:-1].split(b"\n"):
                end = pos + len(line) + 1
                if not line:  # a blank line ends the event
                    payload = self._payload(b"\n".join(data)) if data else None
                    events.append((block[start:end], payload))
                    start, data = end, []
                elif line.startswith(b"data:"):
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                else:
                    self._field(line, data)
                pos = end
        except MalformedSSE as exc:
            self.error = exc
            self._buffer.clear()
        except UnicodeDecodeError as exc:
            near = exc.object[max(exc.start - 20, 0) : exc.end + 20]
            self._fail(f"bytes that are not UTF-8 ({exc.reason} in {near!r})")
        return events

    def _field(self, line: bytes, data: list[bytes]) -> None:
        """A line other than `data: ...`: a comment, another SSE field, or not SSE at all."""
        line.decode("utf-8")  # what a client cannot decode, it cannot read
        if line.startswith(b":"):
            return  # a comment: keep-alives look like this
        name = line.partition(b":")[0]
        if name == b"data":  # `data` alone (no colon): a data line with an empty value
            data.append(b"")
        elif name == _ERROR_FIELD:
            raise ProviderErrorEvent(line.partition(b":")[2].strip())
        elif name not in _OTHER_FIELDS:
            raise MalformedSSE(f"a line that is not an SSE field ({_excerpt(line)})")

    def _payload(self, raw: bytes) -> dict[str, Any] | None:
        """A `data:` payload (its lines joined) as a client would read it."""
        if raw.startswith(b"[DONE]"):  # as lenient as OpenAI's own SDK
            self.done = True
            return None
        text = raw.decode("utf-8")  # a UnicodeDecodeError is reported by `_events`
        try:
            payload = json.loads(text)
        except ValueError:
            raise MalformedSSE(
                f"a data: payload that is not JSON ({_excerpt(raw)})", cut=True
            ) from None
        if not isinstance(payload, dict):
            raise MalformedSSE(f"a data: payload that is not a JSON object ({_excerpt(raw)})")
        return payload

    def _fail(self, reason: str) -> None:
        self.error = MalformedSSE(reason)
        self._buffer.clear()


def _excerpt(raw: bytes) -> str:
    text = raw[:_EXCERPT].decode("utf-8", "replace")
    return repr(text + "…" if len(raw) > _EXCERPT else text)
