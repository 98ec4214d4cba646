"""`jupyter mux demo`: local models, no key, two workspaces that answer differently."""

from __future__ import annotations

import httpx
import pytest

from jupyter_mux.demo import DEMO_MODELS
from jupyter_mux.localmodel import VOCABULARIES
from jupyter_mux.store import Store, TargetRecord

from .conftest import MESSAGES, client
from .servers import ServerProcess


def words(text: str | None) -> set[str]:
    return set((text or "").replace(".", " ").replace(",", " ").split())


class TestDemoServer:
    @pytest.fixture
    def mux_config(self):
        return {"demo": True}

    async def test_answers_without_a_key(self, api, mux_url, server_url, token):
        workspaces = {w["name"]: w for w in await api.ok("GET", "workspaces")}
        assert workspaces["default"]["preferred"] == {"provider": "demo-a", "model": "tiny-a"}
        assert workspaces["demo-b"]["preferred"] == {"provider": "demo-b", "model": "tiny-b"}
        providers = {p["name"]: p for p in await api.ok("GET", "providers")}
        assert all(p["predefined"] and not p["has_api_key"] for p in providers.values())
        assert "ocean words" in providers["demo-a"]["description"]
        assert "forest words" in providers["demo-b"]["description"]
        a = await client(mux_url, token).chat.completions.create(
            model="x", messages=MESSAGES, max_tokens=8
        )
        assert a.model == "tiny-a" and a.choices[0].message.content
        await api.ok("PUT", "active", {"name": "demo-b"})
        b = await client(mux_url, token).chat.completions.create(
            model="x", messages=MESSAGES, max_tokens=8
        )
        assert b.model == "tiny-b"
        # The switch shows in the words themselves: ocean words, then forest words.
        said_a, said_b = words(a.choices[0].message.content), words(b.choices[0].message.content)
        assert said_a and said_a <= set(VOCABULARIES["ocean"]), said_a
        assert said_b and said_b <= set(VOCABULARIES["forest"]), said_b


def test_demo_stops_cleanly(tmp_path):
    """A demo server that answered, then stopped as a user stops it: llama.cpp logs no
    "stopped unexpectedly" (it shares the server's stderr, which the log captures)."""
    server = ServerProcess(tmp_path, "jupyter_mux", env={"JUPYTER_MUX_DEMO": "1"}).start()
    try:
        for workspace in ("demo-a", "demo-b"):  # both models serve, pooled connections open
            answer = httpx.post(
                f"{server.url}mux/w/{workspace}/v1/chat/completions",
                headers=server.headers,
                json={"messages": MESSAGES, "max_tokens": 4},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode == 0, server.log
    assert "Shutting down" in server.log  # the log ran to the end of the shutdown
    assert "stopped unexpectedly" not in server.log, server.log


def test_demo_models_have_vocabularies_of_their_own():
    assert len({demo.vocabulary for demo in DEMO_MODELS}) == len(DEMO_MODELS)
    assert all(demo.vocabulary in VOCABULARIES for demo in DEMO_MODELS)


def test_seeding_is_idempotent_and_keeps_user_choices(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'mux.sqlite'}")
    store.initialize("c")
    seeds = [
        ("demo-a", TargetRecord("demo-a", "tiny-a")),
        ("demo-b", TargetRecord("demo-b", "tiny-b")),
    ]
    store.seed_workspaces(seeds)
    store.update_workspace("demo-b", description="mine", preferred=TargetRecord("x", "y"))
    store.update_workspace("default", preferred=TargetRecord("hosted", "big"))
    store.seed_workspaces(seeds)
    snap = store.snapshot()
    assert sorted(snap.workspaces) == ["default", "demo-a", "demo-b"]
    assert snap.workspaces["demo-b"].preferred == TargetRecord("x", "y")
    assert snap.workspaces["default"].preferred == TargetRecord("hosted", "big")
