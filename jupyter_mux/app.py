"""The Jupyter server extension: configuration, wiring, start and stop."""

from __future__ import annotations

import gc
import os
from pathlib import Path

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
from .proxy import Proxy, Upstreams
from .response_store import ResponseStore
from .secrets import SecretBox, SecretKeyError
from .service import MuxService
from .store import Store
from .store.migrations import SchemaTooNew
from .usage import UsageRecorder

main = cli.main  # the console script of installs made before it moved to cli.py


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

    startup_error: str | None = None

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
                Store(self.db_url, owner=self.user),
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
            self.service.record_usage, self.service.purge_usage, self.usage_retention_days
        )
        self._flusher = PeriodicCallback(self.recorder.flush, 1000)
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
        IOLoop.current().add_callback(self._announce)

    def initialize_handlers(self) -> None:
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
        if self.recorder is not None:
            self._flusher.stop()
            self._syncer.stop()
            await self.recorder.flush()
        if self._demo is not None:
            self._demo.stop()
        await self.upstreams.aclose()
        if self.startup_error is None:
            self.service.close()
