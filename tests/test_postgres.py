"""The store and the management API on PostgreSQL, as a shared deployment runs them.

The store tests (tests/test_store.py, tests/test_org.py), the upgrade tests
(tests/test_migrations.py), the management-API tests (tests/test_api.py) and the hardening
tests (tests/test_hardening.py) are collected again here, with `store` and the
server's `MuxApp.db_url` pointing at a fresh PostgreSQL database per test; the few that read
the SQLite file have PostgreSQL versions below. Skipped unless JUPYTER_MUX_TEST_PG_URL is
set (`bash .ci/postgres.sh` prints one).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import inspect as sa_inspect

from jupyter_mux.errors import Conflict
from jupyter_mux.store import ModelRecord, Store, TargetRecord, migrations

from . import test_api, test_hardening, test_keys, test_migrations, test_org, test_store
from .pg import PG_URL, SKIP_REASON, Databases, pg_dump

pytestmark = pytest.mark.skipif(not PG_URL, reason=SKIP_REASON)

# -- the existing tests, again on PostgreSQL --------------------------------------------------

# Not re-run: they build a SQLite URL from tmp_path themselves, read the SQLite file, or do
# not touch the database at all. The ones about the database have PostgreSQL versions below.
NOT_REUSED = {
    "test_api_key_is_write_only_and_encrypted",  # -> test_pg_api_key_...
    "test_key_file_is_created_private_and_reused",
    "test_configured_key_wins_and_wrong_key_is_caught",
    "test_malformed_key",
    # test_hardening: these poison, read or stat the SQLite file.
    "TestPoisonedRow",
    "test_a_key_the_upstream_echoes_is_scrubbed_from_discovery",
    "test_a_new_sqlite_database_and_its_journals_are_private",
    "test_the_server_creates_its_database_private",
    "test_the_code_runs_on_the_python_it_declares",  # no database
    "test_a_mux_error_is_logged_once",  # no database
    "test_a_success_line_is_built_only_for_a_handler_that_writes_it",  # no database
    "test_the_secret_is_never_seen_again",  # -> test_pg_key_secret_is_only_hashed
}


def _reuse(module: Any) -> dict[str, Any]:
    """The module's tests (functions and Test classes) that this module runs again."""
    return {
        name: obj
        for name, obj in vars(module).items()
        if (
            (name.startswith("test_") and inspect.isfunction(obj))
            or (name.startswith("Test") and inspect.isclass(obj))
        )
        and name not in NOT_REUSED
    }


REUSED = {
    **_reuse(test_store),
    **_reuse(test_api),
    **_reuse(test_migrations),
    **_reuse(test_hardening),
    **_reuse(test_keys),
    **_reuse(test_org),
}
globals().update(REUSED)

# test_api's fixtures, looked up in the module that collects the test.
upstream = test_api.upstream
SECRET = test_api.SECRET
add_provider = test_store.add_provider
alice = test_store.alice
store = test_store.store
admin_and_alice = test_hardening.admin_and_alice
ollama = test_keys.ollama
org = test_org.org
mux_config = test_keys.mux_config  # no server key: test_keys counts the keys it makes
two_workspaces = test_keys.two_workspaces
flush = test_keys.flush


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases]:
    databases = Databases()
    yield databases
    databases.drop_all()


@pytest.fixture
def pg_db_url(pg_databases: Databases) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return pg_databases.create()


@pytest.fixture
def empty_db_url(pg_db_url: str) -> str:
    return pg_db_url


@pytest.fixture
def jp_server_config(pg_db_url: str, mux_config: dict[str, Any]) -> dict[str, Any]:
    """As in conftest.py, with the store on PostgreSQL."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mux": True}},
        "MuxApp": {"db_url": pg_db_url, "read_timeout": 30.0, **mux_config},
    }


def test_reuses_the_store_and_api_tests() -> None:
    """A guard: the re-collection above really picked the tests up."""
    assert "test_first_start" in REUSED and "test_provider_lifecycle" in REUSED
    assert "TestPredefinedProviders" in REUSED
    assert "test_upgrade_keeps_everything_for_the_single_user" in REUSED
    assert len(REUSED) >= 25, sorted(REUSED)


# -- PostgreSQL versions of the SQLite-specific tests -----------------------------------------


def test_pg_tables_are_ours_and_typed(store: Store) -> None:
    inspector = sa_inspect(store.engine)
    names = set(inspector.get_table_names())
    assert {"mux_provider", "mux_model", "mux_workspace", "mux_rule", "mux_target"} <= names
    assert all(name.startswith("mux_") for name in names), names
    columns = {c["name"]: c for c in inspector.get_columns("mux_provider")}
    assert "TIMESTAMP" in str(columns["created_at"]["type"]).upper()
    assert str(columns["predefined"]["type"]).upper() == "BOOLEAN"


async def test_pg_api_key_is_write_only_and_encrypted(api, upstream, pg_db_url) -> None:
    created = await api.ok(
        "POST",
        "providers",
        {"name": "hosted", "type": "openai", "endpoint": upstream.endpoint, "api_key": SECRET},
        201,
    )
    assert created["has_api_key"] and created["auth_type"] == "api_key"
    assert upstream.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    await api.ok("PATCH", "providers/hosted", {"api_key": ""})  # kept
    for path in ("providers", "providers/hosted", "providers/hosted/models", "workspaces"):
        _, body = await api("GET", path)
        assert SECRET not in str(body)

    engine = create_engine(pg_db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT api_key_encrypted FROM mux_provider WHERE name = 'hosted'")
            ).scalar_one()
            # Every row of every table, as text: what a dump of the database would hold.
            tables = [n for n in sa_inspect(conn).get_table_names() if n.startswith("mux_")]
            everything = "\n".join(
                row[0]
                for table in tables
                for row in conn.execute(text(f"SELECT t::text FROM {table} AS t"))
            )
    finally:
        engine.dispose()
    assert stored and stored != SECRET and SECRET not in stored
    assert SECRET not in everything and "hosted" in everything  # the live database
    dump = pg_dump(pg_db_url)
    if dump is not None:
        assert SECRET not in dump and "hosted" in dump

    dropped = await api.ok("PATCH", "providers/hosted", {"auth_type": "none"})
    assert dropped["has_api_key"] is False
    engine = create_engine(pg_db_url)
    try:
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT api_key_encrypted FROM mux_provider WHERE name = 'hosted'")
                ).scalar_one()
                is None
            )
    finally:
        engine.dispose()


# -- two servers on one database --------------------------------------------------------------


@pytest.fixture
def two_stores(pg_db_url: str) -> Iterator[tuple[Store, Store]]:
    a, b = Store(pg_db_url), Store(pg_db_url)
    yield a, b
    a.dispose()
    b.dispose()


def test_two_stores_see_each_others_writes(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    assert a.initialize("check-a") == "check-a"
    assert b.initialize("check-b") == "check-a"  # the second server adopts the first's check
    add_provider(a, "gpu")
    assert [m.id for m in b.snapshot().providers["gpu"].models] == ["m1", "m2"]
    b.create_workspace("shared", "made on b", TargetRecord("gpu", "m2"))
    a.set_active("shared")
    snap = b.snapshot()
    assert snap.active == "shared"
    assert snap.workspaces["shared"].preferred == TargetRecord("gpu", "m2")
    b.update_provider("gpu", name="gpu2")
    assert a.snapshot().workspaces["shared"].preferred == TargetRecord("gpu2", "m2")
    a.set_models("gpu2", [ModelRecord("m3")], status="ok", error=None)
    assert [m.id for m in b.snapshot().providers["gpu2"].models] == ["m3"]
    with pytest.raises(Conflict):
        add_provider(b, "gpu2")
    with pytest.raises(Conflict, match="active"):
        b.delete_workspace("shared")
    a.set_active("default")
    b.delete_workspace("shared")
    assert sorted(a.snapshot().workspaces) == ["default"]


def _race(jobs: list[Callable[[], Any]]) -> list[BaseException | None]:
    """Run the jobs at once, one thread each; each one's exception, or None."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[BaseException | None] = [None] * len(jobs)

    def run(index: int) -> None:
        barrier.wait()
        try:
            jobs[index]()
        except BaseException as exc:  # reported to the test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_two_stores_racing_for_one_name_get_a_conflict(two_stores: tuple[Store, Store]) -> None:
    a, b = two_stores
    a.initialize("c")
    b.initialize("c")
    for attempt in range(10):
        name = f"race{attempt}"
        outcomes = _race(
            [
                lambda s=s, n=name: s.create_provider(
                    name=n, type="vllm", endpoint="http://h", auth_type="none"
                )
                for s in (a, b)
            ]
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
    assert len(a.snapshot().providers) == 10


@pytest.mark.parametrize("schema", ["empty", "migrated"])
def test_two_servers_starting_together(two_stores: tuple[Store, Store], schema: str) -> None:
    """Two Jupyter servers pointed at one new database and started at the same moment both
    come up: neither fails on the other's half-made schema (`empty`) or on the other's
    `default` workspace and active setting (`migrated`: tables there, no rows yet)."""
    a, b = two_stores
    if schema == "migrated":
        migrations.migrate(a.engine)
    for _ in range(5 if schema == "migrated" else 1):
        checks: list[str] = []
        outcomes = _race([lambda s=s, c=checks: c.append(s.initialize("check")) for s in (a, b)])
        assert outcomes == [None, None], outcomes
        assert checks == ["check", "check"]
        snap = a.snapshot()
        assert list(snap.workspaces) == ["default"] and snap.active == "default"
        with a.engine.connect() as conn:
            assert migrations.current_version(conn) == migrations.LATEST
        if schema == "migrated":  # empty the tables again for the next round
            with a.engine.begin() as conn:
                for table in ("target", "rule", "workspace", "active", "setting"):
                    conn.execute(text(f"DELETE FROM mux_{table}"))


# -- what PostgreSQL refuses and SQLite takes -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("POST", "workspaces", {"name": "w", "description": "a\u0000b"}),
        ("PATCH", "workspaces/default", {"description": "a\u0000b"}),
        ("POST", "providers", {"name": "p", "type": "vllm", "description": "a\u0000b"}),
    ],
)
async def test_pg_nul_character_is_not_a_server_error(api, free_port, method, route, body):
    """A NUL character is valid JSON and passes validation, but PostgreSQL text cannot hold
    it: the API must answer 400 (or store it faithfully), never 500."""
    if route == "providers":
        body = {**body, "endpoint": f"http://127.0.0.1:{free_port}"}
    code, answer = await api(method, route, body)
    assert code < 500, (code, answer)
    if code < 300:
        assert answer["description"] == "a\u0000b"
    else:
        assert code == 400 and "description" in answer["message"], answer


async def test_pg_key_secret_is_only_hashed(api, pg_db_url) -> None:
    created = await api.ok("POST", "keys", {"name": "hashed"}, 201)
    secret = created["secret"]
    engine = create_engine(pg_db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT t::text FROM mux_key AS t")).scalars().all()
    finally:
        engine.dispose()
    assert any(created["prefix"] in row for row in rows)
    assert not any(secret in row for row in rows)
    dump = pg_dump(pg_db_url)
    if dump is not None:
        assert secret not in dump and created["prefix"] in dump
