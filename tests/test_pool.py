"""The upstream pool: connections are limited per provider, and a request queued for one
waits as long as its client does, never failing for the wait, while other providers are
served meanwhile."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest

from .conftest import data_events, mux_chat, mux_chat_stream
from .recording_upstream import RecordingUpstream
from .test_faults import wait_until


@pytest.fixture
def mux_config() -> dict[str, Any]:
    # Each slow stream below outlasts the connect timeout many times over: a queue wait
    # that counted as connecting would fail.
    return {"max_connections_per_provider": 2, "connect_timeout": 0.5, "read_timeout": 30.0}


async def test_queued_requests_wait_and_other_providers_go_on(api, mux_url, token):
    with (
        RecordingUpstream(chunks=10, chunk_delay=0.1) as slow,
        RecordingUpstream(chunks=2) as quick,
    ):
        for name, up in (("slow", slow), ("quick", quick)):
            provider = {"name": name, "type": "vllm", "endpoint": up.endpoint}
            await api.ok("POST", "providers", provider, 201)
            preferred = {"provider": name, "model": "rec-model"}
            await api.ok("POST", "workspaces", {"name": name, "preferred": preferred}, 201)
        async with httpx.AsyncClient(timeout=60) as http:

            def pinned(workspace: str) -> str:
                return mux_url.replace("/mux/v1", f"/mux/w/{workspace}/v1")

            async def ask_slow() -> int:
                async with mux_chat_stream(http, pinned("slow"), token) as response:
                    await response.aread()
                    assert "part9" in response.text and "error" not in response.text
                    return response.status_code

            streams = [asyncio.ensure_future(ask_slow()) for _ in range(6)]
            await wait_until(lambda: slow.streaming == 2, "the slow provider's 2 connections taken")
            other = await mux_chat(http, pinned("quick"), token, stream=True)
            assert other.status_code == 200 and data_events(other.text)[-1] == "[DONE]"
            assert slow.streaming == 2, "the quick provider answered while the slow one was busy"
            assert await asyncio.gather(*streams) == [200] * 6
    assert slow.peak == 2


def test_the_hub_service_is_sized_for_many_users():
    """Every user's streams to a provider share the service's connections to it: a limit
    a single user's server never reaches, which the admin's configuration still sets."""
    pytest.importorskip("jupyterhub")
    from traitlets.config import Config

    from jupyter_mux.app import MuxApp
    from jupyter_mux.hub.app import HubServiceApp

    assert MuxApp().max_connections_per_provider == 100
    assert HubServiceApp().max_connections_per_provider == 1000
    config = Config()
    config.MuxApp.max_connections_per_provider = 300
    assert HubServiceApp(config=config).max_connections_per_provider == 300


def test_the_hub_service_raises_its_open_files_limit_as_far_as_the_hard_one():
    """Each stream holds two sockets; a soft limit of 1,024 would refuse connections long
    before the service's connection limits are reached."""
    resource = pytest.importorskip("resource")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    code = """
import logging, resource
from jupyter_mux.hub.app import allow_open_files
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
allow_open_files(512, logging.getLogger())
print(*resource.getrlimit(resource.RLIMIT_NOFILE))
allow_open_files(300, logging.getLogger())  # never lowered
print(*resource.getrlimit(resource.RLIMIT_NOFILE))
if hard != resource.RLIM_INFINITY:
    allow_open_files(hard + 1, logging.getLogger())
    print(*resource.getrlimit(resource.RLIMIT_NOFILE))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    limits = [tuple(map(int, line.split())) for line in done.stdout.splitlines()]
    up_to_hard = [] if hard == resource.RLIM_INFINITY else [(hard, hard)]
    assert limits == [(512, hard), (512, hard), *up_to_hard]
