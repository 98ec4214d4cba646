"""A small OpenAI-format upstream that records what it receives.

llama.cpp cannot tell a test which headers reached it, or whether the mux hung up on it
mid-stream; this server can. It speaks just enough of the OpenAI wire format (model list,
chat completions as JSON or SSE chunks, the usual error body) for the mux to treat it as
any OpenAI-compatible provider. It runs on 127.0.0.1 in a thread of its own.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from typing import Any

from .loopback import LoopbackHandler, LoopbackServer

# OpenRouter's way of publishing prices: USD per token, as strings.
PRICING = {"prompt": "0.000001", "completion": "0.000002"}


class RecordingUpstream(LoopbackServer):
    def __init__(
        self,
        *,
        chunks: int = 3,
        chunk_delay: float = 0.0,
        status: int = 200,
        reset_after: int | None = None,
        truncate: bool = False,
        reset_on_request: bool = False,
        set_cookie: bool = False,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        self.disconnects = threading.Event()
        self.hung_up = 0  # streams the client (the mux) hung up on
        self.streaming = 0  # streams in progress now
        self.peak = 0  # the most streams it served at once
        self.reset_after = reset_after  # chunks sent before an abrupt connection reset
        # Set by a test once its client has read what came before the reset: an RST that
        # overtook those chunks would discard them unread (a failure before the first byte).
        self.reset_now = threading.Event()
        self.truncate = truncate  # end streams cleanly but without `data: [DONE]`
        # Read each request whole, then reset the connection before answering anything.
        self.reset_on_request = reset_on_request
        self.set_cookie = set_cookie  # every answer sets a cookie, as a session-keeping proxy
        self._lock = threading.Lock()
        self.chunks = chunks
        self.chunk_delay = chunk_delay
        self.status = status
        super().__init__()

    def _handler_class(self) -> type[LoopbackHandler]:
        upstream = self

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:
                upstream.requests.append({"path": self.path, "headers": dict(self.headers)})
                self._json(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {
                                "id": "rec-model",
                                "object": "model",
                                "owned_by": "test",
                                "pricing": PRICING,
                            }
                        ],
                    },
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                upstream.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if upstream.reset_on_request:
                    self._reset()
                    return
                if upstream.status >= 400:
                    self._json(
                        upstream.status,
                        {"error": {"message": "recorded failure", "type": "server_error"}},
                    )
                    return
                if not body.get("stream"):
                    self._json(200, _completion(body["model"]))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self._cookie()
                self.end_headers()
                with upstream._lock:
                    upstream.streaming += 1
                    upstream.peak = max(upstream.peak, upstream.streaming)
                try:
                    for i in range(upstream.chunks):
                        if i == upstream.reset_after:
                            upstream.reset_now.wait(30)
                            self._reset()
                            return
                        self._chunk(
                            b"data: " + json.dumps(_chunk(body["model"], i)).encode() + b"\n\n"
                        )
                        time.sleep(upstream.chunk_delay)
                    if (body.get("stream_options") or {}).get("include_usage"):
                        self._chunk(
                            b"data: " + json.dumps(_usage_chunk(body["model"])).encode() + b"\n\n"
                        )
                    if not upstream.truncate:
                        self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                except (BrokenPipeError, ConnectionResetError):
                    with upstream._lock:
                        upstream.hung_up += 1
                    upstream.disconnects.set()
                finally:
                    with upstream._lock:
                        upstream.streaming -= 1

            def _reset(self) -> None:
                """Die mid-stream the hard way: an RST, not an orderly close."""
                self.request.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.request.close()
                self.close_connection = True

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self._cookie()
                self.end_headers()
                self.wfile.write(data)

            def _cookie(self) -> None:
                if upstream.set_cookie:
                    self.send_header("Set-Cookie", "upstream-session=someone-elses; Path=/")

        return Handler


def _completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-rec",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "recorded"},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(model: str, i: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-rec",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": {"content": f"part{i} "}, "finish_reason": None}],
    }


def _usage_chunk(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-rec",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
