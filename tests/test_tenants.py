"""The Hub service's tenants on a real store: one user's write rebuilds no other user's
routing, the admin's shared rows rebuild everybody's, and a mux key finds its owner."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from jupyter_mux.hub.guard import Guard
from jupyter_mux.hub.tenants import Tenants
from jupyter_mux.models import KeyCreate, WorkspaceCreate
from jupyter_mux.response_store import ResponseStore
from jupyter_mux.secrets import SecretBox
from jupyter_mux.service import MuxService
from jupyter_mux.store import Store
from jupyter_mux.store.org import Org

USERS = [f"user{i}" for i in range(20)]


@contextlib.asynccontextmanager
async def open_tenants(tmp_path: Path) -> AsyncIterator[tuple[Tenants, Counter[str]]]:
    log = logging.getLogger("test")
    base = MuxService(
        Store(f"sqlite:///{tmp_path / 'mux.sqlite'}", config_is_truth=True),
        SecretBox(Fernet.generate_key()),
        httpx.AsyncClient(),
        discovery_timeout=httpx.Timeout(1),
        log=log,
    )
    base.start([])
    guard = Guard(
        Org(base.store.engine),
        base._executor,
        config=[],
        user_providers=False,
        output_tokens=4096,
        hold_seconds=3600,
        log=log,
    )
    guard.start()
    made = Tenants(base, guard, lambda _: None, lambda: ResponseStore(10, 60), 0, log)  # type: ignore[arg-type, return-value]
    made.load_keys()
    loads: Counter[str] = Counter()
    for user in USERS:
        service = (await made.tenant(user)).service
        original = service._load

        def counting(*args: Any, _original: Any = original, _user: str = user) -> Any:
            loads[_user] += 1
            return _original(*args)

        service._load = counting  # type: ignore[method-assign]
    await made.sync()
    loads.clear()
    try:
        yield made, loads
    finally:
        await base.client.aclose()
        base.close()


async def test_one_users_write_rebuilds_no_other_users_routing(tmp_path: Path) -> None:
    async with open_tenants(tmp_path) as (made, loads):
        first = (await made.tenant(USERS[0])).service
        await first.create_workspace(WorkspaceCreate(name="mine"))
        await made.sync()
        assert "mine" in first.routing.workspaces
        assert sum(loads.values()) == 0  # the writer patched its own table; nobody reloaded
        # A write the tenants did not see (another replica's) rebuilds its owner's table only.
        other = Store(str(made.base.store.engine.url)).for_owner(USERS[1], sees_shared=True)
        other.create_workspace("elsewhere", "", None)
        await made.sync()
        assert loads == Counter({USERS[1]: 1})
        assert "elsewhere" in (await made.tenant(USERS[1])).service.routing.workspaces
        other.dispose()


async def test_a_shared_write_rebuilds_every_users_routing(tmp_path: Path) -> None:
    async with open_tenants(tmp_path) as (made, loads):
        await made.base.create_workspace(WorkspaceCreate(name="shared"))
        await made.sync()
        assert loads == Counter(dict.fromkeys(USERS, 1))
        for user in USERS:
            workspace = (await made.tenant(user)).service._state.workspaces["shared"]
            assert workspace.shared


async def test_a_mux_key_finds_its_owners_tenant(tmp_path: Path) -> None:
    async with open_tenants(tmp_path) as (made, _):
        owner = (await made.tenant(USERS[3])).service
        created = await owner.create_key(KeyCreate(name="agent"))
        found = await made.for_key(created.secret)
        assert found is not None
        tenant, key, user = found
        assert tenant.service is owner and key.id == created.id and user.username == USERS[3]
        assert user.hub_user == {"kind": "user", "name": USERS[3], "groups": []}  # type: ignore[attr-defined]
        assert await made.for_key("mux-" + "x" * 40) is None
        assert await made.for_key("not a key") is None
        await owner.revoke_key(created.id)
        assert await made.for_key(created.secret) is None


async def test_idle_tenants_are_let_go_unless_a_request_is_using_them(tmp_path: Path) -> None:
    async with open_tenants(tmp_path) as (made, _):
        busy = await made.tenant(USERS[0])
        busy.inflight = 1  # a stream still running
        await busy.service.create_workspace(WorkspaceCreate(name="kept"))
        closed = await made.close_idle(60, now=time.monotonic() + 3600)
        assert sorted(closed) == sorted(USERS[1:])
        assert await made.tenant(USERS[0]) is busy
        again = await made.tenant(USERS[1])
        assert again is not None and "default" in again.service.routing.workspaces
        # Used just now: nothing is idle.
        assert await made.close_idle(60) == []
