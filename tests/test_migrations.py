"""Upgrades from what earlier releases wrote: every row kept, and kept where it was."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, inspect, text

from jupyter_mux.store import KeyRecord, Store, TargetRecord, migrations
from jupyter_mux.store.org import Org, Take

from .old_schemas import version_2, version_3, version_4

NOW = datetime(2026, 5, 1, tzinfo=timezone.utc)


def write_old_database(url: str, version: int) -> None:
    """A database as a user of that release has it: a provider with models and a key, two
    workspaces, the second active, and (from schema 2) a usage record."""
    meta = version_2()
    if version < 2:
        meta.remove(meta.tables["mux_usage"])
    engine = create_engine(url)
    meta.create_all(engine)
    t = meta.tables
    with engine.begin() as conn:
        conn.execute(t["mux_schema_version"].insert(), {"id": 1, "version": version})
        conn.execute(
            t["mux_setting"].insert(),
            [
                {"key": "active_workspace", "value": "work"},
                {"key": "key_check", "value": "check-old"},
                {"key": "revision", "value": "41"},
            ],
        )
        # Ids come from the database, as in real use (PostgreSQL's sequences included).
        gpu = conn.execute(
            t["mux_provider"].insert(),
            {
                "name": "gpu",
                "type": "vllm",
                "endpoint": "http://gpu:8000",
                "description": "the lab's",
                "auth_type": "api_key",
                "api_key_encrypted": "gAAAA-encrypted",
                "predefined": False,
                "status": "ok",
                "error": None,
                "models_refreshed_at": NOW,
                "created_at": NOW,
                "updated_at": NOW,
            },
        ).inserted_primary_key[0]
        conn.execute(
            t["mux_model"].insert(),
            [
                {"provider_id": gpu, "position": 0, "model_id": "big", "info_json": "{}"},
                {
                    "provider_id": gpu,
                    "position": 1,
                    "model_id": "small",
                    "info_json": json.dumps({"price": {"prompt": 1e-6, "completion": 2e-6}}),
                },
            ],
        )
        for name in ("default", "work"):
            work = conn.execute(
                t["mux_workspace"].insert(),
                {
                    "name": name,
                    "description": f"{name} things",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ).inserted_primary_key[0]
        rules = {
            (kind, pattern): conn.execute(
                t["mux_rule"].insert(),
                {"workspace_id": work, "position": i, "kind": kind, "pattern": pattern},
            ).inserted_primary_key[0]
            for i, (kind, pattern) in enumerate((("filename", "*.py"), ("catch_all", None)))
        }
        conn.execute(
            t["mux_target"].insert(),
            [
                {
                    "rule_id": rules[("filename", "*.py")],
                    "position": 0,
                    "provider_name": "gpu",
                    "model": "small",
                },
                *(
                    {
                        "rule_id": rules[("catch_all", None)],
                        "position": i,
                        "provider_name": "gpu",
                        "model": model,
                    }
                    for i, model in enumerate(("big", "small"))
                ),
            ],
        )
        if version >= 2:
            conn.execute(
                t["mux_usage"].insert(),
                {
                    "ts": NOW,
                    "workspace": "work",
                    "rule": "catch_all",
                    "provider": "gpu",
                    "model": "small",
                    "status": 200,
                    "prompt_tokens": 10,
                    "completion_tokens": 5,
                    "latency_ms": 12.5,
                    "ttft_ms": None,
                    "streamed": False,
                },
            )
    engine.dispose()


@pytest.mark.parametrize("version", [1, 2])
def test_upgrade_keeps_everything_for_the_single_user(empty_db_url, version):
    write_old_database(empty_db_url, version)
    store = Store(empty_db_url)
    try:
        assert store.initialize("check-new") == "check-old"
        with store.engine.connect() as conn:
            assert migrations.current_version(conn) == migrations.LATEST
            assert inspect(conn).has_table("mux_usage")
        assert store.revision() == "42"  # the upgrade's own write, after the kept revision
        snap = store.snapshot()
        assert snap.active == "work"
        assert sorted(snap.workspaces) == ["default", "work"]
        work = snap.workspaces["work"]
        assert work.description == "work things"
        assert [(r.kind, r.pattern, r.targets) for r in work.rules] == [
            ("filename", "*.py", (TargetRecord("gpu", "small"),)),
            ("catch_all", None, (TargetRecord("gpu", "big"), TargetRecord("gpu", "small"))),
        ]
        gpu = snap.providers["gpu"]
        assert (gpu.endpoint, gpu.api_key_encrypted, gpu.description) == (
            "http://gpu:8000",
            "gAAAA-encrypted",
            "the lab's",
        )
        assert [m.id for m in gpu.models] == ["big", "small"]
        assert gpu.models[1].info["price"] == {"prompt": 1e-6, "completion": 2e-6}
        totals = store.usage_totals("workspace")
        assert totals == ([("work", "gpu", "small", 1, 0, 10, 5)] if version == 2 else [])
        # Every old request was made with the Jupyter token (key ""); no keys yet.
        by_key = store.usage_totals("key")
        assert by_key == ([("", "gpu", "small", 1, 0, 10, 5)] if version == 2 else [])
        assert store.mux_keys() == []
    finally:
        store.dispose()


def test_upgraded_names_are_unique_per_user(empty_db_url):
    """After the upgrade a JupyterHub user starts fresh beside the single user's rows, and
    may reuse their names; the single user's names stay unique among themselves."""
    write_old_database(empty_db_url, 2)
    single, alice = Store(empty_db_url), Store(empty_db_url, owner="alice")
    try:
        single.initialize("check-old")
        alice.initialize("check-old")
        snap = alice.snapshot()
        assert list(snap.workspaces) == ["default"] and snap.active == "default"
        assert snap.providers == {} and alice.usage_totals("workspace") == []
        alice.create_workspace("work", "", None)
        alice.create_provider(name="gpu", type="vllm", endpoint="http://mine", auth_type="none")
        with pytest.raises(Exception, match="already"):
            single.create_workspace("work", "", None)
        assert single.snapshot().providers["gpu"].endpoint == "http://gpu:8000"
    finally:
        single.dispose()
        alice.dispose()


def test_upgrade_leaves_no_old_active_setting(empty_db_url):
    write_old_database(empty_db_url, 2)
    store = Store(empty_db_url)
    try:
        store.initialize("check-old")
        with store.engine.connect() as conn:
            keys = conn.execute(text("SELECT key FROM mux_setting ORDER BY key")).scalars().all()
        assert keys == ["key_check", "revision"]
    finally:
        store.dispose()


def test_upgrade_from_owners_adds_keys(empty_db_url):
    """Schema 3 -> 4: each owner's rows, active workspace and usage kept; usage rows get
    the Jupyter token's key (""); mux keys can be stored."""
    meta = version_3()
    engine = create_engine(empty_db_url)
    meta.create_all(engine)
    t = meta.tables
    with engine.begin() as conn:
        conn.execute(t["mux_schema_version"].insert(), {"id": 1, "version": 3})
        conn.execute(
            t["mux_setting"].insert(),
            [{"key": "key_check", "value": "check-old"}, {"key": "revision", "value": "7"}],
        )
        for owner in ("", "alice"):
            conn.execute(
                t["mux_workspace"].insert(),
                {
                    "owner": owner,
                    "name": "work",
                    "description": owner,
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            )
            conn.execute(t["mux_active"].insert(), {"owner": owner, "workspace": "work"})
            conn.execute(
                t["mux_usage"].insert(),
                {
                    "owner": owner,
                    "ts": NOW,
                    "workspace": "work",
                    "rule": "catch_all",
                    "provider": "gpu",
                    "model": "m",
                    "status": 200,
                    "prompt_tokens": 3 if owner else 2,
                    "completion_tokens": 1,
                    "latency_ms": 1.0,
                    "ttft_ms": None,
                    "streamed": False,
                },
            )
    engine.dispose()
    alice, single = Store(empty_db_url, owner="alice"), Store(empty_db_url)
    try:
        assert alice.initialize("check-new") == "check-old"
        with alice.engine.connect() as conn:
            assert migrations.current_version(conn) == migrations.LATEST
        for store, prompt in ((alice, 3), (single, 2)):
            snap = store.snapshot()
            assert snap.active == "work" and list(snap.workspaces) == ["work"]
            assert store.usage_totals("key") == [("", "gpu", "m", 1, 0, prompt, 1)]
            assert store.mux_keys() == []
        key = KeyRecord("k1", "agent", "mux-abcdefgh", "0" * 64, "work", None, 1.5, NOW, None)
        alice.add_key(key)
        assert alice.mux_keys() == [key] and single.mux_keys() == []
    finally:
        alice.dispose()
        single.dispose()


def test_upgrade_from_keys_adds_the_organisation(empty_db_url):
    """Schema 4 -> 5: keys, usage and workspaces kept; policies, members and budgets can
    be stored."""
    meta = version_4()
    engine = create_engine(empty_db_url)
    meta.create_all(engine)
    t = meta.tables
    with engine.begin() as conn:
        conn.execute(t["mux_schema_version"].insert(), {"id": 1, "version": 4})
        conn.execute(t["mux_setting"].insert(), {"key": "key_check", "value": "check-old"})
        conn.execute(
            t["mux_workspace"].insert(),
            {
                "owner": "alice",
                "name": "work",
                "description": "",
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        conn.execute(t["mux_active"].insert(), {"owner": "alice", "workspace": "work"})
        conn.execute(
            t["mux_key"].insert(),
            {
                "id": "k1",
                "owner": "alice",
                "name": "agent",
                "prefix": "mux-abcdefgh",
                "secret_hash": "0" * 64,
                "workspace": "work",
                "expires_at": None,
                "budget_usd": 1.5,
                "created_at": NOW,
                "last_used_at": None,
            },
        )
    engine.dispose()
    alice = Store(empty_db_url, owner="alice")
    try:
        assert alice.initialize("check-new") == "check-old"
        with alice.engine.connect() as conn:
            assert migrations.current_version(conn) == migrations.LATEST == 5
        assert list(alice.snapshot().workspaces) == ["work"]
        assert [k.id for k in alice.mux_keys()] == ["k1"]
        org = Org(alice.engine)
        assert org.policies() == [] and org.members() == []
        assert org.hold("h", [Take("user:alice", "2026-12", 10)], 5, NOW) is None
        assert org.counters([("user:alice", "2026-12")]) == {("user:alice", "2026-12"): (0, 5)}
    finally:
        alice.dispose()
