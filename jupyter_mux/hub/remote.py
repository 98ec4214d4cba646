"""Remote mode of a user's server (`c.MuxApp.hub_service`): every `<server>/mux/...` route
is the same request made to the Hub service as the server's user, so the lab panel, the
notebook client, the magics and any SDK keep their URL and key while the server holds no
provider key, database or encryption key.

The server authenticates the request as always (its Jupyter token, or the browser's cookie
and XSRF token), then sends it on with its own Hub API token (`JUPYTERHUB_API_TOKEN`, whose
owner is the server's user) in place of the client's credentials, and streams the answer
back as it comes. A mux key (API section 5) is the one credential passed on as the client
sent it, on the mux routes only: the service checks it. It needs no `jupyterhub` package.
"""

from __future__ import annotations

import asyncio
import logging
import os
from urllib.parse import urlencode

import httpx
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from tornado.iostream import StreamClosedError

from ..errors import MuxError
from ..handlers.base import AUTH_ARGUMENTS, STARTUP_ERROR_KEY
from ..handlers.mux import NotFoundHandler, key_auth
from ..proxy import Answer, Upstreams
from ..service.keys import KEY_PREFIX

REMOTE_KEY = "jupyter_mux_remote"
# What a client says about its request besides its key; everything else stays here.
FORWARDED_REQUEST_HEADERS = (
    "Content-Type",
    "Accept",
    "anthropic-version",
    "anthropic-beta",
    "OpenAI-Beta",
    "X-Mux-Workspace",
    "X-Mux-File",
)
FORWARDED_ANSWER_HEADERS = (
    "Content-Type",
    "Cache-Control",
    "Content-Disposition",
    "Retry-After",
    "X-Mux-Workspace",
    "X-Mux-Provider",
    "X-Mux-Model",
    "X-Mux-Attempts",
)


class Remote:
    """Where the Hub service is and how this server speaks to it."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int = 100,
        log: logging.Logger,
    ) -> None:
        self.name = name
        self._url = url.rstrip("/") + "/" if url else ""
        self.token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        self.api_url = os.environ.get("JUPYTERHUB_API_URL", "").rstrip("/")
        self.log = log
        # The mux's own pool, as for providers: the forwarding hop is on every request, and
        # httpx's own transport and cookie jar cost it about twice as much
        # (bench/README.md, remote mode). One service: one host.
        self.upstreams = Upstreams(connect_timeout, read_timeout, 0, max_connections)
        self.client = self.upstreams.client  # the cold path: finding the service
        self._lookup: asyncio.Task[str] | None = None

    def check(self) -> str | None:
        """Why this server cannot work in remote mode, if it cannot."""
        if not self.token:
            return (
                f"jupyter-mux: c.MuxApp.hub_service is '{self.name}' but this server has no "
                "JUPYTERHUB_API_TOKEN: remote mode works in servers the Hub starts."
            )
        if not self._url and not self.api_url:
            return (
                "jupyter-mux: remote mode needs JUPYTERHUB_API_URL (set by the Hub) or "
                "c.MuxApp.hub_service_url."
            )
        return None

    async def url(self) -> str:
        """The service's base URL (its address and prefix): configured, or read once from
        the Hub's API (the server's token needs `read:services!service=<name>`)."""
        if self._url:
            return self._url
        if self._lookup is None or (self._lookup.done() and self._lookup.exception()):
            self._lookup = asyncio.ensure_future(self._read_service())
        self._url = await asyncio.shield(self._lookup)
        return self._url

    async def _read_service(self) -> str:
        try:
            answer = await self.client.get(
                f"{self.api_url}/services/{self.name}",
                headers={"Authorization": f"token {self.token}"},
            )
        except httpx.HTTPError as exc:
            raise self.unreachable(f"the Hub's API did not answer ({exc!r})") from None
        model = answer.json() if answer.status_code == 200 else {}
        if not model.get("url") or not model.get("prefix"):
            raise self.unreachable(
                f"the Hub's API did not say where it is ({answer.status_code}); give this "
                f"server's token read:services!service={self.name} (the Hub's `server` "
                "role) or set c.MuxApp.hub_service_url"
            )
        return model["url"].rstrip("/") + "/" + model["prefix"].strip("/") + "/"

    def unreachable(self, why: str) -> MuxError:
        return MuxError(
            f"The mux service '{self.name}' of this JupyterHub cannot be used: {why}.",
            status=502,
            code="hub_service_unavailable",
        )

    async def aclose(self) -> None:
        await self.upstreams.aclose()


class ForwardHandler(NotFoundHandler):
    """Every route under `/mux/`, errors in the shape the local route would use (a
    dialect's, or Jupyter's for `/mux/api/`)."""

    _forwarding: asyncio.Task | None = None
    # A mux key the client sent (API section 5): the service's to check, so it goes on as
    # the client's own credential, on the mux routes only (never the management API).
    _client_key: str | None = None

    async def prepare(self) -> None:
        headers = self.request.headers
        scheme, _, secret = headers.get("Authorization", "").partition(" ")
        secret = secret.strip() if scheme.lower() == "bearer" else headers.get("x-api-key", "")
        if secret.startswith(KEY_PREFIX) and not self.path_kwargs["path"].startswith("api/"):
            self._client_key = secret
            self._jupyter_current_user = User(username="mux-key", name="a mux key")
            self._token_authenticated = True
        # The mux routes' authentication and 401, without NotFoundHandler's 404: its
        # error shapes are what this class takes from it.
        await super(NotFoundHandler, self).prepare()

    @property
    def identity_provider(self) -> IdentityProvider:
        return key_auth()[0] if self._client_key else super().identity_provider

    @property
    def authorizer(self) -> Authorizer:
        return key_auth()[1] if self._client_key else super().authorizer

    @property
    def remote(self) -> Remote:
        return self.settings[REMOTE_KEY]

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        await self.forward(path)

    @web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self.forward(path)

    async def forward(self, path: str) -> None:
        error = self.settings.get(STARTUP_ERROR_KEY)
        if error:
            raise MuxError(error, status=503, code="mux_unavailable")
        remote = self.remote
        query = [
            (k, v.decode())
            for k, values in self.request.query_arguments.items()
            if k not in AUTH_ARGUMENTS
            for v in values
        ]
        url = await remote.url() + "mux/" + path + (f"?{urlencode(query)}" if query else "")
        headers = {
            name: self.request.headers[name]
            for name in FORWARDED_REQUEST_HEADERS
            if name in self.request.headers
        }
        headers["Authorization"] = (
            f"Bearer {self._client_key}" if self._client_key else f"token {remote.token}"
        )
        headers["Accept-Encoding"] = "identity"  # no decoding work on either side
        body = self.request.body if self.request.method in ("POST", "PUT", "PATCH") else None
        self._forwarding = asyncio.current_task()
        try:
            answer = await remote.upstreams.send(self.request.method or "GET", url, headers, body)
            try:
                if answer.status_code == 401 and not self._client_key:
                    await self._refused(answer)
                self.set_status(answer.status_code)
                for name in FORWARDED_ANSWER_HEADERS:
                    if name in answer.headers:
                        self.set_header(name, ", ".join(answer.headers.getall(name)))
                streaming = "text/event-stream" in answer.headers.get("Content-Type", "")
                async for chunk in answer.stream:
                    self.write(chunk)
                    if streaming:
                        await self.flush()
            finally:
                await answer.aclose()
        except httpx.HTTPError as exc:
            if self._headers_written:
                raise  # a stream cut mid-way: the client sees it end early
            raise remote.unreachable(f"it did not answer ({exc!r})") from None
        except (StreamClosedError, asyncio.CancelledError):
            if self._forwarding is None:  # the client hung up (on_connection_close)
                return
            raise
        finally:
            self._forwarding = None
        self.finish()

    async def _refused(self, answer: Answer) -> None:
        """The service refused this server's token (not the client's, which stays here):
        the admin's scopes are missing, which the client should not read as its own
        wrong key."""
        await answer.aread()
        raise self.remote.unreachable(
            f"it refused this server's Hub token ({answer.status_code}); the Hub's "
            f"`server` role needs access:services!service={self.remote.name}"
        )

    def on_connection_close(self) -> None:
        task, self._forwarding = self._forwarding, None
        if task is not None:
            task.cancel()
        super().on_connection_close()


HANDLERS = [(r"/mux/(?P<path>.*)", ForwardHandler)]
