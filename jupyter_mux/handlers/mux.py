"""The OpenAI-compatible face (API.md section 1): pick the workspace, hand the request to the
proxy, and be the sink it writes the answer into."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..errors import MuxError
from ..openai_request import parse_request
from ..routing import Target, WorkspaceRoute
from .base import BaseHandler

PINNED = r"/mux(?:/w/(?P<workspace>[^/]+))?/v1"


class OpenAIHandler(BaseHandler):
    """Errors in OpenAI's `{"error": {...}}` shape, which the SDKs turn into exceptions."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(exc, MuxError):
            if isinstance(exc, web.HTTPError):
                message = exc.log_message % exc.args if exc.log_message else self._reason
            else:
                message = "Internal error in jupyter-mux; see the server log."
            exc = MuxError(message, status=status_code, code=None)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(exc.openai_body()))

    def route(self, pinned: str | None) -> WorkspaceRoute:
        workspace = self.service.routing.workspace(
            pinned or self.request.headers.get("X-Mux-Workspace")
        )
        self.set_header("X-Mux-Workspace", workspace.name)
        return workspace


class CompletionsHandler(OpenAIHandler):
    _relaying: asyncio.Task | None = None
    _streaming = False

    @web.authenticated
    @authorized
    async def post(self, workspace: str | None, route: str) -> None:
        workspace_route = self.route(workspace)
        request = parse_request(route, self.request.body)
        rule = workspace_route.select(request, self.request.headers.get("X-Mux-File"))
        self._streaming = request.stream
        # The relay runs in this handler's own task, not a new one: a task per request costs
        # an extra event-loop turn, measurable at load. A hang-up cancels this task while it
        # waits on the upstream (see on_connection_close).
        self._relaying = asyncio.current_task()
        try:
            await self.proxy.relay(rule, request, sink=self, workspace=workspace_route.name)
        except StreamClosedError:  # a write found the client gone
            self.log.debug("jupyter-mux: client went away; upstream request closed")
            return
        except asyncio.CancelledError:
            if self._relaying is not None:  # not our cancellation (server shutting down)
                raise
            self.log.debug("jupyter-mux: client went away; upstream request cancelled")
            return
        finally:
            self._relaying = None
        self.finish()

    def on_connection_close(self) -> None:
        """A client that hangs up must not leave the model generating for nobody."""
        task, self._relaying = self._relaying, None
        if task is not None:
            task.cancel()
        super().on_connection_close()

    # The proxy's Sink.
    def begin(self, status: int, content_type: str, target: Target, attempts: int) -> None:
        self.set_header("X-Mux-Provider", target.provider)
        self.set_header("X-Mux-Model", target.model)
        self.set_header("X-Mux-Attempts", str(attempts))
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        if self._streaming:
            self.set_header("Cache-Control", "no-cache")
            self.set_header("X-Accel-Buffering", "no")
            # Tornado keeps Nagle's algorithm on until a response ends, so a chunk written
            # while the previous one is unacknowledged waits for the client's delayed ACK
            # (40 ms on Linux): streams stalled that long early on (bench/README.md).
            # Tokens go out as they come; Tornado turns Nagle back on when the response
            # finishes.
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                stream.set_nodelay(True)

    async def send(self, chunk: bytes) -> None:
        self.write(chunk)
        if self._streaming:
            await self.flush()


class ModelsHandler(OpenAIHandler):
    @web.authenticated
    @authorized
    async def get(self, workspace: str | None) -> None:
        targets = self.route(workspace).models()
        self.write_json({"object": "list", "data": [model_entry(t) for t in targets]})


def model_entry(target: Target) -> dict[str, Any]:
    return {"id": target.model, "object": "model", "created": 0, "owned_by": target.provider}


HANDLERS = [
    (PINNED + r"/(?P<route>chat/completions|completions)", CompletionsHandler),
    (PINNED + r"/models", ModelsHandler),
]
