"""What every jupyter-mux handler shares: Jupyter auth on the `jupyter_mux` resource, access
to the service, JSON in and out."""

from __future__ import annotations

import functools
import hmac
import json
import logging
from typing import Any, Protocol

from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.log import log_request
from jupyter_server.prometheus.log_functions import prometheus_log_method
from pydantic import BaseModel

from ..errors import InvalidRequest, MuxError
from ..openai_request import MuxRequest
from ..proxy import Proxy
from ..response_store import ResponseStore
from ..routing import Rule, WorkspaceRoute
from ..service import MuxService

AUTH_RESOURCE = "jupyter_mux"
SERVICE_KEY = "jupyter_mux_service"
PROXY_KEY = "jupyter_mux_proxy"
STARTUP_ERROR_KEY = "jupyter_mux_startup_error"
RESPONSES_KEY = "jupyter_mux_responses"
TOKEN_USER_KEY = "jupyter_mux_token_user"
# Set only by the Hub service (jupyter_mux.hub): finds each request's user their own service,
# proxy and kept responses. Without it, the server's one owner is everybody's.
TENANTS_KEY = "jupyter_mux_tenants"
# What a 401 tells the client to use as its API key, where that is not the Jupyter token.
KEY_HINT_KEY = "jupyter_mux_key_hint"
# Query parameters Jupyter reads for authentication, on any route.
AUTH_ARGUMENTS = frozenset({"token", "_xsrf"})

# The IdentityProvider methods that decide who a token request is. Where a provider class
# keeps all of them as Jupyter ships them (IdentityProvider, PasswordIdentityProvider), the
# token header alone decides, and BaseHandler can decide it the same way, more cheaply.
STOCK_TOKEN_METHODS = ("get_user", "_get_user", "get_user_token", "get_token")


@functools.cache
def stock_token_auth(provider_class: type[IdentityProvider]) -> bool:
    return all(
        getattr(provider_class, name) is getattr(IdentityProvider, name)
        for name in STOCK_TOKEN_METHODS
    )


class Tenant(Protocol):
    """One user's share of a server that serves many (the Hub service)."""

    service: MuxService
    proxy: Proxy
    responses: ResponseStore

    async def admit(
        self, user: User, rule: Rule, request: MuxRequest, size: int
    ) -> tuple[Rule, str]: ...

    def visible(self, user: User, route: WorkspaceRoute) -> WorkspaceRoute: ...

    def done(self) -> None: ...


class Tenants(Protocol):
    async def get(self, user: User) -> Tenant: ...


class BaseHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    async def prepare(self) -> None:
        user = self._token_user()
        if user is not None:
            # IdentityProvider.get_user takes a handler that already has a user as
            # authenticated; every other check of Jupyter's prepare (host, CORS, XSRF,
            # origin) and @authorized still runs.
            self._jupyter_current_user = user
            self._token_authenticated = True
        await super().prepare()
        tenants = self.settings.get(TENANTS_KEY)
        if tenants is not None and self.current_user:
            self._tenant = await tenants.get(self.current_user)

    # The request's user's own service, proxy and responses (see TENANTS_KEY).
    _tenant: Tenant | None = None

    def _token_user(self) -> User | None:
        """The user of a request whose `Authorization: token|bearer` header carries the
        server's token, as Jupyter's own IdentityProvider would find it, minus its waste.

        For such a request Jupyter's provider makes up a new random user, builds two debug
        log records and signs a login cookie into every answer: the largest part of
        Jupyter's own cost per mux request in a profile (bench/README.md). API clients
        (the OpenAI SDKs, curl) send the token every time, so the cookie is never needed;
        a client that keeps it sends it back, and then each request pays for checking its
        signature twice. Only the plain case is taken here: a stock provider (see
        STOCK_TOKEN_METHODS) with a token, a matching header, no `token` argument (Jupyter
        would look at that instead) and no cookie (Jupyter would take the user from it).
        Anything else, a wrong token included, goes through Jupyter's provider unchanged.
        """
        headers = self.request.headers
        header = headers.get("Authorization")
        if not header or "Cookie" in headers or "token" in self.request.arguments:
            return None
        provider = self.identity_provider
        token = provider.token
        if not token or not stock_token_auth(type(provider)):
            return None
        match = provider.auth_header_pat.match(header)
        if match is None or not hmac.compare_digest(match.group(2).encode(), token.encode()):
            return None
        user = self.settings.get(TOKEN_USER_KEY)
        if user is None:
            # One anonymous user for all token requests, where Jupyter makes one per
            # request: nothing reads its random name but the debug log.
            user = self.settings[TOKEN_USER_KEY] = provider.generate_anonymous_user(self)
        return user

    _mux_error: str | None = None

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """A MuxError is the client's answer, not a crash: logged once, on Jupyter's access
        line for the request (see `log`), instead of once by Tornado and again there."""
        if isinstance(value, MuxError):
            self._mux_error = value.message
            return
        super().log_exception(typ, value, tb)

    def _log(self) -> None:
        """A success's access line is debug-level in Jupyter's `log_request`. Where no
        handler writes debug records, it was still built (the URI parsed and scrubbed, the
        line formatted) and dropped, about 1.5% of the server's CPU per mux request: only
        its metric is recorded then. Any other log function, status or level is Jupyter's."""
        log_function = self.settings.get("log_function")
        if (
            isinstance(log_function, functools.partial)
            and log_function.func is log_request
            and (self.get_status() < 300 or self.get_status() == 304)
            and not shows_debug(super().log)
        ):
            if log_function.keywords.get("record_prometheus_metrics", True):
                prometheus_log_method(self)
            return
        super()._log()

    @property
    def log(self) -> Any:
        log = super().log
        if self._mux_error is not None:
            return _WithError(log, {"status": str(self.get_status()), "error": self._mux_error})
        return log if shows_debug(log) else _without_debug(log)

    @property
    def service(self) -> MuxService:
        error = self.settings.get(STARTUP_ERROR_KEY)
        if error:
            raise MuxError(error, status=503, code="mux_unavailable")
        if self._tenant is not None:
            return self._tenant.service
        return self.settings[SERVICE_KEY]

    @property
    def proxy(self) -> Proxy:
        if self._tenant is not None:
            return self._tenant.proxy
        return self.settings[PROXY_KEY]

    @property
    def responses(self) -> ResponseStore:
        """Responses kept for `previous_response_id` and `GET /responses/{id}`."""
        if self._tenant is not None:
            return self._tenant.responses
        return self.settings[RESPONSES_KEY]

    def json_body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidRequest(
                f"The request body is not valid JSON: {exc}.", code="invalid_json"
            ) from None

    def write_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(to_jsonable(value)))


def shows_debug(log: logging.Logger) -> bool:
    """Whether a debug record of `log` reaches a handler that would write it out."""
    logger: logging.Logger | None = log
    while logger is not None:
        if any(handler.level <= logging.DEBUG for handler in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


class _WithoutDebug(logging.LoggerAdapter):
    """The server's logger minus its debug records, where no handler writes them out.

    traitlets keeps an application's logger at DEBUG and filters in its handler, so every
    successful request's access line (debug level, `jupyter_server.log.log_request`) is
    built into a record and then dropped: the largest single item of Jupyter's own work per
    mux request in a profile (bench/README.md). Everything else goes to the logger as is."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        pass


@functools.lru_cache(maxsize=8)
def _without_debug(log: logging.Logger) -> _WithoutDebug:
    return _WithoutDebug(log, None)


class _WithError(logging.LoggerAdapter):
    """Adds a failed request's error message to its access line, the one that starts with
    the status."""

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        extra = self.extra or {}
        if isinstance(msg, str) and msg.startswith(str(extra.get("status"))):
            msg = f"{msg}: {extra.get('error')}"
        return msg, kwargs


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [to_jsonable(v) for v in value]
    return value


class ManagementHandler(BaseHandler):
    """Errors in Jupyter's `{"message", "reason"}` shape, as the lab front end expects."""

    def query_fields(self) -> dict[str, str]:
        """The query's own fields. Jupyter's auth parameters (`?token=`, `_xsrf`) belong to
        Jupyter, which has already checked them, and JupyterLab's request helper appends a
        bare timestamp (`?1795496747774`) to defeat caches; any other unknown parameter is
        still refused by the model."""
        return {
            k: self.get_argument(k)
            for k in self.request.arguments
            if k not in AUTH_ARGUMENTS and not k.isdigit()
        }

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, MuxError):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(exc.jupyter_body()))
            return
        super().write_error(status_code, **kwargs)
