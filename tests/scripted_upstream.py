"""A scriptable loopback upstream in any of the three wire formats the mux speaks to:
OpenAI-compatible (SSE), Anthropic Messages (SSE with named events) and Ollama's native
API (NDJSON).

Each `WireFormat` knows its format's discovery answer, a good answer (streamed and whole),
and its own ways of failing: error events or lines, error bodies, a malformed event, an
over-long one. A `ScriptedUpstream` serves discovery in its format and answers every
completion as scripted: a status (or no response head at all), a content type, body
pieces sent as separate HTTP chunks (or with a Content-Length), and how the answer ends
(cleanly, with good events until the mux hangs up, with a connection reset, or not at all
until the mux hangs up). Unscripted, it answers well, streamed or not as asked.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
from typing import Any

from jupyter_mux.framing import MAX_EVENT_BYTES

from .loopback import LoopbackHandler, LoopbackServer

MODEL = "scripted"

_DISCOVERY_CREATED = "2025-01-15T10:20:30Z"


def sse_chunk(content: str) -> bytes:
    """One OpenAI chat.completion.chunk event carrying `content`."""
    delta = {"choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}
    return b"data: " + json.dumps({"object": "chat.completion.chunk", **delta}).encode() + b"\n\n"


GOOD_STREAM = [sse_chunk("all "), sse_chunk("good"), b"data: [DONE]\n\n"]


def _named(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class WireFormat:
    """One upstream wire format: what its server says, well and badly."""

    name = ""
    provider_type = ""  # a provider type of the mux that speaks this format
    stream_type = ""  # the content type of its streams
    server_error = 500  # the 5xx it answers when it breaks
    error_code = "upstream_error"  # the code the mux gives its reported error
    paths: tuple[str, ...] = ()  # its completion paths

    def models(self, path: str) -> Any | None:
        """The discovery answer at `path` (None: not a discovery path)."""
        raise NotImplementedError

    def head(self) -> list[bytes]:
        """What a stream sends before its first content."""
        return []

    def text(self, text: str) -> bytes:
        """One content event."""
        raise NotImplementedError

    def end(self) -> list[bytes]:
        """What ends a whole stream (its terminator)."""
        raise NotImplementedError

    def stream(self, *texts: str) -> list[bytes]:
        return [*self.head(), *(self.text(t) for t in texts), *self.end()]

    def body(self, text: str) -> bytes:
        """A whole (non-streamed) answer."""
        raise NotImplementedError

    def error_event(self, message: str) -> bytes:
        """An error reported inside a stream (a server-side failure)."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> bytes:
        """An error answer's JSON body for `status` (200: reported inside a whole answer)."""
        raise NotImplementedError

    def malformed(self) -> bytes:
        """An event that breaks the framing's rules (its payload is not JSON)."""
        raise NotImplementedError

    def oversize(self) -> bytes:
        """An event that never ends within the framing's size limit."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.name


class OpenAIFormat(WireFormat):
    name = "openai"
    # Not vLLM's type, which also serves Responses and Messages: this upstream speaks chat
    # only, so other dialects reach it translated.
    provider_type = "openai"
    stream_type = "text/event-stream"
    server_error = 503
    paths = ("/v1/chat/completions", "/v1/completions")
    _types = {401: "invalid_request_error", 429: "rate_limit_error"}

    def models(self, path: str) -> Any | None:
        if path.startswith("/v1/models"):
            return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "t"}]}
        return None

    def text(self, text: str) -> bytes:
        return sse_chunk(text)

    def end(self) -> list[bytes]:
        usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
        last = {"object": "chat.completion.chunk", "choices": [], "usage": usage}
        return [b"data: " + json.dumps(last).encode() + b"\n\n", b"data: [DONE]\n\n"]

    def body(self, text: str) -> bytes:
        message = {"role": "assistant", "content": text}
        answer = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
        return json.dumps(answer).encode()

    def _error(self, status: int, message: str) -> dict[str, Any]:
        kind = self._types.get(status, "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def error_event(self, message: str) -> bytes:
        return b"data: " + json.dumps(self._error(500, message)).encode() + b"\n\n"

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps(self._error(status, message)).encode()

    def malformed(self) -> bytes:
        return b'data: {"choices": oops}\n\n'

    def oversize(self) -> bytes:
        return b'data: {"choices": "' + b"x" * (MAX_EVENT_BYTES + 1)


class AnthropicFormat(WireFormat):
    name = "anthropic"
    provider_type = "anthropic"
    stream_type = "text/event-stream"
    server_error = 529  # Anthropic's "overloaded"
    error_code = "overloaded_error"  # the type of Anthropic's error event, kept as the code
    paths = ("/v1/messages",)
    _types = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        500: "api_error",
        529: "overloaded_error",
    }

    def models(self, path: str) -> Any | None:
        if path.startswith("/v1/models"):
            entry = {
                "type": "model",
                "id": MODEL,
                "display_name": "Scripted",
                "created_at": _DISCOVERY_CREATED,
            }
            return {"data": [entry], "has_more": False, "first_id": MODEL, "last_id": MODEL}
        return None

    def head(self) -> list[bytes]:
        message = {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
        block = {"type": "text", "text": ""}
        return [
            _named("message_start", {"type": "message_start", "message": message}),
            _named(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": block},
            ),
        ]

    def text(self, text: str) -> bytes:
        delta = {"type": "text_delta", "text": text}
        return _named(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )

    def end(self) -> list[bytes]:
        delta = {"stop_reason": "end_turn", "stop_sequence": None}
        return [
            _named("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _named(
                "message_delta",
                {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 2}},
            ),
            _named("message_stop", {"type": "message_stop"}),
        ]

    def body(self, text: str) -> bytes:
        answer = {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 2},
        }
        return json.dumps(answer).encode()

    def _error(self, status: int, message: str) -> dict[str, Any]:
        kind = self._types.get(status, "overloaded_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def error_event(self, message: str) -> bytes:
        return _named("error", self._error(529, message))

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps({**self._error(status, message), "request_id": "req_scripted"}).encode()

    def malformed(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": oops}\n\n'

    def oversize(self) -> bytes:
        return b'event: content_block_delta\ndata: {"type": "' + b"x" * (MAX_EVENT_BYTES + 1)


class OllamaFormat(WireFormat):
    name = "ollama"
    provider_type = "ollama"
    stream_type = "application/x-ndjson"
    paths = ("/api/chat", "/api/generate")
    _created = "2025-02-11T09:21:00.385406455Z"

    def models(self, path: str) -> Any | None:
        if path == "/api/tags":
            details = {"format": "gguf", "family": "llama", "parameter_size": "1B"}
            entry = {"name": MODEL, "model": MODEL, "size": 1, "details": details}
            return {"models": [entry]}
        return None

    def _line(self, data: dict[str, Any]) -> bytes:
        return json.dumps({"model": MODEL, "created_at": self._created, **data}).encode() + b"\n"

    def text(self, text: str) -> bytes:
        return self._line({"message": {"role": "assistant", "content": text}, "done": False})

    def _done(self, content: str) -> dict[str, Any]:
        return {
            "message": {"role": "assistant", "content": content},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 3,
            "eval_count": 2,
        }

    def end(self) -> list[bytes]:
        return [self._line(self._done(""))]

    def body(self, text: str) -> bytes:
        return self._line(self._done(text)).rstrip(b"\n")

    def error_event(self, message: str) -> bytes:
        return json.dumps({"error": message}).encode() + b"\n"

    def error_body(self, status: int, message: str) -> bytes:
        return json.dumps({"error": message}).encode()

    def malformed(self) -> bytes:
        return b'{"message": oops}\n'

    def oversize(self) -> bytes:
        return b'{"message": "' + b"x" * (MAX_EVENT_BYTES + 1)


OPENAI = OpenAIFormat()
ANTHROPIC = AnthropicFormat()
OLLAMA = OllamaFormat()
FORMATS = (OPENAI, ANTHROPIC, OLLAMA)


class ScriptedUpstream(LoopbackServer):
    """An upstream in `wire`'s format whose every completion is answered as scripted.

    `pieces` (None: a good answer, streamed or not as asked) go out as separate HTTP chunks,
    or with `length` as the Content-Length (which may promise more than the pieces hold);
    `content_type` defaults to the format's stream type. `status` None sends no response
    head at all. Then the answer ends: cleanly, or with `endless` good events until the
    mux hangs up (which `hung_up` counts), with `reset` a connection reset, with `stall`
    nothing more until the mux hangs up. With `gate`, the ending waits until the test opens
    the gate (when its client has seen what came before, say). `encoding` is sent as the
    Content-Encoding (the pieces go out as given: the test encodes them). `requests` counts
    the completions asked for."""

    def __init__(
        self,
        pieces: list[bytes] | None = None,
        *,
        wire: WireFormat = OPENAI,
        content_type: str | None = None,
        endless: bool = False,
    ) -> None:
        self.wire = wire
        self.script(pieces, content_type=content_type, endless=endless)
        self.hung_up = 0
        self.requests = 0
        self._lock = threading.Lock()  # handlers run in threads of their own
        super().__init__()

    def script(
        self,
        pieces: list[bytes] | None = None,
        *,
        status: int | None = 200,
        content_type: str | None = None,
        length: int | None = None,
        endless: bool = False,
        reset: bool = False,
        stall: bool = False,
        gate: threading.Event | None = None,
        encoding: str | None = None,
    ) -> None:
        """Script every completion from now on (nothing given: answer well)."""
        self.pieces = pieces
        self.status = status
        self.content_type = content_type or self.wire.stream_type
        self.length = length
        self.endless = endless
        self.reset = reset
        self.stall = stall
        self.gate = gate
        self.encoding = encoding

    def _handler_class(self) -> type[LoopbackHandler]:
        upstream = self

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:
                models = upstream.wire.models(self.path)
                if models is None:
                    self._whole(404, "text/plain", b"404 page not found")
                else:
                    self._whole(200, "application/json", json.dumps(models).encode())

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with upstream._lock:
                    upstream.requests += 1
                if self.path.split("?")[0] not in upstream.wire.paths:
                    self._whole(404, "text/plain", b"404 page not found")
                    return
                u = upstream
                if u.pieces is None:
                    wire = u.wire
                    if json.loads(raw or b"{}").get("stream"):
                        self._respond(200, wire.stream_type, wire.stream("all ", "good"))
                    else:
                        self._whole(200, "application/json", wire.body("all good"))
                    return
                self._respond(
                    u.status,
                    u.content_type,
                    u.pieces,
                    u.length,
                    endless=u.endless,
                    reset=u.reset,
                    stall=u.stall,
                    gate=u.gate,
                    encoding=u.encoding,
                )

            def _whole(self, status: int, content_type: str, data: bytes) -> None:
                self._respond(status, content_type, [data], len(data))

            def _respond(
                self,
                status: int | None,
                content_type: str,
                pieces: list[bytes],
                length: int | None = None,
                *,
                endless: bool = False,
                reset: bool = False,
                stall: bool = False,
                gate: threading.Event | None = None,
                encoding: str | None = None,
            ) -> None:
                try:
                    if status is not None:
                        self.send_response(status)
                        self.send_header("Content-Type", content_type)
                        if encoding is not None:
                            self.send_header("Content-Encoding", encoding)
                        if length is None:
                            self.send_header("Transfer-Encoding", "chunked")
                        else:
                            self.send_header("Content-Length", str(length))
                        self.end_headers()
                        self.wfile.flush()
                    chunked = status is not None and length is None
                    for piece in pieces:
                        self._write(piece, chunked)
                    # Bounded, so that a mux that never hangs up fails the test, not hangs it.
                    for _ in range(3000 if endless else 0):
                        self._write(upstream.wire.text("more"), chunked)
                        time.sleep(0.01)
                    # Bounded, so that a test that never opens the gate fails, not hangs.
                    if gate is not None and not gate.wait(60):
                        raise RuntimeError("the gate was never opened")
                    if reset:
                        self._reset()
                    elif stall:
                        self._wait_for_hang_up()
                    elif chunked:
                        self._write(b"", chunked)
                except (BrokenPipeError, ConnectionResetError):
                    with upstream._lock:
                        upstream.hung_up += 1
                    self.close_connection = True

            def _write(self, data: bytes, chunked: bool) -> None:
                if chunked:
                    data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
                self.wfile.write(data)
                self.wfile.flush()

            def _reset(self) -> None:
                """Die the hard way: an RST, not an orderly close."""
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.request.close()
                self.close_connection = True

            def _wait_for_hang_up(self) -> None:
                """Send nothing more; return when the mux closes the connection (bounded,
                so that a mux that never times out fails the test, not hangs it)."""
                self.request.settimeout(60)
                try:
                    while self.request.recv(4096):
                        pass
                except OSError:
                    pass
                with upstream._lock:
                    upstream.hung_up += 1
                self.close_connection = True

        return Handler


class Unanswered:
    """A loopback address whose connects never complete: a listener with a full accept
    queue (never accepted), so the kernel drops every new SYN. A connect timeout without
    timing games."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self._fillers: list[socket.socket] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Unanswered:
        address = self._listener.getsockname()
        # Connect until one does not complete: the queue is full from then on. (On loopback a
        # connect that has room completes at once; the wait only bounds the last one.)
        for _ in range(64):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(address)
            self._fillers.append(filler)
            _, writable, _ = select.select([], [filler], [], 0.5)
            if not writable:
                break
        else:
            raise RuntimeError("the accept queue never filled")
        return self

    def __exit__(self, *exc: object) -> None:
        for s in (*self._fillers, self._listener):
            s.close()


class Refusing:
    """A loopback address where nothing listens (the port held, so that nothing else
    takes it): every connect is refused."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def __enter__(self) -> Refusing:
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
