"""The store on its own: schema versions, the default workspace, and data that survives."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from jupyter_mux.errors import Conflict, NotFound
from jupyter_mux.secrets import SecretBox, SecretKeyError
from jupyter_mux.store import KEEP, KeyRecord, ModelRecord, Store, TargetRecord, migrations


@pytest.fixture
def store(empty_db_url):
    store = Store(empty_db_url)
    store.initialize("check")
    yield store
    store.dispose()


def add_provider(store: Store, name: str = "p", models=("m1", "m2")) -> None:
    store.create_provider(name=name, type="vllm", endpoint="http://h:8000", auth_type="none")
    store.set_models(name, [ModelRecord(m) for m in models], status="ok", error=None)


def test_first_start(store):
    snap = store.snapshot()
    assert list(snap.workspaces) == ["default"] and snap.active == "default"
    assert snap.workspaces["default"].preferred is None
    with store.engine.connect() as conn:
        assert migrations.current_version(conn) == migrations.LATEST


def test_initialize_is_idempotent_and_keeps_data(empty_db_url):
    first = Store(empty_db_url)
    assert first.initialize("check-1") == "check-1"
    add_provider(first)
    first.create_workspace("w", "", TargetRecord("p", "m1"))
    first.set_active("w")
    first.dispose()
    again = Store(empty_db_url)
    try:
        assert again.initialize("check-2") == "check-1"
        snap = again.snapshot()
        assert snap.active == "w" and sorted(snap.workspaces) == ["default", "w"]
        assert [m.id for m in snap.providers["p"].models] == ["m1", "m2"]
    finally:
        again.dispose()


def test_migration_steps_run_in_order_and_keep_rows(store, monkeypatch):
    add_provider(store)

    def add_column(conn):
        conn.execute(text("ALTER TABLE mux_provider ADD COLUMN extra VARCHAR DEFAULT 'x'"))

    monkeypatch.setattr(migrations, "LATEST", migrations.LATEST + 1)
    monkeypatch.setitem(migrations.MIGRATIONS, migrations.LATEST, add_column)
    assert migrations.migrate(store.engine) == migrations.LATEST - 1
    with store.engine.connect() as conn:
        assert migrations.current_version(conn) == migrations.LATEST
        assert conn.execute(text("SELECT name, extra FROM mux_provider")).all() == [("p", "x")]
    assert migrations.migrate(store.engine) == migrations.LATEST  # nothing left to do


def test_newer_schema_is_refused(store, monkeypatch):
    monkeypatch.setattr(migrations, "LATEST", 0)
    with pytest.raises(migrations.SchemaTooNew, match="Upgrade jupyter-mux"):
        migrations.migrate(store.engine)


def test_failed_discovery_keeps_last_models(store):
    add_provider(store)
    store.set_models("p", None, status="error", error="down")
    provider = store.snapshot().providers["p"]
    assert [m.id for m in provider.models] == ["m1", "m2"]
    assert (provider.status, provider.error) == ("error", "down")


def test_duplicate_models_are_folded(store):
    add_provider(store, models=("a", "b", "a"))
    assert [m.id for m in store.snapshot().providers["p"].models] == ["a", "b"]


def test_workspace_preferred_is_catch_all_first_target(store):
    add_provider(store)
    store.create_workspace("w", "d", TargetRecord("p", "m1"))
    rules = store.snapshot().workspaces["w"].rules
    assert [(r.kind, r.targets) for r in rules] == [("catch_all", (TargetRecord("p", "m1"),))]
    store.update_workspace("w", preferred=TargetRecord("p", "m2"))
    store.update_workspace("w", description="kept", preferred=KEEP)
    workspace = store.snapshot().workspaces["w"]
    assert workspace.preferred == TargetRecord("p", "m2") and workspace.description == "kept"
    store.update_workspace("w", preferred=None)
    assert store.snapshot().workspaces["w"].preferred is None


def test_deleting_provider_keeps_workspace_target(store):
    add_provider(store)
    store.create_workspace("w", "", TargetRecord("p", "m1"))
    store.delete_provider("p")
    snap = store.snapshot()
    assert "p" not in snap.providers
    assert snap.workspaces["w"].preferred == TargetRecord("p", "m1")


def test_conflicts_and_missing(store):
    add_provider(store)
    with pytest.raises(Conflict):
        add_provider(store)
    with pytest.raises(Conflict):
        store.create_workspace("default", "", None)
    with pytest.raises(NotFound):
        store.set_active("ghost")
    with pytest.raises(Conflict, match="active"):
        store.delete_workspace("default")
    store.create_workspace("w", "", None)
    with pytest.raises(Conflict):
        store.update_workspace("w", new_name="default")
    assert sorted(store.snapshot().workspaces) == ["default", "w"]


def test_a_write_and_its_read_back_are_one_transaction(store):
    """What `service.base` relies on: the read-back sees the write (as a later snapshot
    will, not as the write's own objects hold it), and a failure keeps nothing of it."""
    before = store.revision()
    with store.transaction():
        add_provider(store, "q")
        store.create_workspace("w", "", TargetRecord("q", "m1"))
        store.update_workspace("w", description="changed", preferred=TargetRecord("q", "m2"))
        inside = store.changes(["w"], ["q"])
    after = store.snapshot()
    assert inside.providers["q"] == after.providers["q"]
    assert inside.workspaces["w"] == after.workspaces["w"]
    assert after.workspaces["w"].preferred == TargetRecord("q", "m2")
    assert inside.revision == store.revision() != before

    before = store.revision()
    with pytest.raises(Conflict), store.transaction():
        store.update_workspace("w", description="lost")
        store.update_workspace("w", new_name="default")
    assert store.revision() == before
    assert store.snapshot().workspaces == after.workspaces


def test_renaming_active_workspace_keeps_it_active(store):
    store.update_workspace("default", new_name="main")
    assert store.snapshot().active == "main"


def test_predefined_sync(store):
    row = {
        "name": "shipped",
        "type": "vllm",
        "endpoint": "http://a",
        "description": "",
        "auth_type": "none",
        "api_key_encrypted": None,
    }
    store.sync_predefined([row])
    store.sync_predefined([{**row, "endpoint": "http://b"}])
    provider = store.snapshot().providers["shipped"]
    assert provider.predefined and provider.endpoint == "http://b"
    store.sync_predefined([])
    assert store.snapshot().providers["shipped"].predefined is False


# -- users sharing one database (JupyterHub) ------------------------------------------------


@pytest.fixture
def alice(store):
    """A JupyterHub user's store on the same database as `store`, the single-user owner's."""
    alice = Store(store.engine.url.render_as_string(hide_password=False), owner="alice")
    alice.initialize("check")
    yield alice
    alice.dispose()


def test_each_user_has_their_own_workspaces_and_active_workspace(store, alice):
    assert list(alice.snapshot().workspaces) == ["default"]
    alice.create_workspace("w", "alice's", None)
    alice.set_active("w")
    store.create_workspace("w", "the single user's", None)  # the same name, another owner
    assert (store.snapshot().active, alice.snapshot().active) == ("default", "w")
    alice.update_workspace("w", new_name="renamed")
    store.delete_workspace("w")
    assert sorted(store.snapshot().workspaces) == ["default"]
    mine = alice.snapshot()
    assert sorted(mine.workspaces) == ["default", "renamed"] and mine.active == "renamed"
    assert mine.workspaces["renamed"].description == "alice's"
    with pytest.raises(NotFound):
        store.set_active("renamed")
    with pytest.raises(Conflict, match="active"):
        alice.delete_workspace("renamed")


def test_personal_providers_are_private_and_predefined_ones_shared(store, alice):
    store.sync_predefined(
        [{"name": "shipped", "type": "vllm", "endpoint": "http://s", "auth_type": "none"}]
    )
    add_provider(store, "p")
    add_provider(alice, "p", models=("a1",))  # the same name, another owner
    with pytest.raises(Conflict):
        add_provider(alice, "shipped")
    assert sorted(alice.snapshot().providers) == ["p", "shipped"]
    assert [m.id for m in alice.snapshot().providers["p"].models] == ["a1"]
    store.create_workspace("w", "", TargetRecord("p", "m1"))
    alice.create_workspace("w", "", TargetRecord("p", "a1"))
    alice.update_provider("p", name="mine")  # re-targets alice's rules, not the other's
    assert alice.snapshot().workspaces["w"].preferred == TargetRecord("mine", "a1")
    assert store.snapshot().workspaces["w"].preferred == TargetRecord("p", "m1")
    alice.delete_provider("mine")
    assert [m.id for m in store.snapshot().providers["p"].models] == ["m1", "m2"]


def test_a_users_own_provider_wins_over_a_shared_one_named_later(store, alice):
    """Configuration may ship a provider named like one a user made before: the user keeps
    routing to their own."""
    add_provider(alice, "lab")
    store.sync_predefined(
        [{"name": "lab", "type": "vllm", "endpoint": "http://shared", "auth_type": "none"}]
    )
    assert alice.snapshot().providers["lab"].endpoint == "http://h:8000"
    assert store.snapshot().providers["lab"].endpoint == "http://shared"
    alice.set_models("lab", [ModelRecord("x")], status="ok", error=None)
    assert [m.id for m in alice.snapshot().providers["lab"].models] == ["x"]
    assert store.snapshot().providers["lab"].models == ()


def test_usage_is_each_users_own(store, alice):
    now = datetime.now(timezone.utc)
    row = {"ts": now, "workspace": "default", "status": 200, "latency_ms": 1.0}
    store.add_usage([row, row])
    alice.add_usage([{**row, "ts": now - timedelta(days=2)}])
    assert [r[3] for r in store.usage_totals("workspace")] == [2]
    assert [r[3] for r in alice.usage_totals("workspace")] == [1]
    store.purge_usage(now - timedelta(days=1))  # the single user's retention, not alice's
    assert [r[3] for r in alice.usage_totals("workspace")] == [1]


# -- secrets ---------------------------------------------------------------------------------


def test_key_file_is_created_private_and_reused(tmp_path):
    key_file = tmp_path / "keys" / "mux.key"
    box = SecretBox.from_config("", key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    token = box.encrypt("sk-123")
    assert "sk-123" not in token
    assert SecretBox.from_config("", key_file).decrypt(token) == "sk-123"


def test_configured_key_wins_and_wrong_key_is_caught(tmp_path):
    key = Fernet.generate_key().decode()
    box = SecretBox.from_config(key, tmp_path / "unused.key")
    assert not (tmp_path / "unused.key").exists()
    check = box.key_check()
    box.verify(check)
    other = SecretBox(Fernet.generate_key())
    with pytest.raises(SecretKeyError, match="does not match"):
        other.verify(check)
    with pytest.raises(SecretKeyError, match="cannot be decrypted"):
        other.decrypt(box.encrypt("sk"))


def test_malformed_key(tmp_path):
    with pytest.raises(SecretKeyError, match="malformed"):
        SecretBox.from_config("not-a-key", tmp_path / "k")


async def test_servers_sharing_a_database_pick_up_each_others_changes(tmp_path):
    """Server B routes by what server A activated, after one sync (no restart)."""
    import logging

    import httpx

    from jupyter_mux.service import MuxService

    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    box = SecretBox.from_config("", tmp_path / "mux.key")
    services = [
        MuxService(
            Store(url),
            box,
            httpx.AsyncClient(),
            discovery_timeout=httpx.Timeout(1),
            log=logging.getLogger("test"),
        )
        for _ in range(2)
    ]
    a, b = services
    try:
        a.start([])
        b.start([])
        await a._db(a.store.create_workspace, "other", "", None)
        await a.set_active("other")
        assert (a.routing.active, b.routing.active) == ("other", "default")
        await b.sync()
        assert b.routing.active == "other" and "other" in b.routing.workspaces
        revision = b._revision
        await b.sync()  # nothing new: no reload
        assert b._revision == revision
    finally:
        for service in services:
            await service.client.aclose()
            service.close()


def _key(key_id: str, name: str, **kw) -> KeyRecord:
    values = {
        "prefix": "mux-" + key_id.ljust(8, "x"),
        "secret_hash": key_id.ljust(64, "0"),
        "workspace": None,
        "expires_at": None,
        "budget_usd": None,
        "created_at": datetime(2026, 11, 1, tzinfo=timezone.utc),
        "last_used_at": None,
        **kw,
    }
    return KeyRecord(id=key_id, name=name, **values)


def test_keys_are_each_users_own_and_revocable(store, alice):
    later = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    mine = _key("k1", "agent", workspace="default", expires_at=later, budget_usd=2.5)
    store.add_key(mine)
    alice.add_key(_key("k2", "alices"))
    (stored,) = store.mux_keys()
    assert stored == mine and stored.expires_at.utcoffset() == timedelta(0)
    assert [k.id for k in alice.mux_keys()] == ["k2"]
    with pytest.raises(NotFound):
        alice.delete_key("k1")  # not hers
    revision = store.revision()
    store.delete_key("k1")
    assert store.mux_keys() == [] and store.revision() != revision  # other servers reload
    with pytest.raises(NotFound):
        store.delete_key("k1")
    assert [k.id for k in alice.mux_keys()] == ["k2"]


def test_a_replacing_key_takes_the_old_ones_place(store, alice):
    store.add_key(_key("k1", "kernels and terminals"))
    store.add_key(_key("k2", "other"))
    alice.add_key(_key("k3", "kernels and terminals"))
    store.add_key(_key("k4", "kernels and terminals"), replacing="kernels and terminals")
    assert [k.id for k in store.mux_keys()] == ["k2", "k4"]
    assert [k.id for k in alice.mux_keys()] == ["k3"]


def test_key_use_is_recorded_without_a_revision(store):
    store.add_key(_key("k1", "agent"))
    revision = store.revision()
    used = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    store.touch_keys({"k1": used, "gone": used})
    assert store.mux_keys()[0].last_used_at == used and store.revision() == revision


def test_a_hub_user_sees_the_admins_shared_workspaces_and_their_own_win(store):
    """Under the Hub service (`sees_shared`), owner ""'s workspaces are every user's too:
    listed and activatable; the user's own of the same name wins; a shared one deleted
    while active leaves the user on their default."""
    add_provider(store, "shared-p")
    store.create_workspace("cheap", "the admin's", TargetRecord("shared-p", "m1"))
    alice = store.for_owner("alice", sees_shared=True)
    alice.initialize("check")
    snap = alice.snapshot()
    assert list(snap.workspaces) == ["cheap", "default"]
    assert snap.workspaces["cheap"].shared and not snap.workspaces["default"].shared
    alice.set_active("cheap")
    assert alice.snapshot().active == "cheap"
    assert alice.changes(["cheap"], [], workspace_order=True).workspace_order == [
        "cheap",
        "default",
    ]
    # A plain owner view (a user's own server on a shared database) sees only its own.
    assert list(store.for_owner("bob").snapshot().workspaces) == []
    # alice's own "cheap" hides the shared one.
    alice.create_workspace("cheap", "mine", TargetRecord("shared-p", "m2"))
    mine = alice.snapshot().workspaces["cheap"]
    assert not mine.shared and mine.description == "mine"
    alice.set_active("default")
    alice.delete_workspace("cheap")
    assert alice.snapshot().workspaces["cheap"].shared  # the shared one again
    alice.set_active("cheap")
    store.delete_workspace("cheap")
    assert alice.snapshot().active == "default"
    with pytest.raises(NotFound):
        alice.set_active("cheap")


def test_a_hub_users_revision_moves_with_their_writes_and_the_shared_ones_only(store):
    """The Hub service rebuilds a user's routing when their revision moves: their own
    writes and the admin's (shared rows) move it, other users' do not."""
    alice = store.for_owner("alice", sees_shared=True)
    bob = store.for_owner("bob", sees_shared=True)
    alice.initialize("check")
    bob.initialize("check")
    before = alice.revision()
    bob.create_workspace("bobs", "", None)
    assert alice.revision() == before
    alice.create_workspace("alices", "", None)
    assert alice.revision() == alice.after_one_write(before)
    mine = alice.revision()
    store.create_workspace("shared", "", None)  # the admin's: every user's view moves
    assert alice.revision() != mine and alice.after_one_write(mine) != alice.revision()
    revisions = store.owner_revisions()
    assert set(revisions) >= {"", "alice", "bob"}
    assert alice.revision() == f"{revisions['alice']}.{revisions['']}"
    # A plain server's view keeps the database's one revision.
    assert store.after_one_write(store.revision()) == str(int(store.revision()) + 1)


def test_a_provider_the_hub_admin_shares_stays_shared_when_the_configuration_is_applied(store):
    """Owner "" under the Hub service: a provider shared over the admin API is every user's,
    kept shared by the configuration's rewrite at start, and follows its renames."""
    store.config_is_truth = True
    add_provider(store, "team")
    store.share_provider("team")
    alice = store.for_owner("alice", sees_shared=True)
    alice.initialize("check")
    assert alice.snapshot().providers["team"].predefined
    store.sync_predefined([])  # a start whose configuration names no provider
    assert alice.snapshot().providers["team"].predefined
    store.update_provider("team", name="crew")
    assert store.api_shared() == {"crew"}
    store.sync_predefined([])
    assert "crew" in alice.snapshot().providers
    store.delete_provider("crew")
    assert store.api_shared() == set() and "crew" not in alice.snapshot().providers
