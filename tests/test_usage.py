"""Spend tracking: every mux request recorded off the request path, summed by the API."""

from __future__ import annotations

import httpx
import pytest

from .conftest import MESSAGES, bearer, client, mux_chat
from .recording_upstream import RecordingUpstream


@pytest.fixture
def flush(jp_serverapp):
    """Write buffered usage now (the server does it every second on its own)."""
    return jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush


async def test_usage_of_llamacpp_requests(two_llamas, mux_url, server_url, token, flush):
    oai = client(mux_url, token)
    await oai.chat.completions.create(model="x", messages=MESSAGES, max_tokens=3)
    stream = await oai.chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=3, stream=True
    )
    chunks = [c async for c in stream]
    assert all(c.choices for c in chunks), "the usage chunk the mux asked for is dropped"
    await client(server_url + "mux/w/wb/v1", token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=2
    )
    await flush()
    usage = await two_llamas.ok("GET", "usage")
    rows = {r["key"]: r for r in usage["rows"]}
    assert rows["wa"]["requests"] == 2 and rows["wa"]["completion_tokens"] == 6
    assert rows["wa"]["prompt_tokens"] > 0 and rows["wa"]["errors"] == 0
    assert rows["wb"]["requests"] == 1 and rows["wb"]["completion_tokens"] == 2
    assert usage["totals"]["requests"] == 3
    assert rows["wa"]["cost"] is None  # llama.cpp publishes no price
    by_model = await two_llamas.ok("GET", "usage?group_by=model")
    assert {r["key"] for r in by_model["rows"]} == {"tiny-a", "tiny-b"}
    by_day = await two_llamas.ok("GET", "usage?group_by=day&workspace=wb")
    assert by_day["totals"]["requests"] == 1 and len(by_day["rows"]) == 1


async def test_usage_cost_errors_and_stream_usage(api, mux_url, token, flush):
    with RecordingUpstream() as up:
        await api.use({"name": "priced", "type": "vllm", "endpoint": up.endpoint}, "rec-model")
        async with httpx.AsyncClient() as http:
            await mux_chat(http, mux_url, token)
            asked = await mux_chat(
                http, mux_url, token, stream=True, stream_options={"include_usage": True}
            )
            assert '"usage": {"prompt_tokens": 3' in asked.text  # kept: the client asked
            plain = await mux_chat(http, mux_url, token, stream=True)
            assert '"usage"' not in plain.text and "[DONE]" in plain.text
            assert up.requests[-1]["body"]["stream_options"] == {"include_usage": True}
            up.status = 500
            await mux_chat(http, mux_url, token)
    await flush()
    usage = await api.ok("GET", "usage?group_by=provider")
    (row,) = usage["rows"]
    assert (row["key"], row["requests"], row["errors"]) == ("priced", 4, 1)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (1 + 3 + 3, 1 + 2 + 2)
    assert row["cost"] == pytest.approx(7 * 0.000001 + 5 * 0.000002)


async def test_usage_query_validation(api):
    for query in ("usage?group_by=color", "usage?since=yesterday", "usage?foo=1"):
        code, error = await api("GET", query)
        assert code == 400 and error["message"], query
    assert (await api.ok("GET", "usage?since=2026-01-01T00:00:00Z"))["rows"] == []
    assert (await api.ok("GET", "usage?1795496747774"))["totals"]["requests"] == 0


async def test_user_set_prices(two_llamas, mux_url, token, flush):
    api = two_llamas
    models = await api.ok(
        "PUT",
        "providers/llama-a/prices",
        {"model": "tiny-a", "prompt_per_million": 2, "completion_per_million": 10},
    )
    assert models[0]["price"] == {"prompt": 2e-6, "completion": 1e-5}
    await api.ok("POST", "providers/llama-a/refresh")  # rediscovery keeps the user's price
    answer = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=3
    )
    await flush()
    (row,) = (await api.ok("GET", "usage?group_by=model"))["rows"]
    expected = answer.usage.prompt_tokens * 2e-6 + answer.usage.completion_tokens * 1e-5
    assert row["key"] == "tiny-a" and row["cost"] == pytest.approx(expected)
    for body, status in (
        ({"model": "tiny-a", "prompt_per_million": 1, "completion_per_million": None}, 400),
        ({"model": "tiny-a", "prompt_per_million": -1, "completion_per_million": 1}, 400),
        ({"model": "nope", "prompt_per_million": 1, "completion_per_million": 1}, 404),
    ):
        code, error = await api("PUT", "providers/llama-a/prices", body)
        assert code == status and error["message"], body
    cleared = await api.ok(
        "PUT",
        "providers/llama-a/prices",
        {"model": "tiny-a", "prompt_per_million": None, "completion_per_million": None},
    )
    assert "price" not in cleared[0]
    assert (await api.ok("GET", "usage"))["totals"]["cost"] is None


async def test_refusals_count_as_errors(api, mux_url, token, flush):
    """Requests the mux refuses before routing them (no model, a bad body, an unknown
    workspace) are errors in the usage of the workspace they asked for."""
    async with httpx.AsyncClient() as http:
        no_model = await mux_chat(http, mux_url, token)
        bad_body = await http.post(
            f"{mux_url}/chat/completions", headers=bearer(token), content=b"["
        )
        unknown = await http.post(
            mux_url.replace("/mux/v1", "/mux/w/nope/v1") + "/chat/completions",
            headers=bearer(token),
            json={"messages": MESSAGES},
        )
    assert (no_model.status_code, bad_body.status_code, unknown.status_code) == (409, 400, 404)
    await flush()
    rows = {r["key"]: r for r in (await api.ok("GET", "usage?group_by=workspace"))["rows"]}
    assert (rows["default"]["requests"], rows["default"]["errors"]) == (2, 2)
    assert (rows["nope"]["requests"], rows["nope"]["errors"]) == (1, 1)
