"""JupyterHub: every user runs their own server, all on one shared database.

Three real Jupyter servers share the store: alice's (pytest-jupyter, in this process),
alice's second one (JupyterHub's named servers) and bob's, both started as processes with
JUPYTERHUB_USER set as the Hub sets it. Each user sees only their own workspaces, active
workspace and providers; the providers in the configuration are shared and read-only; and a
change one server makes routes from the others without a restart. Run on SQLite, and on
PostgreSQL when JUPYTER_MUX_TEST_PG_URL is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from .conftest import MESSAGES
from .pg import PG_URL, SKIP_REASON, Databases
from .recording_upstream import RecordingUpstream
from .servers import ServerProcess

KEY = Fernet.generate_key().decode()
MODEL = "rec-model"


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingUpstream]:
    with RecordingUpstream() as up:
        yield up


@pytest.fixture(scope="module")
def pg_databases() -> Iterator[Databases | None]:
    databases = Databases() if PG_URL else None
    yield databases
    if databases is not None:
        databases.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_db_url(request: Any, tmp_path: Path, pg_databases: Databases | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub' / 'mux.sqlite'}"
    if pg_databases is None:
        pytest.skip(SKIP_REASON)
    return pg_databases.create("hub")


@pytest.fixture
def hub_config(shared_db_url: str, upstream: RecordingUpstream) -> dict[str, Any]:
    """What a Hub administrator configures for every user's server."""
    return {
        "db_url": shared_db_url,
        "encryption_key": KEY,
        "sync_interval": 0.5,
        "providers": [{"name": "shared", "type": "openai", "endpoint": upstream.endpoint}],
    }


@pytest.fixture
def jp_server_config(hub_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mux": True}},
        "MuxApp": {**hub_config, "user": "alice"},
    }


def user_server(user: str, config: dict[str, Any], home: Path) -> ServerProcess:
    """One user's Jupyter server, as the Hub spawns it: JUPYTERHUB_USER set, the
    administrator's configuration in jupyter_server_config.json."""
    server = ServerProcess(
        home, "jupyter_server", token=f"token-{user}", env={"JUPYTERHUB_USER": user}
    )
    server.config_dir.mkdir(parents=True)
    (server.config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_mux": True}}, "MuxApp": config})
    )
    return server


@pytest.fixture
def other_servers(hub_config: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, ServerProcess]]:
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(user_server(user, hub_config, tmp_path / name))
            for name, user in (("alice-2", "alice"), ("bob", "bob"))
        }


async def call(server: ServerProcess, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, headers=server.headers, timeout=30) as c:
        return await c.request(method, path, json=body)


async def chat_workspace(server: ServerProcess) -> str:
    """Which workspace answers a mux request on this server, by its routing table (or the
    error, such as the default workspace having no model yet)."""
    answer = await call(server, "POST", "mux/v1/chat/completions", {"messages": MESSAGES})
    if answer.status_code != 200:
        return answer.text
    return answer.headers["X-Mux-Workspace"]


async def eventually(check: Any, want: Any) -> Any:
    """Poll until `check()` gives `want`: another server learns of a change at its next sync
    (every sync_interval), not at once. Gives up after a minute, so a loaded CI machine is no
    false alarm; the sync delay itself is a configured interval, not asserted here."""
    for _ in range(600):
        if (got := await check()) == want:
            break
        await asyncio.sleep(0.1)
    return got


async def test_each_user_sees_their_own_and_the_shared(api, other_servers):
    alice2, bob = other_servers["alice-2"], other_servers["bob"]
    shared = {"provider": "shared", "model": MODEL}

    # alice, on her first server: a personal provider, a workspace, made active.
    providers = await api.ok("GET", "providers")
    assert [(p["name"], p["predefined"]) for p in providers] == [("shared", True)]
    await api.ok(
        "POST", "providers", {"name": "mine", "type": "vllm", "endpoint": "http://127.0.0.1:9"}, 201
    )
    await api.ok("POST", "workspaces", {"name": "notes", "preferred": shared}, 201)
    await api.ok("PUT", "active", {"name": "notes"})

    # Her second server routes by it without a restart, and lists what she made.
    assert await eventually(lambda: chat_workspace(alice2), "notes") == "notes"
    names = [w["name"] for w in (await call(alice2, "GET", "mux/api/workspaces")).json()]
    assert names == ["default", "notes"]
    assert (await call(alice2, "GET", "mux/api/active")).json() == {"name": "notes"}

    # bob sees none of it: his own default workspace, and only the shared provider.
    assert [w["name"] for w in (await call(bob, "GET", "mux/api/workspaces")).json()] == ["default"]
    assert (await call(bob, "GET", "mux/api/active")).json() == {"name": "default"}
    assert [p["name"] for p in (await call(bob, "GET", "mux/api/providers")).json()] == ["shared"]
    assert (await call(bob, "GET", "mux/api/providers/mine")).status_code == 404

    # The shared provider is read-only for everyone, and its prices too.
    for method, path, body in (
        ("PATCH", "mux/api/providers/shared", {"description": "mine now"}),
        ("DELETE", "mux/api/providers/shared", None),
        (
            "PUT",
            "mux/api/providers/shared/prices",
            {"model": MODEL, "prompt_per_million": 0, "completion_per_million": 0},
        ),
    ):
        refused = await call(bob, method, path, body)
        assert refused.status_code == 403, (path, refused.text)
        assert "c.MuxApp.providers" in refused.json()["message"]

    # bob's names are his own: he may use alice's, and his choices leave hers alone.
    created = await call(bob, "POST", "mux/api/workspaces", {"name": "notes", "preferred": shared})
    assert created.status_code == 201, created.text
    assert (await call(bob, "PUT", "mux/api/active", {"name": "notes"})).status_code == 200
    assert (await call(bob, "DELETE", "mux/api/workspaces/default")).status_code == 204
    assert await chat_workspace(bob) == "notes"
    mine = await api.ok("GET", "workspaces")
    assert [w["name"] for w in mine] == ["default", "notes"]
    assert [p["name"] for p in await api.ok("GET", "providers")] == ["mine", "shared"]
