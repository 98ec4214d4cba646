"""Faults under load: clients hanging up en masse, upstreams dying mid-stream, and the
active workspace switching while requests stream. The server must stay healthy."""

from __future__ import annotations

import asyncio
import json

import httpx

from .conftest import data_events, mux_chat, mux_chat_stream
from .recording_upstream import RecordingUpstream


async def use_recorder(api, up: RecordingUpstream) -> None:
    await api.use({"name": "rec", "type": "vllm", "endpoint": up.endpoint}, "rec-model")


async def wait_until(condition, what: str, limit: float = 60.0) -> None:
    """Poll a condition the system reaches on its own; the limit only bounds a hang."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        assert loop.time() < deadline, f"never reached: {what}"
        await asyncio.sleep(0.05)


async def test_1000_clients_hanging_up_leave_no_upstream_stream(api, mux_url, token):
    with RecordingUpstream(chunks=400, chunk_delay=0.02) as up:
        await use_recorder(api, up)
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(limits=limits, timeout=60) as http:

            async def hang_up_after_first_chunk() -> bool:
                async with mux_chat_stream(http, mux_url, token) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data: {"):
                            return True
                return False

            results = await asyncio.gather(*(hang_up_after_first_chunk() for _ in range(1000)))
        assert all(results)
        await wait_until(lambda: up.streaming == 0, "every upstream stream ended")
        assert up.hung_up == 1000  # each ended because the mux hung up, not by finishing
        # The server is healthy afterwards.
        assert (await api.ok("GET", "active"))["name"] == "default"


async def test_upstream_reset_mid_stream_ends_with_error_event(api, mux_url, token):
    with RecordingUpstream(chunks=5, reset_after=2) as up:
        await use_recorder(api, up)
        async with httpx.AsyncClient(timeout=30) as http:
            response = await mux_chat(http, mux_url, token, stream=True)
            assert response.status_code == 200
            events = data_events(response.text)
            assert "part1" in events[1]
            error = json.loads(events[-1])["error"]
            assert error["code"] == "upstream_failed" and "rec" in error["message"]
            up.reset_after = None
            healthy = await mux_chat(http, mux_url, token)
        assert healthy.status_code == 200


async def test_switching_while_streaming(two_llamas, mux_url, token):
    """Each answer comes whole from the model its X-Mux-Workspace names, whatever switches
    happen while it streams."""
    expected = {"wa": "tiny-a", "wb": "tiny-b"}
    stop = asyncio.Event()

    async def switch() -> int:
        switches = 0
        while not stop.is_set():
            for name in ("wb", "wa"):
                await two_llamas.ok("PUT", "active", {"name": name})
                switches += 1
        return switches

    async def ask(http: httpx.AsyncClient) -> tuple[str, set[str]]:
        async with mux_chat_stream(http, mux_url, token, max_tokens=8) as response:
            assert response.status_code == 200
            models = {
                json.loads(line[6:])["model"]
                async for line in response.aiter_lines()
                if line.startswith("data: {")
            }
            return response.headers["x-mux-workspace"], models

    switcher = asyncio.ensure_future(switch())
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=8)) as http:
        answers = await asyncio.gather(*(ask(http) for _ in range(120)))
    stop.set()
    assert await switcher > 2
    for workspace, models in answers:
        assert models == {expected[workspace]}
    assert {w for w, _ in answers} == {"wa", "wb"}


async def test_truncated_stream_ends_with_error_event(api, mux_url, token):
    with RecordingUpstream(chunks=2, truncate=True) as up:
        await use_recorder(api, up)
        async with httpx.AsyncClient(timeout=30) as http:
            response = await mux_chat(http, mux_url, token, stream=True)
    events = data_events(response.text)
    assert "part1" in events[1]
    assert json.loads(events[-1])["error"]["code"] == "upstream_truncated"
