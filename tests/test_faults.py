"""Faults under load: clients hanging up en masse, upstreams dying mid-stream or sending
what no client could read, and the active workspace switching while requests stream. The
server must stay healthy."""

from __future__ import annotations

import asyncio
import gzip
import json
import re

import httpx
import openai
import pytest

from jupyter_mux.framing import MAX_EVENT_BYTES

from .conftest import MESSAGES, client, data_events, mux_chat, mux_chat_stream
from .recording_upstream import RecordingUpstream
from .scripted_upstream import GOOD_STREAM, ScriptedUpstream, sse_chunk


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
            async with mux_chat_stream(http, mux_url, token) as response:
                assert response.status_code == 200
                events = []
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        events.append(line[6:])
                        if "part1" in line:
                            up.reset_now.set()  # the client has what came before the reset
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


# -- upstreams that send what no client could read ------------------------------------------


async def use_scripted(api, up: ScriptedUpstream, name: str = "scripted") -> None:
    await api.use({"name": name, "type": "vllm", "endpoint": up.endpoint}, "scripted")


async def assert_healthy(mux_url: str, token: str, up: ScriptedUpstream) -> None:
    """The same upstream, sending a good stream now, is served as if nothing happened."""
    up.pieces, up.content_type, up.endless = GOOD_STREAM, "text/event-stream", False
    stream = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, stream=True
    )
    assert "".join([c.choices[0].delta.content async for c in stream]) == "all good"


MALFORMED = {
    "not json": b"data: Internal Server Error\n\n",
    "json but not an object": b"data: [1, 2, 3]\n\n",
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>\n\n",
    "not utf-8": b'data: {"choices": [{"delta": {"content": "caf\xe9"}}]}\n\n',
    "oversize event": b"data: " + b"x" * (MAX_EVENT_BYTES + 1),
}


@pytest.mark.parametrize("kind", MALFORMED, ids=lambda k: k)
async def test_malformed_sse_mid_stream_ends_with_one_error_event(api, mux_url, token, kind):
    first = sse_chunk("before ")
    with ScriptedUpstream([first, MALFORMED[kind]], endless=True) as up:
        await use_scripted(api, up)
        async with httpx.AsyncClient(timeout=60) as http:
            response = await mux_chat(http, mux_url, token, stream=True)
        assert response.status_code == 200
        # What came before went on unchanged; then the error event, and nothing else.
        assert response.content.startswith(first + b'data: {"error":')
        assert response.content.endswith(b"}}\n\n") and response.content.count(b"\n\n") == 2
        events = data_events(response.text)
        assert len(events) == 2 and json.loads(events[0]) == json.loads(first[6:])
        error = json.loads(events[1])["error"]
        assert error["code"] == "upstream_malformed" and "'scripted'" in error["message"]
        assert set(error) == {"message", "type", "param", "code"}
        # The mux stopped reading and closed the upstream connection.
        await wait_until(lambda: up.hung_up == 1, "the upstream saw the mux hang up")
        await assert_healthy(mux_url, token, up)


# llama.cpp's server ends a failing stream with an `error:` line.
LLAMACPP_ERROR = b'error: {"code": 500, "message": "context full", "type": "server_error"}\n\n'


@pytest.mark.parametrize(
    ("bad", "code", "message"),
    [
        (b"data: {oops}\n\n", "upstream_malformed", r".*'scripted'.*\{oops\}.*"),
        (
            LLAMACPP_ERROR,
            "upstream_error",
            re.escape("Provider 'scripted' reported an error: context full"),
        ),
    ],
    ids=["malformed", "error event"],
)
async def test_stream_failure_reaches_the_openai_sdk_as_an_api_error(
    api, mux_url, token, bad, code, message
):
    with ScriptedUpstream([sse_chunk("before "), bad], endless=True) as up:
        await use_scripted(api, up)
        stream = await client(mux_url, token).chat.completions.create(
            model="x", messages=MESSAGES, stream=True
        )
        received = []
        with pytest.raises(openai.APIError) as info:
            async for c in stream:
                received.append(c.choices[0].delta.content)
        assert received == ["before "]
        assert info.value.code == code and re.fullmatch(message, info.value.message)
        await assert_healthy(mux_url, token, up)


@pytest.mark.parametrize(
    ("content_type", "body", "code", "says"),
    [
        (
            "text/html",
            b"<!DOCTYPE html>\n<html><body>Upstream error</body></html>",
            "upstream_malformed",
            "text/html",
        ),
        (
            "application/json",
            json.dumps({"choices": []}).encode(),
            "upstream_malformed",
            "application/json",
        ),
        ("text/event-stream", b"data: not json\n\n", "upstream_malformed", "not JSON"),
        ("text/event-stream", LLAMACPP_ERROR, "upstream_error", "context full"),
    ],
    ids=["html", "json", "sse", "error event"],
)
async def test_failure_before_the_first_event_is_a_real_502(
    api, mux_url, token, content_type, body, code, says
):
    with ScriptedUpstream([body], content_type=content_type) as up:
        await use_scripted(api, up)
        with pytest.raises(openai.APIStatusError) as info:
            await client(mux_url, token).chat.completions.create(
                model="x", messages=MESSAGES, stream=True
            )
        assert info.value.status_code == 502 and info.value.code == code
        assert says in info.value.message and "'scripted'" in info.value.message
        await assert_healthy(mux_url, token, up)


async def test_empty_stream_is_a_real_502(api, mux_url, token):
    with ScriptedUpstream([]) as up:
        await use_scripted(api, up)
        with pytest.raises(openai.APIStatusError) as info:
            await client(mux_url, token).chat.completions.create(
                model="x", messages=MESSAGES, stream=True
            )
        assert info.value.status_code == 502 and info.value.code == "upstream_truncated"
        await assert_healthy(mux_url, token, up)


async def test_malformed_first_target_falls_back_to_the_next(api, mux_url, token):
    with (
        ScriptedUpstream([b"<html>Bad gateway</html>"], content_type="text/html") as bad,
        ScriptedUpstream(GOOD_STREAM) as good,
    ):
        await api.ok(
            "POST", "providers", {"name": "bad", "type": "vllm", "endpoint": bad.endpoint}, 201
        )
        await api.ok(
            "POST", "providers", {"name": "good", "type": "vllm", "endpoint": good.endpoint}, 201
        )
        targets = [
            {"provider": "bad", "model": "scripted"},
            {"provider": "good", "model": "scripted"},
        ]
        await api.ok("PUT", "workspaces/default/rules", [{"kind": "catch_all", "targets": targets}])
        async with httpx.AsyncClient(timeout=60) as http:
            response = await mux_chat(http, mux_url, token, stream=True)
    assert response.status_code == 200
    assert (response.headers["x-mux-provider"], response.headers["x-mux-attempts"]) == ("good", "2")
    contents = [
        json.loads(e)["choices"][0]["delta"]["content"] for e in data_events(response.text)[:-1]
    ]
    assert contents == ["all ", "good"] and data_events(response.text)[-1] == "[DONE]"


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        (
            "text/html",
            b"<html><body>Service Unavailable</body></html>",
            "text/html body that is not JSON",
        ),
        ("application/json", b'{"choices": [', "not JSON"),
        ("application/json", b"[1, 2]", "not an object"),
    ],
    ids=["html", "cut json", "array"],
)
async def test_non_json_answer_to_a_plain_request_is_502(
    api, mux_url, token, content_type, body, says
):
    with ScriptedUpstream([body], content_type=content_type) as up:
        await use_scripted(api, up)
        with pytest.raises(openai.APIStatusError) as info:
            await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)
        assert info.value.status_code == 502 and info.value.code == "upstream_malformed"
        assert says in info.value.message and "'scripted'" in info.value.message
        await assert_healthy(mux_url, token, up)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_upstream_that_compresses_anyway_is_decoded(api, mux_url, token, stream):
    """The mux asks for plain bodies; an upstream (or a proxy in front of it) that gzips
    its answer anyway is decoded, streamed or not, rather than relayed as gzip bytes."""
    whole = json.dumps(
        {
            "object": "chat.completion",
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "all good"}}],
        }
    ).encode()
    body = gzip.compress(b"".join(GOOD_STREAM) if stream else whole)
    with ScriptedUpstream() as up:
        up.script(
            [body[:20], body[20:]],
            content_type="text/event-stream" if stream else "application/json",
            encoding="gzip",
        )
        await use_scripted(api, up)
        async with httpx.AsyncClient(timeout=60) as http:
            response = await mux_chat(http, mux_url, token, stream=stream)
    assert response.status_code == 200, response.text
    if stream:
        assert [
            json.loads(e)["choices"][0]["delta"]["content"] for e in data_events(response.text)[:-1]
        ] == ["all ", "good"]
    else:
        assert response.json()["choices"][0]["message"]["content"] == "all good"


async def test_an_encoding_the_mux_cannot_decode_is_a_502(api, mux_url, token):
    with ScriptedUpstream() as up:
        up.script([b"\x0b\x02\x80not brotli"], content_type="application/json", encoding="br")
        await use_scripted(api, up)
        with pytest.raises(openai.APIStatusError) as info:
            await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)
        assert info.value.status_code == 502, info.value.message
        assert "'scripted'" in info.value.message
        up.script()
        await assert_healthy(mux_url, token, up)


async def test_every_valid_sse_form_passes_however_cut(api, mux_url, token):
    """Comments, `event:`/`id:`/`retry:`, CRLF, and chunks cut mid-line, mid-CRLF and
    mid-character all reach the client as the SSE they are."""
    stream = (
        b": keep-alive\r\n\r\n"
        + b"retry: 1000\r\nid: 1\r\nevent: message\r\n"
        + sse_chunk("caf\u00e9 \u2615 ").replace(b"\n", b"\r\n")
        + sse_chunk("\u65e5\u672c")
        + b"data: [DONE]\r\n\r\n"
    )
    pieces = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    with ScriptedUpstream(pieces) as up:
        await use_scripted(api, up)
        sdk_stream = await client(mux_url, token).chat.completions.create(
            model="x", messages=MESSAGES, stream=True
        )
        text = "".join([c.choices[0].delta.content async for c in sdk_stream])
        assert text == "caf\u00e9 \u2615 \u65e5\u672c"
        async with httpx.AsyncClient(timeout=60) as http:
            response = await mux_chat(http, mux_url, token, stream=True)
    assert response.content == stream.replace(b"\r\n", b"\n")
    assert response.headers["content-type"] == "text/event-stream"


async def test_stream_cut_mid_event_ends_truncated(api, mux_url, token):
    first = sse_chunk("before ")
    with ScriptedUpstream([first, b'data: {"choices": [{"delta": {"cont']) as up:
        await use_scripted(api, up)
        async with httpx.AsyncClient(timeout=60) as http:
            response = await mux_chat(http, mux_url, token, stream=True)
        events = data_events(response.text)
        assert json.loads(events[0]) == json.loads(first[6:]) and len(events) == 2
        assert json.loads(events[1])["error"]["code"] == "upstream_truncated"
        await assert_healthy(mux_url, token, up)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_request_the_upstream_read_is_never_resent(api, mux_url, token, stream):
    """An upstream that reads the request and then resets the connection may have run it:
    the mux answers 502 and does not send it again (issue 13: it used to arrive 4 times)."""
    with RecordingUpstream(reset_on_request=True) as up:
        await use_recorder(api, up)
        async with httpx.AsyncClient(timeout=30) as http:
            response = await mux_chat(http, mux_url, token, stream=stream)
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_failed"
        assert len([r for r in up.requests if r["path"].endswith("/chat/completions")]) == 1
