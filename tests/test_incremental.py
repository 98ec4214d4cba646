"""A write changes the routing table (and the service's state) only where it changed; after
any sequence of writes the result must be exactly what a full reload gives: the same
snapshot, in the same order, and the same table as `build_table`. Property-style: random
sequences of management calls, some of which fail, on one server and on a second server
sharing the database (whose writes the first must notice and read in full)."""

from __future__ import annotations

import logging
import random

import httpx
import pytest

from jupyter_mux.errors import MuxError
from jupyter_mux.models import (
    KeyCreate,
    PriceIn,
    ProviderCreate,
    ProviderRef,
    ProviderUpdate,
    RuleIn,
    TargetIn,
    WorkspaceCreate,
    WorkspaceExport,
    WorkspaceUpdate,
)
from jupyter_mux.routing import build_table
from jupyter_mux.secrets import SecretBox
from jupyter_mux.service import DiscoveryError, MuxService
from jupyter_mux.service.usage import model_prices
from jupyter_mux.store import ModelRecord, Store

PROVIDERS = ["p0", "p1", "p2"]
WORKSPACES = ["default", "w0", "w1", "w2", "w3"]
MODELS = ["m0", "m1", "m2"]
TYPES = ["vllm", "openai", "ollama", "anthropic"]


def make_service(url: str, box: SecretBox, rng: random.Random, owner: str = "") -> MuxService:
    service = MuxService(
        Store(url, owner=owner),
        box,
        httpx.AsyncClient(),
        discovery_timeout=httpx.Timeout(1),
        log=logging.getLogger("test"),
    )

    async def discover(_upstream):  # no network: a random model list, or a failure
        if rng.random() < 0.2:
            raise DiscoveryError("down")
        return [ModelRecord(m, {"n": rng.randrange(3)}) for m in rng.sample(MODELS, 2)]

    service._discover = discover  # type: ignore[method-assign]
    service.start([])
    return service


def target(rng: random.Random) -> TargetIn:
    return TargetIn(provider=rng.choice(PROVIDERS), model=rng.choice(MODELS))


def rules(rng: random.Random) -> list[RuleIn]:
    extra = [
        RuleIn(kind="model", pattern=rng.choice(["gpt-*", "m?"]), targets=[target(rng)])
        for _ in range(rng.randrange(3))
    ]
    catch_all = RuleIn(kind="catch_all", targets=[target(rng) for _ in range(rng.randrange(3))])
    return [*extra, catch_all]


async def random_write(service: MuxService, rng: random.Random) -> None:
    provider, workspace = rng.choice(PROVIDERS), rng.choice(WORKSPACES)
    calls = [
        lambda: service.create_provider(
            ProviderCreate(
                name=provider,
                type=rng.choice(TYPES),
                endpoint=f"http://h{rng.randrange(3)}:8000",
                api_key=rng.choice([None, "sk-1"]),
            )
        ),
        lambda: service.update_provider(
            provider,
            ProviderUpdate(
                **rng.choice(
                    [
                        {"name": rng.choice(PROVIDERS)},
                        {"description": str(rng.random())},
                        {"endpoint": f"http://h{rng.randrange(3)}:8000"},
                        {"api_key": "sk-2"},
                    ]
                )
            ),
        ),
        lambda: service.delete_provider(provider),
        lambda: service.refresh_provider(provider),
        lambda: service.set_price(
            provider,
            PriceIn(model=rng.choice(MODELS), prompt_per_million=1.0, completion_per_million=2.0),
        ),
        lambda: service.create_workspace(
            WorkspaceCreate(name=workspace, preferred=rng.choice([None, target(rng)]))
        ),
        lambda: service.update_workspace(
            workspace,
            WorkspaceUpdate(
                **rng.choice(
                    [
                        {"name": rng.choice(WORKSPACES)},
                        {"description": str(rng.random())},
                        {"preferred": target(rng)},
                        {"preferred": None},
                    ]
                )
            ),
        ),
        lambda: service.set_rules(workspace, rules(rng)),
        lambda: service.import_workspace(
            WorkspaceExport(
                name=workspace,
                rules=rules(rng),
                providers=[ProviderRef(name="elsewhere", type=rng.choice(TYPES))],
            )
        ),
        lambda: service.delete_workspace(workspace),
        lambda: service.set_active(workspace),
        lambda: service.create_key(KeyCreate(name="k", workspace=rng.choice([None, workspace]))),
    ]
    try:
        await rng.choice(calls)()
    except MuxError:
        # A refused write changed nothing, and may not have looked at the store: a read
        # catches up with what another server wrote, as before.
        await service.list_providers()


def check(service: MuxService) -> None:
    """The kept state and table are what a full reload would give."""
    snapshot = service.store.snapshot()
    assert service._revision == service.store.revision()
    assert list(service._state.providers.items()) == list(snapshot.providers.items())
    assert list(service._state.workspaces.items()) == list(snapshot.workspaces.items())
    assert service._state.active == snapshot.active
    assert service.routing == build_table(snapshot, service._api_key)
    # The key view (a rename moves its keys' pins) and the prices it charges by.
    assert service._keys == {k.secret_hash: k for k in service.store.mux_keys()}
    assert service._prices == model_prices(snapshot)


@pytest.mark.parametrize("seed", range(6))
async def test_incremental_updates_give_the_table_a_full_rebuild_gives(tmp_path, seed):
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'mux.sqlite'}"
    box = SecretBox.from_config("", tmp_path / "mux.key")
    here = make_service(url, box, rng)
    other = make_service(url, box, rng)  # another server of the same user
    alice = make_service(url, box, rng, owner="alice")  # another user's server
    try:
        for _ in range(60):
            roll = rng.random()
            if roll < 0.15:
                await random_write(other, rng)
                check(other)
            elif roll < 0.25:
                await random_write(alice, rng)
                check(alice)
            elif roll < 0.3:
                await here.list_workspaces()  # a read catches up
                check(here)
            else:
                await random_write(here, rng)
                check(here)
        await here.sync()
        check(here)
    finally:
        for service in (here, other, alice):
            await service.client.aclose()
            service.close()


async def test_a_write_reads_back_only_what_it_touched(tmp_path):
    """Not a full reload: a PATCH of one workspace among many reads that workspace."""
    rng = random.Random(0)
    url = f"sqlite:///{tmp_path / 'mux.sqlite'}"
    service = make_service(url, SecretBox.from_config("", tmp_path / "k"), rng)
    try:
        for i in range(20):
            await service.create_workspace(WorkspaceCreate(name=f"w{i}"))
        loads = []
        original = service.store.snapshot
        service.store.snapshot = lambda: loads.append(1) or original()  # type: ignore[method-assign]
        before = service.routing.workspaces
        await service.update_workspace("w3", WorkspaceUpdate(description="changed"))
        assert loads == []
        after = service.routing.workspaces
        assert after["w4"] is before["w4"] and after["w3"] is not before["w3"]
        assert service._state.workspaces["w3"].description == "changed"
        check(service)
    finally:
        await service.client.aclose()
        service.close()
