"""The Jupyter server extension: configuration, wiring, start and stop."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import httpx
from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from . import cli
from ._version import __version__
from .demo import Demo
from .errors import MuxError
from .handlers import HANDLERS
from .handlers.base import PROXY_KEY, RESPONSES_KEY, SERVICE_KEY, STARTUP_ERROR_KEY
from .models import KeyCreate
from .proxy import Proxy, Upstreams
from .response_store import ResponseStore
from .secrets import SecretBox, SecretKeyError
from .service import MuxService
from .store import Store
from .store.migrations import SchemaTooNew
from .usage import UsageRecorder

main = cli.main  # the console script of installs made before it moved to cli.py

SERVER_KEY_NAME = "kernels and terminals"
# The variables of each client family; a family with any of them set is the user's own.
OPENAI_ENV = ("OPENAI_BASE_URL", "OPENAI_API_KEY")
ANTHROPIC_ENV = ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")
LOOPBACK = {"", "localhost", "0.0.0.0", "127.0.0.1", "::", "::1"}


def local_mux_url(serverapp: Any) -> str | None:
    """The mux as this machine reaches it (`<server>/mux`), loopback for a server that
    listens on every interface; None for a server on a UNIX socket."""
    if serverapp.sock:
        return None
    ip = serverapp.ip
    if ip in LOOPBACK:
        host = "[::1]" if ":" in ip else "127.0.0.1"
    else:
        host = f"[{ip}]" if ":" in ip else ip
    scheme = "https" if serverapp.certfile else "http"
    return f"{scheme}://{host}:{serverapp.port}{serverapp.base_url}mux"


class MuxApp(ExtensionApp):
    """Model muxing for Jupyter: one OpenAI-compatible URL, models chosen by workspace."""

    name = "jupyter_mux"
    app_name = "Jupyter Mux"
    description = cli.DESCRIPTION  # `jupyter mux --help`
    examples = cli.EXAMPLES
    version = __version__
    extension_url = "/"
    load_other_extensions = True

    db_url = Unicode(
        config=True,
        help="""SQLAlchemy URL of the database holding providers and workspaces. The default
        is a SQLite file in the Jupyter data directory; point it at PostgreSQL
        (postgresql+psycopg://user@host/db) to share one store between servers.""",
    )

    @default("db_url")
    def _default_db_url(self) -> str:
        return f"sqlite:///{Path(jupyter_data_dir()) / 'jupyter_mux' / 'mux.sqlite'}"

    user = Unicode(
        config=True,
        help="""The Jupyter user whose workspaces, active workspace, providers and usage
        this server works with. Under JupyterHub, where every user's server shares one
        database, it defaults to the JUPYTERHUB_USER that the Hub gives each server, so
        users see only their own; providers from c.MuxApp.providers are shared by all and
        read-only. Empty (the default elsewhere) is the single-user owner.""",
    )

    @default("user")
    def _default_user(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    encryption_key = Unicode(
        config=True,
        help="""Fernet key that encrypts provider API keys at rest (url-safe base64, 32
        bytes). Overrides encryption_key_file. Defaults to the JUPYTER_MUX_ENCRYPTION_KEY
        environment variable. Changing it makes stored keys unreadable: the server then
        refuses to start rather than send garbage.""",
    )

    @default("encryption_key")
    def _default_encryption_key(self) -> str:
        return os.environ.get("JUPYTER_MUX_ENCRYPTION_KEY", "")

    encryption_key_file = Unicode(
        config=True,
        help="""File holding the Fernet key when encryption_key is not set; created with
        mode 0600 on first start. Defaults to mux.key beside a SQLite database, else in
        the Jupyter data directory. Keep it out of backups of the database.""",
    )

    @default("encryption_key_file")
    def _default_key_file(self) -> str:
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return str(Path(url.database).parent / "mux.key")
        return str(Path(jupyter_data_dir()) / "jupyter_mux" / "mux.key")

    connect_timeout = Float(
        10.0, config=True, help="Seconds to wait for a connection to a provider."
    )
    read_timeout = Float(
        300.0,
        config=True,
        help="""Seconds a provider may stay silent (before its first byte, or between two
        chunks of a stream) before the request fails with 504.""",
    )
    discovery_timeout = Float(
        15.0, config=True, help="Seconds to wait for a provider's model list."
    )
    max_connections = Int(
        0,
        config=True,
        help="""Most simultaneous connections to providers, all together (0: no limit but
        the per-provider one).""",
    )
    max_connections_per_provider = Int(
        100,
        config=True,
        help="""Most simultaneous connections to one provider (its host and port). Requests
        beyond it wait for a connection, as long as their client waits; none fails for
        waiting.""",
    )
    responses_max_count = Int(
        1000,
        config=True,
        help="""Most Responses API answers kept (in memory) for `previous_response_id` and
        `GET /mux/v1/responses/{id}`; the oldest go first.""",
    )
    responses_max_age = Float(
        24 * 3600.0,
        config=True,
        help="Seconds a kept Responses API answer stays usable as `previous_response_id`.",
    )
    max_attempts = Int(
        3,
        config=True,
        help="""Most targets one request tries: a rule's first target, then its fallbacks,
        used when a target fails before answering (unreachable, timeout, 5xx, 429).""",
    )
    fallback_budget = Float(
        60.0,
        config=True,
        help="Seconds after which a failing request stops trying further fallback targets.",
    )
    sync_interval = Float(
        0.5,
        config=True,
        help="""Seconds between checks for changes that other servers sharing the database
        made (one small query); their changes route from this server after at most this
        long. 0 disables the check (a database only this server uses).""",
    )
    freeze_gc = Bool(
        True,
        config=True,
        help="""Once the server has started, collect garbage once and move every object
        that survived (Jupyter's and every extension's start-up objects, some hundreds of
        thousands) out of the garbage collector's way (`gc.freeze()`), so its full
        collections under load walk only what was made since: they paused the whole
        server for up to 0.7 s (the p99 of every request, mux or notebook). Turn off if
        another part of the server relies on collecting start-up objects later.""",
    )
    usage_retention_days = Int(
        90,
        config=True,
        help="Days of per-request usage records kept for spend tracking; 0 keeps them all.",
    )
    providers = List(
        Dict(),
        config=True,
        help="""Providers shipped by the administrator, created or updated at every start
        and read-only for users (they cannot edit or delete them). Each entry takes the
        fields of POST /mux/api/providers (name, type, endpoint, description, auth_type,
        api_key), plus api_key_env: the name of an environment variable holding the key.
        Example: c.MuxApp.providers = [{"name": "local", "type": "vllm",
        "endpoint": "http://gpu-box:8000"}]""",
    )

    export_env = Bool(
        True,
        config=True,
        help="""Give kernels and terminals this server starts OPENAI_BASE_URL and
        OPENAI_API_KEY, and ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN, pointing at this
        server's mux with a mux key the server makes for itself at every start (replacing
        the one it made before), so that OpenAI() and anthropic.Anthropic() with no
        arguments, and command-line tools, use the mux. In remote mode (hub_service) the
        key is the server's own JUPYTERHUB_API_TOKEN, which kernels inherit anyway: no
        new secret. Each family is left alone where any of its variables
        (ANTHROPIC_API_KEY included) is already set in the server's environment.""",
    )

    hub_service = Unicode(
        config=True,
        help="""Remote mode, in a user's server under JupyterHub: the name of the Hub's
        jupyter-mux service (`jupyter-mux hub-service`). Every <server>/mux/... route then
        forwards to it as this server's user (with the server's JUPYTERHUB_API_TOKEN), and
        the server keeps no store, provider key or encryption key. Defaults to the
        JUPYTER_MUX_HUB_SERVICE environment variable.""",
    )

    @default("hub_service")
    def _default_hub_service(self) -> str:
        return os.environ.get("JUPYTER_MUX_HUB_SERVICE", "")

    hub_service_url = Unicode(
        config=True,
        help="""Remote mode: the service's URL with its prefix, e.g.
        http://mux.internal:10101/services/mux/. By default it is read from the Hub's API
        (the server's token needs read:services!service=<name>). Defaults to the
        JUPYTER_MUX_HUB_SERVICE_URL environment variable.""",
    )

    @default("hub_service_url")
    def _default_hub_service_url(self) -> str:
        return os.environ.get("JUPYTER_MUX_HUB_SERVICE_URL", "")

    startup_error: str | None = None
    remote: Any = None  # hub.remote.Remote in remote mode

    demo = Bool(
        False,
        config=True,
        help="""Serve two tiny local models with llama.cpp inside this server, registered as
        the read-only providers demo-a and demo-b, with a workspace preferring each (and
        `default` preferring demo-a if it has no model): the mux answers with no API key.
        Needs the demo extra (pip install jupyter-mux[demo]); `jupyter mux demo` sets it.
        Defaults to true when the environment has JUPYTER_MUX_DEMO=1 (Binder's start).""",
    )

    @default("demo")
    def _default_demo(self) -> bool:
        return os.environ.get("JUPYTER_MUX_DEMO") == "1"

    def initialize_settings(self) -> None:
        if self.hub_service:
            self._initialize_remote()
            return
        self.upstreams = Upstreams(
            self.connect_timeout,
            self.read_timeout,
            self.max_connections,
            self.max_connections_per_provider,
        )
        self.settings[RESPONSES_KEY] = ResponseStore(
            self.responses_max_count, self.responses_max_age
        )
        try:
            self.service = MuxService(
                self.make_store(),
                SecretBox.from_config(self.encryption_key, Path(self.encryption_key_file)),
                self.upstreams.client,
                discovery_timeout=httpx.Timeout(
                    self.discovery_timeout, connect=self.connect_timeout
                ),
                log=self.log,
            )
            providers, seeds = list(self.providers), []
            if self.demo:
                self._demo = Demo(Path(jupyter_data_dir()) / "jupyter_mux" / "demo")
                providers += self._demo.start()
                seeds = self._demo.workspaces()
            predefined = self.service.start(providers, seeds)
        except (
            SecretKeyError,
            SchemaTooNew,
            MuxError,
            SQLAlchemyError,
            OSError,
            ImportError,
            RuntimeError,
        ) as exc:
            # Keep Jupyter up (the user's notebooks matter more than the mux) but make every
            # mux route answer 503 with the reason, and say it loudly in the log now.
            self.startup_error = f"jupyter-mux could not start: {exc}"
            self.log.critical(self.startup_error)
            self.settings[STARTUP_ERROR_KEY] = self.startup_error
            return
        if predefined:
            IOLoop.current().add_callback(self.service.refresh_all, predefined)
        self.recorder = UsageRecorder(
            self.service.record_usage,
            self.service.purge_usage,
            self.usage_retention_days,
            charge=self.service.charge,
        )
        self._flusher = PeriodicCallback(self._flush, 1000)
        self._flusher.start()
        self._syncer = PeriodicCallback(self.service.sync, self.sync_interval * 1000)
        if self.sync_interval > 0:
            self._syncer.start()
        self.settings.update(
            {
                SERVICE_KEY: self.service,
                PROXY_KEY: Proxy(
                    self.upstreams,
                    max_attempts=self.max_attempts,
                    fallback_budget=self.fallback_budget,
                    log=self.log,
                    recorder=self.recorder,
                ),
            }
        )
        if self.export_env:
            secret = self.service.create_key_now(
                KeyCreate(name=SERVER_KEY_NAME), replacing=SERVER_KEY_NAME
            )
            IOLoop.current().add_callback(self._export_env, secret)
        IOLoop.current().add_callback(self._announce)

    async def _flush(self) -> None:
        assert self.recorder is not None
        await self.recorder.flush()
        await self.service.flush_key_use()

    _exported: dict[str, str] = {}

    def _export_env(self, secret: str) -> None:
        """Runs once the server is bound (its port known), before any kernel or terminal
        can be started: both inherit this process's environment (jupyter_server gives a
        kernel `os.environ` plus its session name, terminado copies `os.environ`).

        The base URL is this server's own `/mux` in remote mode too, not the service's:
        the server forwards as its user, so clients need no route to the Hub's proxy."""
        base = local_mux_url(self.serverapp)
        if base is None:
            self.log.info("jupyter-mux: served on a UNIX socket; no AI variables exported")
            return
        exported = {}
        for names, values in (
            (OPENAI_ENV, {"OPENAI_BASE_URL": base + "/v1", "OPENAI_API_KEY": secret}),
            (ANTHROPIC_ENV, {"ANTHROPIC_BASE_URL": base, "ANTHROPIC_AUTH_TOKEN": secret}),
        ):
            if any(os.environ.get(name) for name in names):
                self.log.info(
                    "jupyter-mux: %s already set; kernels and terminals keep it", names[0]
                )
                continue
            exported.update(values)
        os.environ.update(exported)
        self._exported = exported
        if exported:
            self.log.info(
                "jupyter-mux: kernels and terminals get %s for %s",
                ", ".join(sorted(exported)),
                base,
            )

    def _unexport_env(self) -> None:
        """Only what this server exported, and only while it is still its value."""
        for name, value in self._exported.items():
            if os.environ.get(name) == value:
                del os.environ[name]
        self._exported = {}

    def make_store(self) -> Store:
        return Store(self.db_url, owner=self.user)

    def _initialize_remote(self) -> None:
        from .hub import remote

        self.remote = remote.Remote(
            self.hub_service,
            self.hub_service_url,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_connections=self.max_connections_per_provider,
            log=self.log,
        )
        # The server is the same Jupyter server, with the same start-up objects in the
        # collector's way (freeze_gc), whether the mux is here or forwarded.
        IOLoop.current().add_callback(self._announce)
        self.settings[remote.REMOTE_KEY] = self.remote
        self.startup_error = self.remote.check()
        if self.startup_error is not None:
            self.log.critical(self.startup_error)
            self.settings[STARTUP_ERROR_KEY] = self.startup_error
            return
        self.log.info(
            "jupyter-mux: remote mode: /mux/ forwarded to the Hub service '%s'", self.hub_service
        )
        if self.export_env:
            # The server's Hub token is its user's: this server accepts it (with the
            # `access:servers!server` scope of the Hub's `server` role) and forwards the
            # request with it anyway. Kernels already inherit it as JUPYTERHUB_API_TOKEN,
            # so pointing the SDKs' variables at it hands them nothing they did not hold;
            # a mux key would need a store this server does not have.
            IOLoop.current().add_callback(self._export_env, self.remote.token)

    def initialize_handlers(self) -> None:
        if self.hub_service:
            from .hub.remote import HANDLERS as REMOTE_HANDLERS

            self.handlers.extend(REMOTE_HANDLERS)
            return
        self.handlers.extend(HANDLERS)

    def _announce(self) -> None:
        """Runs once the loop turns, so the server is bound and its real URL known."""
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        if self.serverapp.starter_app is self:
            print(f"\n    Jupyter Mux: {self.mux_url}", flush=True)
            print("    (use the Jupyter token as the API key)\n", flush=True)
        else:
            self.log.info("jupyter-mux: OpenAI-compatible endpoint at %s", self.mux_url)

    @property
    def mux_url(self) -> str:
        return self.serverapp.connection_url.rstrip("/") + "/mux/v1"

    _demo: Demo | None = None

    recorder: UsageRecorder | None = None

    async def stop_extension(self) -> None:
        self._unexport_env()
        if self.remote is not None:
            await self.remote.aclose()
            return
        if self.recorder is not None:
            self._flusher.stop()
            self._syncer.stop()
            await self.recorder.flush()
        if self._demo is not None:
            self._demo.stop()
        await self.upstreams.aclose()
        if self.startup_error is None:
            self.service.close()
