"""The common part of the tests' hand-written upstreams: a threaded HTTP/1.1 server on
127.0.0.1 that, when stopped, dies like a crashed server (listener and kept-alive
connections all closed), so a test can watch the mux meet a dead provider."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, quiet, and known to its `LoopbackServer`, which cuts its
    connection when stopped."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.server.loopback.track(self.request)  # type: ignore[attr-defined]
        super().setup()

    def log_message(self, *args: Any) -> None:
        pass


class LoopbackServer:
    def __init__(self) -> None:
        self._connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.loopback = self  # type: ignore[attr-defined]
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handler_class(self) -> type[LoopbackHandler]:
        raise NotImplementedError

    def track(self, connection: socket.socket) -> None:
        self._connections.append(connection)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
