"""The whole path: the openai SDK -> /mux/v1 in a real Jupyter server -> llama.cpp upstreams."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import openai
import pytest

from .conftest import MESSAGES, bearer, client, data_events, mux_chat_stream
from .recording_upstream import RecordingUpstream
from .scripted_upstream import ScriptedUpstream, sse_chunk


async def answer_headers(mux_url: str, token: str, **kw) -> httpx.Headers:
    raw = await client(mux_url, token).chat.completions.with_raw_response.create(
        model="anything", messages=MESSAGES, max_tokens=4, **kw
    )
    completion = raw.parse()
    assert completion.choices[0].message.content is not None
    return raw.headers


async def test_chat_non_streaming(two_llamas, mux_url, token):
    raw = await client(mux_url, token).chat.completions.with_raw_response.create(
        model="whatever-the-client-says", messages=MESSAGES, max_tokens=8
    )
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert isinstance(completion.choices[0].message.content, str)
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-mux-workspace"] == "wa"
    assert raw.headers["x-mux-provider"] == "llama-a"
    assert raw.headers["x-mux-model"] == "tiny-a"
    assert raw.headers["content-type"].startswith("application/json")


async def test_chat_streaming_passes_chunks(two_llamas, mux_url, token):
    stream = await client(mux_url, token).chat.completions.create(
        model="x",
        messages=MESSAGES,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert len(chunks) > 2
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert any(c.usage and c.usage.completion_tokens > 0 for c in chunks)


async def test_stream_is_event_stream_with_mux_headers(two_llamas, mux_url, token):
    async with (
        httpx.AsyncClient() as http,
        mux_chat_stream(http, mux_url, token, max_tokens=4) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-mux-model"] == "tiny-a"
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0].removeprefix("data: "))["object"] == "chat.completion.chunk"


async def test_legacy_completions(two_llamas, mux_url, token):
    completion = await client(mux_url, token).completions.create(
        model="x", prompt="def fib(n):", max_tokens=8
    )
    assert completion.object == "text_completion"
    assert isinstance(completion.choices[0].text, str)
    assert completion.usage.completion_tokens > 0


async def test_sync_client(two_llamas, mux_url, token):
    def call() -> str:
        sync = openai.OpenAI(base_url=mux_url, api_key=token, max_retries=0)
        return sync.chat.completions.create(model="x", messages=MESSAGES, max_tokens=4).model

    # The server shares this event loop, so the blocking client runs in a thread.
    model = await asyncio.to_thread(call)
    assert "tiny-a" in model


async def test_switching_active_workspace_switches_model(two_llamas, mux_url, token):
    assert (await answer_headers(mux_url, token))["x-mux-model"] == "tiny-a"
    await two_llamas.ok("PUT", "active", {"name": "wb"})
    headers = await answer_headers(mux_url, token)
    assert (headers["x-mux-workspace"], headers["x-mux-model"]) == ("wb", "tiny-b")
    await two_llamas.ok("PUT", "active", {"name": "wa"})
    assert (await answer_headers(mux_url, token))["x-mux-provider"] == "llama-a"


async def test_upstream_model_matches_workspace(two_llamas, mux_url, token):
    """The answering server is the one the workspace names, not just the header."""
    a = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=2
    )
    b = await client(mux_url + "/../w/wb/v1", token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=2
    )
    assert "tiny-a" in a.model and "tiny-b" in b.model


async def test_path_pins_workspace(two_llamas, server_url, token):
    headers = await answer_headers(server_url + "mux/w/wb/v1", token)
    assert (headers["x-mux-workspace"], headers["x-mux-model"]) == ("wb", "tiny-b")
    assert (await two_llamas.ok("GET", "active"))["name"] == "wa"


async def test_header_pins_workspace(two_llamas, mux_url, token):
    headers = await answer_headers(mux_url, token, extra_headers={"X-Mux-Workspace": "wb"})
    assert headers["x-mux-model"] == "tiny-b"


async def test_path_beats_header(two_llamas, server_url, token):
    headers = await answer_headers(
        server_url + "mux/w/wa/v1", token, extra_headers={"X-Mux-Workspace": "wb"}
    )
    assert headers["x-mux-workspace"] == "wa"


async def test_models_lists_workspace_models(two_llamas, mux_url, server_url, token):
    models = await client(mux_url, token).models.list()
    assert [m.id for m in models.data] == ["tiny-a"]
    pinned = await client(server_url + "mux/w/wb/v1", token).models.list()
    assert [(m.id, m.owned_by) for m in pinned.data] == [("tiny-b", "llama-b")]


# -- bad input -------------------------------------------------------------------------------


async def raw_post(
    mux_url: str,
    token: str,
    body: bytes | str,
    path: str = "/chat/completions",
    headers: dict | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            mux_url + path,
            content=body,
            headers={**bearer(token), **(headers or {})},
        )


def assert_openai_error(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    for word in words:
        assert word in error["message"], error["message"]
    return error


async def test_malformed_json(two_llamas, mux_url, token):
    error = assert_openai_error(await raw_post(mux_url, token, "{not json"), 400, "JSON")
    assert error["code"] == "invalid_json"


async def test_missing_messages(two_llamas, mux_url, token):
    response = await raw_post(mux_url, token, json.dumps({"model": "x"}))
    assert assert_openai_error(response, 400, "messages")["param"] == "messages"
    with pytest.raises(openai.BadRequestError, match="messages"):
        await client(mux_url, token).chat.completions.create(model="x", messages=[])


async def test_missing_prompt(two_llamas, mux_url, token):
    response = await raw_post(mux_url, token, json.dumps({"model": "x"}), "/completions")
    assert_openai_error(response, 400, "prompt")


async def test_body_must_be_object_and_stream_bool(two_llamas, mux_url, token):
    assert_openai_error(await raw_post(mux_url, token, "[1, 2]"), 400, "object")
    body = json.dumps({"messages": MESSAGES, "stream": "yes"})
    assert_openai_error(await raw_post(mux_url, token, body), 400, "stream")


async def test_unknown_workspace(two_llamas, server_url, mux_url, token):
    with pytest.raises(openai.NotFoundError, match="nope"):
        await client(server_url + "mux/w/nope/v1", token).chat.completions.create(
            model="x", messages=MESSAGES
        )
    response = await raw_post(
        mux_url, token, json.dumps({"messages": MESSAGES}), headers={"X-Mux-Workspace": "ghost"}
    )
    assert assert_openai_error(response, 404, "ghost")["code"] == "workspace_not_found"


async def test_workspace_without_model(two_llamas, server_url, token):
    await two_llamas.ok("POST", "workspaces", {"name": "empty"}, 201)
    with pytest.raises(openai.ConflictError, match=r"has no model.*PATCH"):
        await client(server_url + "mux/w/empty/v1", token).chat.completions.create(
            model="x", messages=MESSAGES
        )


async def test_deleted_provider_is_explained(two_llamas, mux_url, token):
    await two_llamas.ok("DELETE", "providers/llama-a", status=204)
    with pytest.raises(openai.ConflictError, match=r"llama-a.*no longer exists"):
        await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)


async def test_provider_unreachable_is_502(api, mux_url, token):
    with RecordingUpstream() as up:
        await api.use({"name": "gone", "type": "vllm", "endpoint": up.endpoint}, "rec-model")
    # The upstream has stopped: its port now refuses connections.
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as info:
            await client(mux_url, token).chat.completions.create(
                model="x", messages=MESSAGES, stream=stream
            )
        assert info.value.status_code == 502
        assert "gone" in info.value.message and "connection refused" in info.value.message


async def test_upstream_401_keeps_status_and_message(api, llama_keyed, mux_url, token):
    provider = await api.ok(
        "POST",
        "providers",
        {
            "name": "keyed",
            "type": "llamacpp",
            "endpoint": llama_keyed.endpoint,
            "api_key": "sk-upstream-secret-7f3a9c",
        },
        201,
    )
    assert provider["status"] == "ok" and provider["has_api_key"]
    await api.ok(
        "PATCH", "workspaces/default", {"preferred": {"provider": "keyed", "model": "tiny-keyed"}}
    )
    answer = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=2
    )
    assert answer.choices
    await api.ok("PATCH", "providers/keyed", {"api_key": "sk-wrong"})
    with pytest.raises(openai.AuthenticationError, match=r"keyed.*401") as info:
        await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)
    assert info.value.status_code == 401
    assert "sk-wrong" not in info.value.message


class TestTimeouts:
    @pytest.fixture
    def mux_config(self):
        return {"read_timeout": 1.0, "discovery_timeout": 1.0}

    async def test_slow_upstream_is_504(self, api, mux_url, token, stalled_upstream):
        with RecordingUpstream() as up:
            await api.use({"name": "slow", "type": "openai", "endpoint": up.endpoint}, "rec-model")
        await api.ok("PATCH", "providers/slow", {"endpoint": stalled_upstream})
        with pytest.raises(openai.APIStatusError) as info:
            await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)
        assert info.value.status_code == 504
        assert "Timed out" in info.value.message and "slow" in info.value.message

    async def test_stall_mid_stream_ends_with_error_event(self, api, mux_url, token):
        with RecordingUpstream(chunks=2, chunk_delay=2.0) as up:
            await api.use({"name": "drip", "type": "vllm", "endpoint": up.endpoint}, "rec-model")
            async with (
                httpx.AsyncClient() as http,
                mux_chat_stream(http, mux_url, token) as response,
            ):
                assert response.status_code == 200
                events = [line async for line in response.aiter_lines() if line]
        assert events[0].startswith("data: {") and "part0" in events[0]
        last = json.loads(events[-1].removeprefix("data: "))
        assert last["error"]["code"] == "upstream_timeout"

    async def test_slow_client_is_not_an_upstream_timeout(self, api, mux_url, token):
        """The read timeout counts only time spent waiting on the upstream: an upstream that
        sent everything at once to a client that reads it slowly (the relay held back by
        the client, the upstream's bytes waiting in the buffers meanwhile) is relayed
        whole, however long the client takes."""
        text = "x" * 60_000
        pieces = [sse_chunk(text) for _ in range(150)] + [b"data: [DONE]\n\n"]  # ~9 MB
        # A small receive buffer (no autotuning) for the client, so the relay really waits.
        small = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)]
        transport = httpx.AsyncHTTPTransport(socket_options=small)
        with ScriptedUpstream(pieces=pieces) as up:
            await api.use({"name": "bulk", "type": "vllm", "endpoint": up.endpoint}, "scripted")
            async with (
                httpx.AsyncClient(timeout=60, transport=transport) as http,
                mux_chat_stream(http, mux_url, token) as response,
            ):
                assert response.status_code == 200
                received = bytearray()
                async for data in response.aiter_bytes():
                    if not received:
                        await asyncio.sleep(2.5)  # over the read timeout, reading nothing
                    received += data
        events = data_events(received.decode())
        assert events[-1] == "[DONE]"
        contents = [json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1]]
        assert contents == [text] * 150


# -- what goes upstream ----------------------------------------------------------------------


async def test_client_credentials_never_go_upstream(api, mux_url, token):
    with RecordingUpstream() as up:
        await api.use(
            {"name": "rec", "type": "vllm", "endpoint": up.endpoint + "/v1/"}, "rec-model"
        )
        response = await raw_post(
            mux_url,
            token,
            json.dumps({"model": "client-model", "messages": MESSAGES}),
            headers={
                "Cookie": "session=abc",
                "X-XSRFToken": "xsrf",
                "X-Mux-Workspace": "default",
                "OpenAI-Organization": "org-1",
            },
        )
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "recorded"
    sent = up.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "rec-model"
    assert token not in json.dumps(sent)
    for name in (
        "authorization",
        "cookie",
        "x-xsrftoken",
        "x-mux-workspace",
        "openai-organization",
    ):
        assert header(sent, name) is None


async def test_an_upstreams_cookies_never_ride_along_on_later_requests(api, mux_url, token):
    """One pool serves every client (every user, under the Hub service): a cookie an
    upstream sets in one answer must not go back with anybody's next request."""
    with RecordingUpstream(set_cookie=True) as up:
        # A host name: cookie jars ignore cookies from bare IP addresses.
        endpoint = up.endpoint.replace("127.0.0.1", "localhost") + "/v1/"
        await api.use({"name": "rec", "type": "vllm", "endpoint": endpoint}, "rec-model")
        for stream in (False, True, False):
            body = {"model": "x", "messages": MESSAGES, "stream": stream}
            response = await raw_post(mux_url, token, json.dumps(body))
            assert response.status_code == 200
        await api.ok("POST", "providers/rec/refresh")  # discovery, on the same pool
    assert len(up.requests) >= 5
    assert [(s["path"], header(s, "cookie")) for s in up.requests if header(s, "cookie")] == []


def header(request: dict, name: str) -> str | None:
    return {k.lower(): v for k, v in request["headers"].items()}.get(name)


async def test_provider_key_goes_only_to_its_provider(api, mux_url, token):
    with RecordingUpstream() as keyed, RecordingUpstream() as open_:
        await api.ok(
            "POST",
            "providers",
            {"name": "k", "type": "openai", "endpoint": keyed.endpoint, "api_key": "sk-k"},
            201,
        )
        await api.ok(
            "POST", "providers", {"name": "o", "type": "vllm", "endpoint": open_.endpoint}, 201
        )
        for name in ("k", "o"):
            await api.ok(
                "POST",
                "workspaces",
                {"name": f"w{name}", "preferred": {"provider": name, "model": "rec-model"}},
                201,
            )
            await raw_post(
                mux_url,
                token,
                json.dumps({"messages": MESSAGES}),
                headers={"X-Mux-Workspace": f"w{name}"},
            )
    assert all(header(r, "authorization") == "Bearer sk-k" for r in keyed.requests)
    assert all(header(r, "authorization") is None for r in open_.requests)
    assert len(keyed.requests) == len(open_.requests) == 2  # discovery + one chat each


async def test_client_disconnect_cancels_upstream(api, mux_url, token):
    with RecordingUpstream(chunks=200, chunk_delay=0.05) as up:
        await api.use({"name": "long", "type": "vllm", "endpoint": up.endpoint}, "rec-model")
        async with (
            httpx.AsyncClient() as http,
            mux_chat_stream(http, mux_url, token) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    break  # hang up after the first chunk
        assert await asyncio.to_thread(up.disconnects.wait, 30)


# -- the hot path ----------------------------------------------------------------------------


async def test_mux_requests_do_not_touch_the_database(two_llamas, jp_serverapp, mux_url, token):
    from sqlalchemy import event

    engine = jp_serverapp.web_app.settings["jupyter_mux_service"].store.engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        async with client(mux_url, token) as c:
            for stream in (False, True):
                await c.chat.completions.create(
                    model="x", messages=MESSAGES, max_tokens=2, stream=stream
                )
            await c.models.list()
        assert statements == []
        await two_llamas.ok("PUT", "active", {"name": "wb"})
        assert statements, "the listener is live: a management write does use the database"
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_keys_never_reach_the_logs(api, mux_url, token):
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    secret = "sk-never-log-me-5d1e"
    try:
        with RecordingUpstream(status=401) as up:
            await api(
                "POST",
                "providers",
                {"name": "k", "type": "openai", "endpoint": up.endpoint, "api_key": secret},
            )
            await api("PATCH", "providers/k", {"api_key": secret + "2"})
            await raw_post(mux_url, token, json.dumps({"messages": MESSAGES}))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = stream.getvalue()
    assert "/v1/models" in logged  # the capture saw the traffic
    assert secret not in logged
