"""Python clients of a running jupyter-mux, for notebooks and scripts.

A kernel is started by its Jupyter server, so code in a notebook can find the mux without
being told where it is: `find_server()` reads the server's running-server file (or the
environment, for anything else). On top of that sit the OpenAI SDK pointed at the mux
(`openai_client`, `async_openai_client`), the Anthropic SDK pointed at it
(`anthropic_client`, `async_anthropic_client`), and `MuxClient`, a thin synchronous client of the
management API (docs/api.md) that returns the API's JSON as plain dicts.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypedDict
from urllib.parse import quote

import httpx

if TYPE_CHECKING:
    from datetime import datetime

    import anthropic
    import openai

__all__ = [
    "CreatedKey",
    "Key",
    "MuxAPIError",
    "MuxClient",
    "MuxServerNotFound",
    "Provider",
    "ProviderType",
    "ServerInfo",
    "Target",
    "Workspace",
    "anthropic_client",
    "async_anthropic_client",
    "async_openai_client",
    "find_server",
    "openai_client",
]

URL_ENV = "JUPYTER_MUX_URL"
TOKEN_ENVS = ("JUPYTER_MUX_TOKEN", "JUPYTER_TOKEN")


# --- the API's shapes (docs/api.md, jupyter_mux/models.py), for type checkers only ---------


class Target(TypedDict):
    """A workspace's preferred model."""

    provider: str
    model: str


class ProviderType(TypedDict):
    type: str
    label: str
    default_endpoint: str
    default_auth: Literal["none", "api_key"]
    auth_types: list[Literal["none", "api_key"]]


class Provider(TypedDict):
    name: str
    type: str
    endpoint: str
    description: str
    auth_type: Literal["none", "api_key"]
    has_api_key: bool
    predefined: bool
    models: list[str]
    status: Literal["ok", "error"]
    error: str | None
    models_refreshed_at: str | None
    used_by: list[str]


class Key(TypedDict):
    """A scoped mux key as listed: never its secret."""

    id: str
    name: str
    prefix: str
    workspace: str | None
    expires_at: str | None
    budget_usd: float | None
    spent_usd: float
    created_at: str
    last_used_at: str | None


class CreatedKey(Key):
    secret: str


class Workspace(TypedDict):
    name: str
    description: str
    is_active: bool
    preferred: Target | None
    preferred_ok: bool
    problem: str | None


# --- finding the server ---------------------------------------------------------------------


class MuxServerNotFound(RuntimeError):
    """No Jupyter server (or no single one) could be chosen; the message says what was tried
    and how to point the client at a server explicitly."""


@dataclass(frozen=True)
class ServerInfo:
    """Where a Jupyter server is and how to authenticate to it.

    `url` is the server's base URL ending in "/" (the mux lives at `<url>mux/v1`). The token
    is left out of the repr so that showing a `ServerInfo` in a notebook does not print it.
    """

    url: str
    token: str = field(default="", repr=False)


def _env_token() -> str | None:
    for name in TOKEN_ENVS:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _parent_pids() -> list[int]:
    """The pids that may be this kernel's server: the parent process and, when a wrapper
    (e.g. `conda run`) sits between them, the pid jupyter_client records for its child.
    (On Windows that variable holds a handle, not a pid, so it is not used there.)"""
    pids = [os.getppid()]
    recorded = os.environ.get("JPY_PARENT_PID", "")
    if sys.platform != "win32" and recorded.isdigit() and int(recorded) not in pids:
        pids.append(int(recorded))
    return pids


def _alive(pid: object) -> bool:
    """Whether a process with this pid exists (one we may not signal still counts)."""
    if not isinstance(pid, int):
        return False
    if sys.platform == "win32":  # signal 0 is CTRL_C_EVENT there: ask jupyter_server
        from jupyter_server.utils import check_pid

        return bool(check_pid(pid))
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _running_servers(runtime_dir: str) -> list[dict[str, Any]]:
    """The running-server files (`jpserver-*.json`) of live servers, read as
    jupyter_server's `list_running_servers` reads them, but without importing
    jupyter_server (seconds in a kernel) and without deleting stale files, which belong to
    the servers, not to a client."""
    try:
        names = sorted(os.listdir(runtime_dir))
    except OSError:
        return []
    servers = []
    for name in names:
        if not (name.startswith("jpserver-") and name.endswith(".json")):
            continue
        try:
            with open(os.path.join(runtime_dir, name), encoding="utf-8") as file:
                info = json.load(file)
        except (OSError, ValueError):  # gone, or still being written
            continue
        if isinstance(info, dict) and _alive(info.get("pid")):
            servers.append(info)
    return servers


def find_server() -> ServerInfo:
    """Find the Jupyter server this process should talk to.

    `JUPYTER_MUX_URL` (the server's base URL) wins when set, with the token from
    `JUPYTER_MUX_TOKEN` or else `JUPYTER_TOKEN`. Otherwise the running-server files
    (`jpserver-*.json` in Jupyter's runtime directory) are read: the server that is this
    process's parent is the one a kernel belongs to; failing that, the only running server.
    The token variables still override the file's token, so a server whose token is not in
    its file can be reached.

    Raises `MuxServerNotFound` when no server, or several unrelated ones, are found.
    """
    env_url = os.environ.get(URL_ENV)
    env_token = _env_token()
    if env_url:
        return ServerInfo(_with_slash(env_url), env_token or "")

    from jupyter_core.paths import jupyter_runtime_dir

    runtime_dir = jupyter_runtime_dir()
    servers = _running_servers(runtime_dir)
    parents = _parent_pids()
    chosen = next((s for p in parents for s in servers if s.get("pid") == p), None)
    tried = (
        f"{URL_ENV} is not set, and of the running-server files (jpserver-*.json) in {runtime_dir}"
    )
    if chosen is None:
        if not servers:
            raise MuxServerNotFound(
                f"No running Jupyter server found: {tried} there are none. Start one, or set "
                f"{URL_ENV} to the server's URL and JUPYTER_MUX_TOKEN to its token."
            )
        if len(servers) > 1:
            listed = ", ".join(f"{s.get('url')} (pid {s.get('pid')})" for s in servers)
            raise MuxServerNotFound(
                f"Several Jupyter servers are running and none is this process's parent "
                f"(pid {', '.join(map(str, parents))}): {listed}. {tried} none could be "
                f"chosen. Set {URL_ENV} (and JUPYTER_MUX_TOKEN) to the one to use."
            )
        chosen = servers[0]
    url = str(chosen.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise MuxServerNotFound(
            f"The Jupyter server (pid {chosen.get('pid')}) listens on {url or 'no URL'}, "
            f"which this client cannot reach; set {URL_ENV} to an http(s) URL for it."
        )
    return ServerInfo(_with_slash(url), env_token or str(chosen.get("token") or ""))


def _resolve(url: str | None, token: str | None) -> ServerInfo:
    """Fill in what the caller left out: everything from `find_server()` when no URL is
    given, else the token from the environment (none at all if the server needs none)."""
    if url is None:
        server = find_server()
        return server if token is None else ServerInfo(server.url, token)
    return ServerInfo(_with_slash(url), token if token is not None else _env_token() or "")


# --- the OpenAI SDK pointed at the mux -------------------------------------------------------


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "jupyter_mux's OpenAI clients need the 'openai' package: pip install openai"
        ) from exc
    return openai


def _exported(base_var: str, key_var: str, tail: str) -> tuple[str, str] | None:
    """The mux URL (without `tail`) and key its server exported to this kernel or
    terminal (see `MuxApp.export_env`); None where the variables are unset or point at
    something that is not a mux (the user's own configuration), or where JUPYTER_MUX_URL
    names a server explicitly."""
    if os.environ.get(URL_ENV):
        return None
    base = os.environ.get(base_var, "").rstrip("/")
    key = os.environ.get(key_var, "")
    if not key or not base.endswith("/mux" + tail):
        return None
    return base.removesuffix(tail), key


def _pinned(workspace: str | None) -> str:
    return f"/w/{quote(workspace, safe='')}" if workspace else ""


def _openai_options(workspace: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    exported = _exported("OPENAI_BASE_URL", "OPENAI_API_KEY", "/v1")
    if exported is not None:
        base, key = exported
    else:
        server = find_server()
        # The SDK insists on a key; a Jupyter server running without a token accepts any.
        base, key = server.url + "mux", server.token or "none"
    options: dict[str, Any] = {"base_url": f"{base}{_pinned(workspace)}/v1", "api_key": key}
    options.update(kwargs)
    return options


def openai_client(workspace: str | None = None, **kwargs: Any) -> openai.OpenAI:
    """An `openai.OpenAI` talking to the mux: in a kernel or terminal of a server that
    exported OPENAI_BASE_URL and OPENAI_API_KEY for its mux (`MuxApp.export_env`), with
    those (a mux key); else to `find_server()`'s server with its token. JUPYTER_MUX_URL,
    when set, wins over the exported variables.

    Requests go to the active workspace's model, or always to `workspace`'s when given
    (`<url>mux/w/<workspace>/v1`). `kwargs` go to the `openai.OpenAI` constructor as they
    are (e.g. `timeout`, `max_retries`).
    """
    return _import_openai().OpenAI(**_openai_options(workspace, kwargs))


def async_openai_client(workspace: str | None = None, **kwargs: Any) -> openai.AsyncOpenAI:
    """Like `openai_client`, for asyncio code: an `openai.AsyncOpenAI`."""
    return _import_openai().AsyncOpenAI(**_openai_options(workspace, kwargs))


# --- the Anthropic SDK pointed at the mux ----------------------------------------------------


def _import_anthropic() -> Any:
    try:
        import anthropic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "jupyter_mux's Anthropic clients need the 'anthropic' package: pip install anthropic"
        ) from exc
    return anthropic


def _anthropic_options(workspace: str | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """With the mux key the server exported (ANTHROPIC_BASE_URL, ANTHROPIC_AUTH_TOKEN) when
    set, else `find_server()`'s token. Anthropic clients append /v1/messages themselves:
    their base URL has no /v1. `auth_token` goes out as `Authorization: Bearer`."""
    exported = _exported("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "")
    if exported is not None:
        base, key = exported
    else:
        server = find_server()
        base, key = server.url + "mux", server.token or "none"
    options: dict[str, Any] = {"base_url": base + _pinned(workspace), "auth_token": key}
    options.update(kwargs)
    return options


def anthropic_client(workspace: str | None = None, **kwargs: Any) -> anthropic.Anthropic:
    """An `anthropic.Anthropic` talking to the mux (the Messages API at
    `<url>mux/v1/messages`), found like `openai_client`'s.

    Requests go to the active workspace's model, or always to `workspace`'s when given
    (base URL `<url>mux/w/<workspace>`). `kwargs` go to the `anthropic.Anthropic`
    constructor as they are (e.g. `timeout`, `max_retries`, `default_headers`).
    """
    return _import_anthropic().Anthropic(**_anthropic_options(workspace, kwargs))


def async_anthropic_client(workspace: str | None = None, **kwargs: Any) -> anthropic.AsyncAnthropic:
    """Like `anthropic_client`, for asyncio code: an `anthropic.AsyncAnthropic`."""
    return _import_anthropic().AsyncAnthropic(**_anthropic_options(workspace, kwargs))


# --- the management API ----------------------------------------------------------------------


class MuxAPIError(Exception):
    """The management API refused a request; `message` is the server's own explanation
    (it names the field, the unknown name or the conflict), `status` its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _target(preferred: tuple[str, str] | Mapping[str, str] | None) -> dict[str, str] | None:
    """Accept `(provider, model)` as a shorthand for the API's `{provider, model}`."""
    if preferred is None:
        return None
    if isinstance(preferred, Mapping):
        return dict(preferred)
    provider, model = preferred
    return {"provider": provider, "model": model}


class MuxClient:
    """A synchronous client of the management API (docs/api.md, "Management").

    Answers are the API's JSON as plain dicts (typed as `Provider`, `Workspace`, ...);
    refusals raise `MuxAPIError` with the server's message, transport failures raise
    `httpx.HTTPError`. Without `url` the server is found with `find_server()`.
    Use it as a context manager, or call `close()`, to release its connections.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0
    ) -> None:
        self.server = _resolve(url, token)
        headers = {"Authorization": f"token {self.server.token}"} if self.server.token else {}
        self._http = httpx.Client(
            base_url=self.server.url + "mux/api/", headers=headers, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"MuxClient({self.server.url!r})"

    def __enter__(self) -> MuxClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(
        self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        response = self._http.request(method, path, json=body, params=params)
        if response.is_error:
            raise MuxAPIError(response.status_code, _error_message(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # Names are restricted to URL-safe characters by the server, but quoting keeps a bad
    # name from reaching some other route ("../active") before the server can say so.
    @staticmethod
    def _name(name: str) -> str:
        return quote(name, safe="")

    # providers

    def provider_types(self) -> list[ProviderType]:
        """The kinds of provider the server knows, with their default endpoints and auth."""
        return self._request("GET", "provider-types")

    def providers(self) -> list[Provider]:
        return self._request("GET", "providers")

    def provider(self, name: str) -> Provider:
        return self._request("GET", f"providers/{self._name(name)}")

    def add_provider(
        self,
        name: str,
        type: str,
        endpoint: str | None = None,
        description: str = "",
        auth_type: str | None = None,
        api_key: str | None = None,
    ) -> Provider:
        """Save a provider. The server connects to it at once: if that fails the provider
        is still saved, with `status == "error"` and the reason in `error`."""
        body: dict[str, Any] = {"name": name, "type": type, "description": description}
        optional = {"endpoint": endpoint, "auth_type": auth_type, "api_key": api_key}
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._request("POST", "providers", body)

    def update_provider(self, name: str, /, **changes: Any) -> Provider:
        """Change any of `name`, `endpoint`, `description`, `auth_type`, `api_key`.

        The current name is positional-only so that `name=` can rename."""
        return self._request("PATCH", f"providers/{self._name(name)}", changes)

    def delete_provider(self, name: str) -> None:
        self._request("DELETE", f"providers/{self._name(name)}")

    def refresh_provider(self, name: str) -> Provider:
        """Discover the provider's models again."""
        return self._request("POST", f"providers/{self._name(name)}/refresh")

    def provider_models(self, name: str) -> list[dict[str, Any]]:
        """The provider's models with whatever metadata it gives (`id` at least)."""
        return self._request("GET", f"providers/{self._name(name)}/models")

    # workspaces

    def workspaces(self) -> list[Workspace]:
        return self._request("GET", "workspaces")

    def workspace(self, name: str) -> Workspace:
        return self._request("GET", f"workspaces/{self._name(name)}")

    def create_workspace(
        self,
        name: str,
        description: str = "",
        preferred: tuple[str, str] | Mapping[str, str] | None = None,
    ) -> Workspace:
        """Create a workspace, optionally with its model as `(provider, model)`."""
        body: dict[str, Any] = {"name": name, "description": description}
        if preferred is not None:
            body["preferred"] = _target(preferred)
        return self._request("POST", "workspaces", body)

    def update_workspace(self, name: str, /, **changes: Any) -> Workspace:
        """Change any of `name`, `description`, `preferred`; `preferred` may be
        `(provider, model)`, and `preferred=None` clears the workspace's model. The current
        name is positional-only so that `name=` can rename."""
        if "preferred" in changes:
            changes["preferred"] = _target(changes["preferred"])
        return self._request("PATCH", f"workspaces/{self._name(name)}", changes)

    def delete_workspace(self, name: str) -> None:
        """Delete a workspace; the active one cannot be (409): activate another first."""
        self._request("DELETE", f"workspaces/{self._name(name)}")

    def rules(self, workspace: str) -> list[dict[str, Any]]:
        """The workspace's routing rules in priority order, each flagged `ok`/`problem`."""
        return self._request("GET", f"workspaces/{self._name(workspace)}/rules")

    def set_rules(self, workspace: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the rule list at once; the last rule must be the catch_all."""
        return self._request("PUT", f"workspaces/{self._name(workspace)}/rules", rules)

    def export_workspace(self, name: str) -> dict[str, Any]:
        """Portable JSON of a workspace: rules, and providers by name and type, no keys."""
        return self._request("GET", f"workspaces/{self._name(name)}/export")

    def import_workspace(self, export: dict[str, Any], name: str | None = None) -> Workspace:
        """Create a workspace from an export, optionally under another name."""
        return self._request(
            "POST", "workspaces/import", {**export, **({"name": name} if name else {})}
        )

    def usage(
        self,
        group_by: str = "workspace",
        *,
        since: str | None = None,
        until: str | None = None,
        workspace: str | None = None,
    ) -> dict[str, Any]:
        """Requests, tokens and cost per group (`cost` None where a price is unknown)."""
        query = {"group_by": group_by, "since": since, "until": until, "workspace": workspace}
        return self._request("GET", "usage", params={k: v for k, v in query.items() if v})

    # mux keys

    def keys(self) -> list[Key]:
        """The mux keys, by prefix: their secrets are never shown again."""
        return self._request("GET", "keys")

    def create_key(
        self,
        name: str,
        *,
        workspace: str | None = None,
        expires_at: datetime | str | None = None,
        budget_usd: float | None = None,
    ) -> CreatedKey:
        """Make a mux key: it authenticates the mux routes only. Its `secret` is in this
        answer and nowhere else, so keep it. `workspace` pins it; `expires_at` (a datetime
        or ISO 8601 text, UTC unless zoned) ends it; past `budget_usd` of priced usage its
        requests get 429."""
        body: dict[str, Any] = {"name": name}
        if workspace is not None:
            body["workspace"] = workspace
        if expires_at is not None:
            body["expires_at"] = (
                expires_at if isinstance(expires_at, str) else expires_at.isoformat()
            )
        if budget_usd is not None:
            body["budget_usd"] = budget_usd
        return self._request("POST", "keys", body)

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key: its next request gets 401."""
        self._request("DELETE", f"keys/{self._name(key_id)}")

    def active(self) -> str:
        """The name of the workspace that routes `/mux/v1` requests."""
        return self._request("GET", "active")["name"]

    def activate(self, name: str) -> str:
        """Make `name` the active workspace; answers its name."""
        return self._request("PUT", "active", {"name": name})["name"]


def _error_message(response: httpx.Response) -> str:
    """The server's explanation: Jupyter's `{"message"}`, else the body, else the reason."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        message = data.get("message") or (
            error.get("message") if isinstance(error, dict) else error
        )
        if isinstance(message, str) and message:
            return message
    text = response.text.strip()
    if text and len(text) < 500 and "<" not in text:
        return text
    return response.reason_phrase or f"HTTP {response.status_code}"
