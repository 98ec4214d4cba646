"""`jupyter-mux hub-service`: a Jupyter server that runs the mux, and nothing else, as a
JupyterHub service.

The Hub starts it (a managed service) or an admin does (an external one) with the
environment JupyterHub gives services: where to listen (`JUPYTERHUB_SERVICE_URL`), its
prefix (`JUPYTERHUB_SERVICE_PREFIX`, e.g. `/services/mux/`), its API token and OAuth client.
Its configuration is one file, `--config`: no per-user or system Jupyter configuration is
read, so nobody but the admin decides what runs in the process holding the keys.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any
from urllib.parse import urlparse

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.serverapp import ServerApp
from pydantic import ValidationError
from tornado import web
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Dict, Float, Int, default

from ..app import MuxApp
from ..handlers.base import (
    AUTH_RESOURCE,
    KEY_HINT_KEY,
    PROXY_KEY,
    RESPONSES_KEY,
    SERVICE_KEY,
    STARTUP_ERROR_KEY,
    TENANTS_KEY,
)
from ..proxy import Proxy
from ..response_store import ResponseStore
from ..store import Store
from ..store.org import Org, PolicyRecord
from .auth import HubServiceAuthorizer, HubServiceIdentityProvider
from .guard import Guard, utcnow
from .handlers import HANDLERS as HUB_HANDLERS
from .models import Policy, misplaced
from .tenants import Tenants, owner_of

EXTENSION = "jupyter_mux.hub.app"
# Open files (sockets) the service asks for: a stream holds two, its client's and its
# provider's, and many systems start a service with a soft limit of 1,024.
OPEN_FILES = 65_536


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": EXTENSION, "app": HubServiceApp}]


def allow_open_files(wanted: int, log: Any) -> None:
    """Raise the soft limit on open files towards `wanted`, as far as the hard limit (the
    admin's ceiling) allows: past the soft one, new connections fail with EMFILE."""
    try:
        import resource
    except ImportError:  # Windows: no such limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    log.info("jupyter-mux: open files limit raised from %d to %d", soft, target)


class HubServiceServer(ServerApp):
    """Jupyter's server with the mux's routes only: no contents, kernels, terminals or
    other extensions, whatever is installed beside it."""

    name = "jupyter-mux-hub-service"
    # `api` keeps /api/status for health checks; the identity provider adds the OAuth
    # callback and logout.
    default_services = ("api",)

    @property
    def config_file_paths(self) -> list[str]:  # type: ignore[override]
        """Only `--config`: not ~/.jupyter, not the environment's or the system's."""
        return []

    @default("base_url")
    def _default_base_url(self) -> str:
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")

    @default("ip")
    def _default_ip(self) -> str:
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        return (urlparse(url).hostname or "127.0.0.1") if url else "127.0.0.1"

    @default("port")
    def _default_port(self) -> int:
        url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        port = urlparse(url).port if url else None
        return port or 10101

    @default("terminals_enabled")
    def _default_terminals_enabled(self) -> bool:
        return False

    @default("allow_unauthenticated_access")
    def _default_allow_unauthenticated_access(self) -> bool:
        return False

    @default("identity_provider_class")
    def _default_identity_provider_class(self) -> type:
        return HubServiceIdentityProvider

    @default("authorizer_class")
    def _default_authorizer_class(self) -> type:
        return HubServiceAuthorizer

    def init_signal(self) -> None:
        """SIGINT is handled whatever the terminal: Jupyter handles it only with one on
        stdin, and a process started in the background (a CI job, a service manager)
        inherits SIGINT ignored, so the Hub's SIGINT did nothing and its later SIGTERM
        could come after the Hub itself was gone, leaving the service running."""
        super().init_signal()
        signal.signal(signal.SIGINT, self._handle_sigint)

    def _handle_sigint(self, sig: Any, frame: Any) -> None:
        """Stop on SIGINT, as JupyterHub's single-user servers do: it is how the Hub stops
        a managed service. Jupyter's own handler asks on the terminal whether to shut down,
        which a service has not got, so it kept running until the Hub gave up waiting and
        sent SIGTERM (`interrupt_timeout`, 10 s) on every stop and restart."""
        self._signal_stop(sig, frame)


class LandingHandler(ExtensionHandlerMixin, JupyterHandler):
    """The service's page: where a browser signs in through the Hub's OAuth (the redirect
    is Jupyter's @web.authenticated with the Hub's login URL) and learns its mux URL."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    async def get(self) -> None:
        base = self.request.protocol + "://" + self.request.host + self.base_url
        self.set_header("Content-Type", "application/json")
        self.finish(
            {
                "user": owner_of(self.current_user),
                "openai_base_url": base + "mux/v1",
                "anthropic_base_url": base + "mux",
                "api_key": "your JupyterHub API token",
            }
        )


class HubServiceApp(MuxApp):
    """The server extension, serving every Hub user from one process: each request works
    for its user's own tenant (see tenants.py), never for the configuration's owner ""."""

    name = "jupyter_mux_hub"
    description = """The jupyter-mux model endpoint as a JupyterHub service, for every user of
the Hub: jupyter-mux hub-service --config=FILE, started by the Hub (c.JupyterHub.services)
or by an admin with the Hub's service environment (JUPYTERHUB_API_TOKEN,
JUPYTERHUB_SERVICE_URL, JUPYTERHUB_SERVICE_PREFIX, ...). FILE is the only configuration read:
c.MuxApp.db_url, encryption_key, providers; c.HubServiceApp.policies (budgets, allowed
models, own providers per user and group), allow_user_providers, budget_output_tokens,
budget_hold_seconds, tenant_idle_seconds. Users' API key is their JupyterHub API token (or a
mux key they made). See docs/deployment.md."""
    serverapp_class = HubServiceServer
    load_other_extensions = False
    serverapp_config = {"jpserver_extensions": {EXTENSION: True}}

    @classmethod
    def get_extension_package(cls) -> str:
        return EXTENSION

    allow_user_providers = Bool(
        False,
        config=True,
        help="""Whether users may add providers of their own (their keys then kept by the
        service, visible to no one) and probe endpoints. Off by default: a user's provider
        is a URL this service connects to from inside the Hub's network.""",
    )

    policies = Dict(
        config=True,
        help="""The admin's policies: {"default": POLICY, "groups": {NAME: POLICY},
        "users": {NAME: POLICY}}, each POLICY a dict of usd_per_day, usd_per_month,
        group_usd_per_day, group_usd_per_month (groups only), allowed_models (globs over
        "provider/model") and user_providers. They are rewritten at every start and
        read-only over /mux/api/admin/policies, where admins add others. See
        docs/deployment.md.""",
    )

    budget_output_tokens = Int(
        4096,
        config=True,
        help="""The output a request without max_tokens is assumed to reach, for the hold it
        takes on its user's budgets while in flight (docs/deployment.md, "Budgets").""",
    )

    budget_hold_seconds = Float(
        3600,
        config=True,
        help="""How long a request's hold on budgets lasts if it is never settled (its
        replica died): longer than any request may run.""",
    )

    tenant_idle_seconds = Float(
        3600,
        config=True,
        help="""A user's routing table and kept Responses answers leave memory after this
        long without a request (their next request reads them again); 0 keeps them until
        the service stops.""",
    )

    @default("max_connections_per_provider")
    def _default_max_connections_per_provider(self) -> int:
        # Every user's streams to a provider share its connections here. An open stream
        # holds some 30-35 KB of this process's memory (bench/README.md): a thousand, 35 MB.
        return 1000

    @default("open_browser")
    def _default_open_browser(self) -> bool:
        return False

    @default("export_env")
    def _default_export_env(self) -> bool:
        return False  # no kernels or terminals run here

    @default("user")
    def _default_user(self) -> str:
        return ""  # the configuration's providers; no Hub user is ""

    def make_store(self) -> Store:
        """Only this process writes the database: the configured providers are the truth,
        whatever users it has served (a rotated key or a moved endpoint applies at the next
        start)."""
        return Store(self.db_url, owner=self.user, config_is_truth=True)

    @default("hub_service")
    def _default_hub_service(self) -> str:
        return ""  # JUPYTER_MUX_HUB_SERVICE is for users' servers

    def initialize_settings(self) -> None:
        if self.hub_service:
            # Remote mode here would forward every request to this very service.
            self.log.warning("jupyter-mux: c.MuxApp.hub_service is for users' servers; ignored")
            self.hub_service = ""
        super().initialize_settings()
        allow_open_files(OPEN_FILES, self.log)
        # Tornado checks XSRF before `prepare`, so before the Hub token is known: a token
        # request would be refused. Jupyter's own check, made in `prepare` once the user is
        # known, still runs on every cookie-authenticated write (as in JupyterHub's servers).
        self.settings["xsrf_cookies"] = False
        self.settings[KEY_HINT_KEY] = (
            "Missing or wrong API key: use your JupyterHub API token (from the Hub's token "
            "page), with access to this service, or a mux key you made, as the API key."
        )
        if self.startup_error is None:
            self._start_guard()
        if self.startup_error is not None:
            self.settings[STARTUP_ERROR_KEY] = self.startup_error
            return
        # No request may fall back on the configuration owner's service.
        for key in (SERVICE_KEY, PROXY_KEY, RESPONSES_KEY):
            self.settings.pop(key)
        self.tenants = Tenants(
            self.service,
            self.guard,
            lambda recorder: Proxy(
                self.upstreams,
                max_attempts=self.max_attempts,
                fallback_budget=self.fallback_budget,
                log=self.log,
                recorder=recorder,
            ),
            lambda: ResponseStore(self.responses_max_count, self.responses_max_age),
            self.usage_retention_days,
            self.log,
        )
        self.tenants.load_keys()
        self.settings[TENANTS_KEY] = self.tenants
        # The extension's own timers serve owner "", whom no request reaches; these serve
        # the users.
        self._flusher.stop()
        self._syncer.stop()
        self._flusher = PeriodicCallback(self._flush_tenants, 1000)
        self._flusher.start()
        self._syncer = PeriodicCallback(self.tenants.sync, max(self.sync_interval, 0.1) * 1000)
        if self.sync_interval > 0:
            self._syncer.start()

    _last_idle_check = 0.0

    async def _flush_tenants(self) -> None:
        await self.tenants.flush()
        now = time.monotonic()
        if self.tenant_idle_seconds > 0 and now - self._last_idle_check > 60:
            self._last_idle_check = now
            closed = await self.tenants.close_idle(self.tenant_idle_seconds, now)
            if closed:
                self.log.info("jupyter-mux: %d idle users' tables let go", len(closed))

    def _start_guard(self) -> None:
        try:
            records = list(config_policies(self.policies))
            self.guard = Guard(
                Org(self.service.store.engine),
                self.service._executor,
                config=records,
                user_providers=self.allow_user_providers,
                output_tokens=self.budget_output_tokens,
                hold_seconds=self.budget_hold_seconds,
                log=self.log,
            )
            self.guard.start()
        except (ValueError, TypeError) as exc:
            self.startup_error = f"jupyter-mux could not start: {exc}"
            self.log.critical(self.startup_error)

    async def stop_extension(self) -> None:
        """The users' last usage is written before the store closes."""
        if self.startup_error is None:
            self._flusher.stop()
            self._syncer.stop()
            await self.tenants.flush()
        await super().stop_extension()

    def initialize_handlers(self) -> None:
        super().initialize_handlers()
        self.handlers[:0] = [(r"/?", LandingHandler), *HUB_HANDLERS]

    def _announce(self) -> None:
        self.log.info(
            "jupyter-mux: serving JupyterHub users at %smux/v1 (their Hub API tokens are "
            "the API keys)",
            self.serverapp.base_url,
        )


def config_policies(config: dict[str, Any]) -> list[PolicyRecord]:
    """`c.HubServiceApp.policies` as stored records; a wrong one stops the service's start
    with what is wrong, rather than enforcing less than the admin wrote."""
    unknown = set(config) - {"default", "groups", "users"}
    if unknown:
        raise ValueError(
            f"c.HubServiceApp.policies has unknown keys {sorted(unknown)}; "
            "it takes default, groups and users"
        )
    entries = [("default", "", config["default"])] if "default" in config else []
    for scope in ("group", "user"):
        named = config.get(scope + "s") or {}
        if not isinstance(named, dict):
            raise ValueError(f"c.HubServiceApp.policies['{scope}s'] must map names to policies")
        entries += [(scope, str(name), body) for name, body in named.items()]
    now = utcnow()
    records = []
    for scope, name, body in entries:
        where = "default" if scope == "default" else f"{scope}s.{name}"
        try:
            policy = Policy.model_validate(body)
        except ValidationError as exc:
            raise ValueError(f"c.HubServiceApp.policies {where} is not valid: {exc}") from None
        wrong = misplaced(scope, policy)
        if wrong:
            raise ValueError(f"c.HubServiceApp.policies {where}: {wrong}")
        records.append(
            PolicyRecord(scope, name, policy.model_dump(exclude_none=True), "config", now)
        )
    return records


def main(argv: list[str] | None = None) -> None:
    """`jupyter-mux hub-service [--config FILE] [server options]`."""
    HubServiceApp.launch_instance(sys.argv[1:] if argv is None else argv)


__all__ = ["HubServiceApp", "main"]
