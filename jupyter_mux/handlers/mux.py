"""The mux's faces (API.md sections 1 and 4): every client dialect's routes. Each handler
authenticates, decodes the request in its dialect, picks the workspace, hands the request
to the proxy, and is the sink the proxy writes the answer into. Failures are answered in
the dialect's own error shape, 401 included; any other path under `/mux/` is a JSON 404."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from tornado.iostream import StreamClosedError

from ..dialects.decode import decode, models_answer
from ..dialects.responses.memory import remember
from ..dialects.table import DIALECTS
from ..errors import Forbidden, MuxError, NotFound
from ..openai_request import MuxRequest, json_object, parse_request
from ..proxy import Exchange
from ..routing import Target, WorkspaceRoute
from ..store import KeyRecord
from .base import KEY_HINT_KEY, PROXY_KEY, SERVICE_KEY, TENANTS_KEY, BaseHandler

PINNED = r"/mux(?:/w/(?P<workspace>[^/]+))?/v1"
# Anthropic's clients send their API version with every request.
ANTHROPIC_VERSION = "anthropic-version"


class _KeyIdentity(IdentityProvider):
    """Who a request made with a mux key is: the key, which the handler has already found.
    Jupyter's own provider (or JupyterHub's) never sees the key, so it can never take it
    for a Jupyter token; and like a token request, it needs no XSRF cookie."""

    def get_user(self, handler: Any) -> User | None:
        return getattr(handler, "_jupyter_current_user", None)

    def is_token_authenticated(self, handler: Any) -> bool:
        return True


class _KeyAuthorizer(Authorizer):
    """A mux key is authorized for the mux routes by being valid (they are the only routes
    that consult it), whatever authorizer the server has for its users."""

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        return True


@functools.cache
def key_auth() -> tuple[_KeyIdentity, _KeyAuthorizer]:
    identity = _KeyIdentity(token="")
    return identity, _KeyAuthorizer(identity_provider=identity)


class MuxHandler(BaseHandler):
    """Errors in the dialect's shape (OpenAI's `{"error": {...}}` unless the route or the
    request says Anthropic), which the SDKs turn into their own exceptions.

    A mux key (API.md section 5) authenticates these routes and no other: it is recognised
    here, from the service's in-memory view, before Jupyter's own auth runs."""

    dialect = "chat"
    mux_key: KeyRecord | None = None

    async def prepare(self) -> None:
        # Anthropic's clients send their key as `x-api-key`; it is the same credential.
        headers = self.request.headers
        if "Authorization" not in headers and headers.get("x-api-key"):
            headers["Authorization"] = f"Bearer {headers['x-api-key']}"
        tenants = self.settings.get(TENANTS_KEY)
        if tenants is None:
            self._take_mux_key()
        else:
            await self._take_tenants_mux_key(tenants)
        try:
            await super().prepare()
        except web.HTTPError as exc:
            if exc.status_code != 403 or self.current_user:
                raise
        if not self.current_user:
            # Jupyter answers a missing or wrong key with 403 (about XSRF, for a POST): SDKs
            # raise that as a permission problem. It is an authentication one.
            raise MuxError(
                self.settings.get(KEY_HINT_KEY)
                or "Missing or wrong API key: use the Jupyter server's token (or a mux key) "
                "as the API key.",
                status=401,
                code="invalid_api_key",
            )

    def _take_mux_key(self) -> None:
        scheme, _, secret = self.request.headers.get("Authorization", "").partition(" ")
        service = self.settings.get(SERVICE_KEY)
        if service is None or scheme.lower() != "bearer":
            return
        key = service.key_for(secret.strip())  # an expired key: a 401 saying so
        if key is not None:
            self.mux_key = key
            self._jupyter_current_user = User(username=f"mux-key-{key.id}", name=key.name)
            self._token_authenticated = True

    async def _take_tenants_mux_key(self, tenants: Any) -> None:
        """The Hub service: a mux key belongs to one of many users, whose tenant serves it."""
        scheme, _, secret = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return
        found = await tenants.for_key(secret.strip())
        if found is not None:
            self._tenant, self.mux_key, self._jupyter_current_user = found
            self._token_authenticated = True

    @property
    def identity_provider(self) -> IdentityProvider:
        return key_auth()[0] if self.mux_key is not None else super().identity_provider

    @property
    def authorizer(self) -> Authorizer:
        return key_auth()[1] if self.mux_key is not None else super().authorizer

    def error_dialect(self) -> str:
        if self.dialect == "messages" or ANTHROPIC_VERSION in self.request.headers:
            return "messages"
        return self.dialect

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if not isinstance(exc, MuxError):
            if isinstance(exc, web.HTTPError):
                message = exc.log_message % exc.args if exc.log_message else self._reason
            else:
                message = "Internal error in jupyter-mux; see the server log."
            exc = MuxError(message, status=status_code, code=None)
        if exc.retry_after is not None:
            self.set_header("Retry-After", str(exc.retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(DIALECTS[self.error_dialect()].error_body(exc)))

    def route(self, pinned: str | None) -> WorkspaceRoute:
        """The workspace: the path's, else the header's, else the active one; a key pinned
        to a workspace overrides the header and the active one, and refuses another path."""
        key = self.mux_key
        if key is not None and key.workspace is not None:
            if pinned is not None and pinned != key.workspace:
                raise Forbidden(
                    f"The mux key '{key.name}' is pinned to workspace '{key.workspace}' and "
                    f"cannot be used for workspace '{pinned}'.",
                    code="workspace_forbidden",
                )
            pinned = key.workspace
        workspace = self.service.routing.workspace(
            pinned or self.request.headers.get("X-Mux-Workspace")
        )
        self.set_header("X-Mux-Workspace", workspace.name)
        return workspace


class RelayHandler(MuxHandler):
    """POST a request in one dialect; the answer streams back through `begin`/`send`."""

    _relaying: asyncio.Task | None = None
    _streaming = False

    def decode(self, route: str | None) -> MuxRequest:
        return decode(self.dialect, self.request.body, self.request.headers, self.responses)

    @web.authenticated
    @authorized
    async def post(self, workspace: str | None, route: str | None = None) -> None:
        try:
            workspace_route = self.route(workspace)
            if self.mux_key is not None:
                self.service.check_budget(self.mux_key)
            request = self.decode(route)
            rule = workspace_route.select(request, self.request.headers.get("X-Mux-File"))
            hold = ""
            if self._tenant is not None:  # the Hub service: its admin's policy
                rule, hold = await self._tenant.admit(
                    self.current_user, rule, request, len(self.request.body)
                )
        except MuxError as exc:
            self.refused(workspace, exc)
            raise
        self._streaming = request.stream
        # The relay runs in this handler's own task, not a new one: a task per request costs
        # an extra event-loop turn, measurable at load. A hang-up cancels this task while it
        # waits on the upstream (see on_connection_close).
        self._relaying = asyncio.current_task()
        try:
            served = await self.proxy.relay(
                rule,
                request,
                sink=self,
                workspace=workspace_route.name,
                key=self.mux_key.id if self.mux_key is not None else "",
                hold=hold,
            )
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
            if self._tenant is not None:
                self._tenant.done()
        self.finish()
        self.served(request, served)

    def refused(self, workspace: str | None, exc: MuxError) -> None:
        """A refusal (bad body, unknown workspace, no usable model, over budget) is a failed
        request of the workspace's usage too; a mux that could not start records nothing."""
        proxy = self.settings.get(PROXY_KEY)
        if proxy is None:
            return
        asked = workspace or self.request.headers.get("X-Mux-Workspace")
        key = self.mux_key.id if self.mux_key is not None else ""
        proxy.refused(asked or self.service.routing.active, exc.status, key)

    def served(self, request: MuxRequest, exchange: Exchange) -> None:
        """What a dialect keeps of an answer once it went out (see ResponsesHandler)."""

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
        if self._streaming and self._headers_written and not self._transforms:
            # A stream already begun: the chunk straight to the connection, which is what
            # write + flush come to here without the buffer and join of each. The future is
            # done at once when the socket took the chunk; awaited, it holds the relay back
            # (and so the upstream) while the client reads slower than the model writes.
            await self.request.connection.write(chunk)  # type: ignore[union-attr]
            return
        self.write(chunk)
        if self._streaming:
            await self.flush()


class CompletionsHandler(RelayHandler):
    def decode(self, route: str | None) -> MuxRequest:
        assert route is not None
        return parse_request(route, self.request.body)


class ResponsesHandler(RelayHandler):
    dialect = "responses"

    def served(self, request: MuxRequest, exchange: Exchange) -> None:
        remember(self.responses, request, exchange)


class MessagesHandler(RelayHandler):
    dialect = "messages"


class EmbeddingsHandler(RelayHandler):
    dialect = "embeddings"


class CountTokensHandler(MuxHandler):
    """Anthropic's token count: the serving upstream's own where it has one, else the
    estimate `dialects.messages.count_tokens` describes."""

    dialect = "messages"

    @web.authenticated
    @authorized
    async def post(self, workspace: str | None) -> None:
        route = self.route(workspace)
        request = MuxRequest("messages", json_object(self.request.body), False)
        rule = route.select(request, self.request.headers.get("X-Mux-File"))
        self.write_json(await self.proxy.count_tokens(rule, request))


class StoredResponseHandler(MuxHandler):
    """`GET`/`DELETE /responses/{id}`: responses kept for `previous_response_id`."""

    dialect = "responses"

    @web.authenticated
    @authorized
    async def get(self, workspace: str | None, response_id: str) -> None:
        self.write_json(self.responses.get(response_id)[0])

    @web.authenticated
    @authorized
    async def delete(self, workspace: str | None, response_id: str) -> None:
        if not self.responses.delete(response_id):
            raise NotFound(f"No stored response with id '{response_id}'.", code="not_found")
        self.write_json({"id": response_id, "object": "response", "deleted": True})


class ModelsHandler(MuxHandler):
    """The models a client may name: OpenAI's list, or Anthropic's when the request carries
    `anthropic-version`. A workspace serves whatever `model` a client sends, so any id is
    found, owned by the provider that would serve it."""

    @web.authenticated
    @authorized
    async def get(self, workspace: str | None, model: str | None = None) -> None:
        route = self.route(workspace)
        if self._tenant is not None:
            route = self._tenant.visible(self.current_user, route)
        anthropic = ANTHROPIC_VERSION in self.request.headers
        self.write_json(models_answer(route, model, anthropic=anthropic))


class NotFoundHandler(MuxHandler):
    """Any other path under `/mux/`: a JSON 404 in the dialect's shape, never Jupyter's HTML
    page (which would carry the token into the client's error)."""

    def error_dialect(self) -> str:
        messages = "/messages" in self.request.path
        return "messages" if messages else super().error_dialect()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MuxError) and "/mux/api/" in self.request.path:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.jupyter_body()))  # the management API's shape
            return
        super().write_error(status_code, **kwargs)

    async def prepare(self) -> None:
        await super().prepare()
        raise NotFound(
            f"No such route: {self.request.method} {self.request.path}. The mux serves "
            "/mux/v1/ (chat/completions, completions, responses, messages, embeddings, "
            "models) and /mux/api/.",
            code="unknown_route",
        )


HANDLERS = [
    (PINNED + r"/(?P<route>chat/completions|completions)", CompletionsHandler),
    (PINNED + r"/responses", ResponsesHandler),
    (PINNED + r"/responses/(?P<response_id>[^/]+)", StoredResponseHandler),
    (PINNED + r"/messages", MessagesHandler),
    (PINNED + r"/messages/count_tokens", CountTokensHandler),
    (PINNED + r"/embeddings", EmbeddingsHandler),
    (PINNED + r"/models", ModelsHandler),
    (PINNED + r"/models/(?P<model>.+)", ModelsHandler),
]

# Last of all the extension's routes (see handlers/__init__.py).
FALLBACK = [(r"/mux(?:/.*)?", NotFoundHandler)]
