"""Issue 13: what an attack on a running server found, each item pinned by a test in a real
Jupyter server over real sockets."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_mux.errors import InvalidRequest
from jupyter_mux.secrets import SecretBox
from jupyter_mux.service import MuxService
from jupyter_mux.store import ModelRecord, Store, TargetRecord
from jupyter_mux.upstream_errors import REDACTED

from .conftest import bearer, mux_chat
from .loopback import LoopbackHandler, LoopbackServer
from .recording_upstream import RecordingUpstream

# Endpoints that `urlsplit` accepts but the HTTP client refuses (issue 13, item 1).
POISONED_ENDPOINTS = [
    "http://127.0.0.1:9/o\tk",
    "http://127.0.0.1:9/o\r\nk",
    "http://127.0.0.1:9/o\x7fk",
    "http://[v1.x]:9",
    "http://a..b:9",
]


@pytest.fixture
def upstream():
    with RecordingUpstream() as up:
        yield up


# -- 1. endpoint poisoning -------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", POISONED_ENDPOINTS)
async def test_poisoned_endpoint_is_refused_naming_the_field(api, upstream, endpoint):
    body = {"name": "t", "type": "vllm", "endpoint": endpoint, "auth_type": "none"}
    code, error = await api("POST", "providers", body)
    assert code == 400 and "'endpoint'" in error["message"], error
    await api.ok(
        "POST", "providers", {"name": "good", "type": "vllm", "endpoint": upstream.endpoint}, 201
    )
    code, error = await api("PATCH", "providers/good", {"endpoint": endpoint})
    assert code == 400 and "'endpoint'" in error["message"], error
    # Nothing was stored, and later writes still answer.
    assert [p["name"] for p in await api.ok("GET", "providers")] == ["good"]
    assert (await api.ok("GET", "providers/good"))["endpoint"] == upstream.endpoint
    await api.ok("PATCH", "providers/good", {"description": "still fine"})


def poison(db_path: Path, good_endpoint: str) -> None:
    """A database as a hand edit could leave it: a provider whose endpoint no request can
    be sent to, next to a good one, each preferred by a workspace."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    box = SecretBox.from_config("", db_path.parent / "mux.key")
    store = Store(f"sqlite:///{db_path}")
    try:
        store.initialize(box.key_check())
        for name, endpoint in (("good", good_endpoint), ("bad", POISONED_ENDPOINTS[0])):
            store.create_provider(
                name=name,
                type="vllm",
                endpoint=endpoint,
                description="",
                auth_type="none",
                api_key_encrypted=None,
            )
            store.set_models(name, [ModelRecord("rec-model")], status="ok", error=None)
            store.create_workspace(f"w-{name}", "", TargetRecord(name, "rec-model"))
    finally:
        store.dispose()


class TestPoisonedRow:
    @pytest.fixture
    def mux_config(self, db_path, upstream) -> dict[str, Any]:
        poison(db_path, upstream.endpoint)
        return {}

    async def test_marks_the_provider_broken_and_the_rest_still_works(
        self, api, upstream, mux_url, token
    ):
        providers = {p["name"]: p for p in await api.ok("GET", "providers")}
        assert providers["good"]["status"] == "ok"
        bad = providers["bad"]
        assert bad["status"] == "error" and "endpoint" in bad["error"], bad
        workspace = await api.ok("GET", "workspaces/w-bad")
        assert not workspace["preferred_ok"] and "endpoint" in workspace["problem"]
        async with httpx.AsyncClient() as http:
            ok = await mux_chat(http, mux_url.replace("/mux/v1", "/mux/w/w-good/v1"), token)
            assert ok.status_code == 200, ok.text
            refused = await mux_chat(http, mux_url.replace("/mux/v1", "/mux/w/w-bad/v1"), token)
        assert refused.status_code == 409, refused.text
        assert "endpoint" in refused.json()["error"]["message"]
        # Refreshing it records why, and fixing the endpoint makes it route.
        refreshed = await api.ok("POST", "providers/bad/refresh")
        assert refreshed["status"] == "error" and "endpoint" in refreshed["error"]
        fixed = await api.ok("PATCH", "providers/bad", {"endpoint": upstream.endpoint})
        assert fixed["status"] == "ok" and fixed["error"] is None, fixed
        async with httpx.AsyncClient() as http:
            now = await mux_chat(http, mux_url.replace("/mux/v1", "/mux/w/w-bad/v1"), token)
        assert now.status_code == 200, now.text


# -- 2. key re-targeting ---------------------------------------------------------------------

SECRET = "sk-live-0123456789abcdef-SECRET"


async def test_moving_the_endpoint_to_another_origin_drops_the_key(api, upstream):
    body = {"name": "hosted", "type": "openai", "endpoint": upstream.endpoint, "api_key": SECRET}
    await api.ok("POST", "providers", body, 201)
    # Same origin (only the path differs): the key stays.
    same = await api.ok("PATCH", "providers/hosted", {"endpoint": upstream.endpoint + "/v1"})
    assert same["has_api_key"]
    assert upstream.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    with RecordingUpstream() as other:
        moved = await api.ok("PATCH", "providers/hosted", {"endpoint": other.endpoint})
        assert moved["has_api_key"] is False and moved["status"] == "ok", moved
        assert other.requests and all(SECRET not in str(r) for r in other.requests)
        # A key given with the move goes to the new origin.
        await api.ok("PATCH", "providers/hosted", {"endpoint": upstream.endpoint})
        keyed = await api.ok(
            "PATCH", "providers/hosted", {"endpoint": other.endpoint, "api_key": "sk-new-key-1"}
        )
        assert keyed["has_api_key"]
        assert other.requests[-1]["headers"]["authorization"] == "Bearer sk-new-key-1"
    assert all(SECRET not in str(r) for r in other.requests)


# -- 3. key echo -----------------------------------------------------------------------------


class EchoingUpstream(LoopbackServer):
    """Refuses every key and quotes it back, as some providers' 401 messages do."""

    def _handler_class(self) -> type[LoopbackHandler]:
        class Handler(LoopbackHandler):
            def do_GET(self) -> None:
                sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
                data = json.dumps(
                    {"error": {"message": f"Incorrect API key provided: {sent}. Try again."}}
                ).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def mux_log(jp_serverapp, caplog):
    """What the mux logs (its logger does not propagate to the root one caplog watches)."""
    log = jp_serverapp.web_app.settings["jupyter_mux_service"].log
    log.addHandler(caplog.handler)
    yield caplog
    log.removeHandler(caplog.handler)


async def test_a_key_the_upstream_echoes_is_scrubbed_from_discovery(api, db_path, mux_log):
    with EchoingUpstream() as echo:
        body = {"name": "echo", "type": "openai", "endpoint": echo.endpoint, "api_key": SECRET}
        created = await api.ok("POST", "providers", body, 201)
        refreshed = await api.ok("POST", "providers/echo/refresh")
    for provider in (created, refreshed, *await api.ok("GET", "providers")):
        assert provider["status"] == "error" and REDACTED in provider["error"], provider
        assert SECRET not in json.dumps(provider)
    assert REDACTED in mux_log.text and SECRET not in mux_log.text
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob("mux.sqlite*"))
    assert b"Incorrect API key" in raw and SECRET.encode() not in raw


# -- 5. stream_options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ("x", "stream_options"),
        ([1], "stream_options"),
        (7, "stream_options"),
        ({"include_usage": "yes"}, "stream_options.include_usage"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_stream_options_must_be_an_object(
    api, upstream, mux_url, token, options, param, stream
):
    await api.use({"name": "rec", "type": "vllm", "endpoint": upstream.endpoint}, "rec-model")
    async with httpx.AsyncClient() as http:
        response = await mux_chat(http, mux_url, token, stream=stream, stream_options=options)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert not [r for r in upstream.requests if r.get("body")]  # refused before the upstream


# -- 6. usage times, 9. auth parameters ------------------------------------------------------


async def test_usage_accepts_dates_and_naive_times_as_utc(
    api, upstream, jp_serverapp, mux_url, token
):
    await api.use({"name": "rec", "type": "vllm", "endpoint": upstream.endpoint}, "rec-model")
    async with httpx.AsyncClient() as http:
        assert (await mux_chat(http, mux_url, token)).status_code == 200
    await jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush()
    now = datetime.now(timezone.utc)
    today, day = now.date(), timedelta(days=1)
    naive = "%Y-%m-%dT%H:%M:%S"
    counted = {
        f"since={today}": 1,
        f"since={today + day}": 0,
        f"until={today}": 0,
        f"until={today + day}": 1,
        f"since={(now - timedelta(hours=1)).strftime(naive)}": 1,
        f"since={(now + timedelta(hours=1)).strftime(naive)}": 0,
        f"since={today}T00:00:00%2B14:00&until={today + day}T00:00:00-12:00": 1,
        f"since={today}&group_by=day": 1,
    }
    for query, requests in counted.items():
        usage = await api.ok("GET", f"usage?{query}")
        assert usage["totals"]["requests"] == requests, (query, usage)
    for query in (
        "since=2026-13-01",
        "since=2026-11-01T25:00",
        "since=9999-12-31T23:00:00-05:00",
        "until=0001-01-01T00:00:00%2B01:00",
    ):
        code, error = await api("GET", f"usage?{query}")
        assert code == 400 and query.split("=")[0] in error["message"], (query, error)


async def test_auth_parameters_are_not_fields(server_url, token):
    async with httpx.AsyncClient() as http:
        for path in ("usage", "usage?since=2026-11-01", "providers", "workspaces"):
            sep = "&" if "?" in path else "?"
            response = await http.get(f"{server_url}mux/api/{path}{sep}token={token}")
            assert response.status_code == 200, (path, response.text)
        unknown = await http.get(f"{server_url}mux/api/usage?token={token}&colour=red")
        assert unknown.status_code == 400 and "colour" in unknown.json()["message"]


# -- 8. NUL in upstream strings --------------------------------------------------------------


class NulUpstream(LoopbackServer):
    """Lists a model whose id holds a NUL, or fails with a message that does."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        super().__init__()

    def _handler_class(self) -> type[LoopbackHandler]:
        upstream = self

        class Handler(LoopbackHandler):
            def do_GET(self) -> None:
                if upstream.fail:
                    status, payload = 500, {"error": {"message": "broken\x00here"}}
                else:
                    models = [{"id": "nul\x00model", "note": "a\x00b"}, {"id": "ok-model"}]
                    status, payload = 200, {"object": "list", "data": models}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.mark.parametrize("fail", [False, True])
async def test_nul_in_upstream_strings_is_cleaned_before_it_is_stored(api, fail):
    with NulUpstream(fail=fail) as up:
        body = {"name": "nul", "type": "vllm", "endpoint": up.endpoint}
        created = await api.ok("POST", "providers", body, 201)
    assert "\x00" not in json.dumps(created, ensure_ascii=False)
    if fail:
        assert created["status"] == "error" and "brokenhere" in created["error"], created
    else:
        assert created["models"] == ["nulmodel", "ok-model"], created
        models = await api.ok("GET", "providers/nul/models")
        assert models[0]["note"] == "a\x00b"  # metadata is JSON: kept, escaped
    assert (await api.ok("GET", "providers/nul"))["name"] == "nul"


async def test_a_create_is_all_or_nothing(api, upstream, jp_serverapp, monkeypatch):
    store = jp_serverapp.web_app.settings["jupyter_mux_service"].store

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise InvalidRequest("A value cannot be stored: it contains characters ...")

    monkeypatch.setattr(store, "set_models", refuse)
    body = {"name": "half", "type": "vllm", "endpoint": upstream.endpoint}
    code, error = await api("POST", "providers", body)
    assert code == 400, error
    assert await api.ok("GET", "providers") == []
    monkeypatch.undo()
    assert (await api.ok("POST", "providers", body, 201))["status"] == "ok"


# -- 10. file modes --------------------------------------------------------------------------


def test_a_new_sqlite_database_and_its_journals_are_private(tmp_path):
    path = tmp_path / "data" / "mux.sqlite"
    store = Store(f"sqlite:///{path}")
    try:
        store.initialize("check")
        with store.engine.connect() as conn:  # WAL and shared-memory files, as WAL mode has
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            conn.exec_driver_sql("CREATE TABLE t (x)")
            conn.commit()
            files = sorted(path.parent.glob("mux.sqlite*"))
            assert [f.name for f in files] == ["mux.sqlite", "mux.sqlite-shm", "mux.sqlite-wal"]
            assert {f.name: f.stat().st_mode & 0o777 for f in files} == dict.fromkeys(
                (f.name for f in files), 0o600
            )
    finally:
        store.dispose()


async def test_the_server_creates_its_database_private(api, db_path):
    await api.ok("PUT", "active", {"name": "default"})
    assert db_path.stat().st_mode & 0o777 == 0o600
    assert (db_path.parent / "mux.key").stat().st_mode & 0o777 == 0o600


# -- 12. shared providers --------------------------------------------------------------------

SHIPPED = {
    "name": "shipped",
    "type": "vllm",
    "endpoint": "http://admin-box:8000",
    "description": "",
    "auth_type": "none",
    "api_key_encrypted": None,
}


@pytest.fixture
def admin_and_alice(empty_db_url):
    """The single-user owner's store and a JupyterHub user's, on one database."""
    stores = [Store(empty_db_url), Store(empty_db_url, owner="alice")]
    for store in stores:
        store.initialize("check")
    yield stores
    for store in stores:
        store.dispose()


def test_a_configuration_never_rewrites_a_shared_provider(admin_and_alice):
    admin, alice = admin_and_alice
    assert admin.sync_predefined([SHIPPED]) == []
    evil = {**SHIPPED, "endpoint": "http://alice-box:8000"}
    assert alice.sync_predefined([evil]) == [("shipped", ["endpoint"])]
    assert alice.sync_predefined([]) == []  # nor drops it
    alice.create_workspace("mine", "", None)
    # Once another user's server uses the database, not even the single-user owner does.
    assert admin.sync_predefined([evil]) == [("shipped", ["endpoint"])]
    for store in (admin, alice):
        provider = store.snapshot().providers["shipped"]
        assert provider.predefined and provider.endpoint == SHIPPED["endpoint"]
    assert alice.sync_predefined([SHIPPED]) == []  # the same values are no change


def test_a_single_users_configuration_still_applies(empty_db_url):
    admin = Store(empty_db_url)
    admin.initialize("check")
    admin.sync_predefined([SHIPPED])
    assert admin.sync_predefined([{**SHIPPED, "endpoint": "http://new:1"}]) == []
    assert admin.snapshot().providers["shipped"].endpoint == "http://new:1"
    admin.dispose()


async def test_a_server_without_the_key_variable_keeps_the_shared_key(
    empty_db_url, tmp_path, monkeypatch, caplog
):
    box = SecretBox.from_config("", tmp_path / "mux.key")
    spec = {"name": "hosted", "type": "openai", "api_key_env": "MUX_TEST_SHARED_KEY"}

    async def start(owner: str = "") -> Any:
        service = MuxService(
            Store(empty_db_url, owner=owner),
            box,
            httpx.AsyncClient(),
            discovery_timeout=httpx.Timeout(1),
            log=logging.getLogger("test-shared"),
        )
        service.start([spec])
        provider = (await service.get_provider("hosted")).model_dump()
        key = service._api_key(service.store.snapshot().providers["hosted"])
        await service.client.aclose()
        service.close()
        return provider, key

    monkeypatch.setenv("MUX_TEST_SHARED_KEY", SECRET)
    first, key = await start()
    assert first["has_api_key"] and first["auth_type"] == "api_key" and key == SECRET
    monkeypatch.delenv("MUX_TEST_SHARED_KEY")
    for owner in ("", "bob"):
        again, key = await start(owner)
        assert again["has_api_key"] and again["auth_type"] == "api_key" and key == SECRET
    assert "MUX_TEST_SHARED_KEY is not set" in caplog.text
    monkeypatch.setenv("MUX_TEST_SHARED_KEY", "sk-bobs-own-key")
    _, key = await start("bob")
    assert key == SECRET
    assert "keeping the stored one" in caplog.text and "api_key_encrypted" in caplog.text


# -- 13. one log line per error --------------------------------------------------------------


@pytest.fixture
def every_log(jp_serverapp):
    """Every record the server's loggers emit, once each, whichever logger they pass."""
    records: dict[int, logging.LogRecord] = {}

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records[id(record)] = record

    handler = Collect(logging.DEBUG)
    service_log = jp_serverapp.web_app.settings["jupyter_mux_service"].log
    loggers = {logging.getLogger(), logging.getLogger("tornado"), jp_serverapp.log, service_log}
    for log in loggers:
        log.addHandler(handler)
    yield records
    for log in loggers:
        log.removeHandler(handler)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("v1/chat/completions", {"messages": 1}, "'messages' must be a non-empty array"),
        ("api/providers", {"name": "x", "type": "gpt", "d": "100%s"}, "unknown provider type"),
        ("api/workspaces/import", {"name": "x%d", "rules": []}, "'name' must be"),
    ],
)
async def test_a_mux_error_is_logged_once(server_url, token, every_log, path, body, message):
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server_url}mux/{path}", headers=bearer(token), json=body)
    assert 400 <= response.status_code < 500
    lines = [r.getMessage() for r in every_log.values() if f"/mux/{path}" in r.getMessage()]
    assert len(lines) == 1, lines  # one line: the request, its status and why
    assert lines[0].startswith(f"{response.status_code} POST /") and message in lines[0]


def test_the_code_runs_on_the_python_it_declares():
    """requires-python is a promise: nothing in the package, tests or bench may need a
    newer Python (vermin reads the code for the versions its syntax and stdlib uses need)."""
    pytest.importorskip("vermin")
    root = Path(__file__).parent.parent
    floor = re.search(r'requires-python = ">=([\d.]+)"', (root / "pyproject.toml").read_text())
    assert floor, "pyproject.toml declares requires-python"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, vermin; sys.exit(vermin.main())",
            f"-t={floor.group(1)}-",
            "--no-tips",
            "--violations",
            "--eval-annotations",
            "jupyter_mux",
            "tests",
            "bench",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- the access line -------------------------------------------------------------------------


@pytest.fixture
def built_records() -> Any:
    """The message of every log record built while the test runs."""
    built: list[str] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        built.append(record.getMessage())
        return record

    logging.setLogRecordFactory(counting)
    yield built
    logging.setLogRecordFactory(factory)


async def test_a_success_line_is_built_only_for_a_handler_that_writes_it(
    jp_fetch, jp_serverapp, built_records
):
    """Jupyter logs a successful request at debug level; its record is built only where a
    handler would write it out (its duration metric is recorded either way), and a
    failure's line is written as before."""
    (app,) = jp_serverapp.extension_manager.extension_apps["jupyter_mux"]
    log = app.log
    written: list[str] = []

    def handler(level: int) -> logging.Handler:
        handler = logging.Handler(level)
        handler.emit = lambda record: written.append(record.getMessage())  # type: ignore[method-assign]
        return handler

    from prometheus_client import REGISTRY

    labels = {
        "method": "GET",
        "handler": "jupyter_mux.handlers.mux.ModelsHandler",
        "status_code": "200",
    }

    def timed() -> float:
        """How many of those requests Jupyter's request-duration metric has seen."""
        return REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0

    saved = log.level, log.propagate, log.handlers[:]
    # As traitlets sets it up in `jupyter lab` and `jupyter mux`: the logger at DEBUG, its
    # one handler at the log level (INFO).
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.handlers[:] = [handler(logging.INFO)]
    try:
        before = timed()
        await jp_fetch("mux", "v1", "models")
        assert timed() == before + 1  # the line is skipped, not the metric
        with pytest.raises(Exception) as missing:
            await jp_fetch("mux", "v1", "nowhere")
        assert missing.value.code == 404
        assert not any("/mux/v1/models" in line for line in built_records), built_records
        assert any(line.startswith("404 GET ") and "/mux/v1/nowhere" in line for line in written)
        log.handlers[:] = [handler(logging.DEBUG)]  # --debug
        await jp_fetch("mux", "v1", "models")
    finally:
        log.setLevel(saved[0])  # and clears the logger's cache of levels
        log.propagate, log.handlers[:] = saved[1:]
    assert any(line.startswith("200 GET ") and "/mux/v1/models" in line for line in written)
