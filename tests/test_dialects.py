"""Every client dialect through the mux, with the real client libraries over real sockets:
the openai SDK's Responses API, openai-agents, LangChain, the anthropic SDK and embeddings,
each (a) through a llama.cpp upstream that speaks the dialect itself (passed through),
(b) through a translated path (the same server registered as a plain OpenAI-compatible API,
so the mux speaks chat to it), and (c) through the fake Ollama (its native API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from pydantic import TypeAdapter

from jupyter_mux.localmodel import LocalLlamaServer

from .conftest import MESSAGES, bearer, client
from .fake_ollama import FakeOllama, reply_pieces
from .recording_upstream import RecordingUpstream

OLLAMA_MODEL = "llama3.2:1b"


@pytest.fixture(scope="module")
def llama_embed(tiny_models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    """llama.cpp serving chat, Responses, Messages and (mean-pooled) embeddings."""
    server = LocalLlamaServer(tiny_models["tiny-a"], alias="tiny", embedding=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


# How each path registers its upstream: the provider type decides passthrough or not.
def provider(path: str, dialect: str, llama: LocalLlamaServer, fake: FakeOllama) -> dict:
    if path == "ollama":
        return {"name": "up", "type": "ollama", "endpoint": fake.endpoint}
    if path == "translated":
        return {"name": "up", "type": "openai", "endpoint": llama.endpoint, "auth_type": "none"}
    # llama.cpp's own Responses stream lacks the SDK's sequence numbers (registry.py), so
    # the llama.cpp type translates Responses; vLLM's type passes them through.
    native_type = "vllm" if dialect == "responses" else "llamacpp"
    return {"name": "up", "type": native_type, "endpoint": llama.endpoint}


PATHS = ["native", "translated", "ollama"]


async def use(api, path: str, dialect: str, llama, fake) -> str:
    model = OLLAMA_MODEL if path == "ollama" else "tiny"
    await api.use(provider(path, dialect, llama, fake), model)
    return model


def anthropic_client(mux_url: str, token: str, **kw: Any) -> anthropic.AsyncAnthropic:
    """Anthropic's clients take the mux without `/v1` (they add `/v1/messages`)."""
    return anthropic.AsyncAnthropic(
        base_url=mux_url.removesuffix("/v1"), api_key=token, max_retries=0, **kw
    )


async def usage_rows(api, flush) -> dict[str, Any]:
    await flush()
    return (await api.ok("GET", "usage?group_by=provider"))["totals"]


@pytest.fixture
def flush(jp_serverapp):
    return jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush


# -- OpenAI Responses -----------------------------------------------------------------------

RESPONSE_EVENT = TypeAdapter(openai.types.responses.ResponseStreamEvent)


@pytest.mark.parametrize("path", PATHS)
async def test_responses_plain_and_streamed(api, mux_url, token, llama_embed, ollama, path, flush):
    await use(api, path, "responses", llama_embed, ollama)
    oai = client(mux_url, token)
    answer = await oai.responses.create(model="mux", input="Say something.", max_output_tokens=8)
    assert answer.status in ("completed", "incomplete") and answer.output_text
    stream = await oai.responses.create(
        model="mux", input="Say something.", max_output_tokens=8, stream=True
    )
    events = [event async for event in stream]
    if path != "native":  # a passthrough is the upstream's own events (see provider())
        for event in events:
            RESPONSE_EVENT.validate_python(event.model_dump())
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] in (
        "response.completed",
        "response.incomplete",
    )
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == events[-1].response.output_text
    if path == "ollama":
        assert text == "".join(reply_pieces(OLLAMA_MODEL))
    totals = await usage_rows(api, flush)
    assert totals["requests"] == 2 and totals["errors"] == 0
    assert totals["completion_tokens"] > 0 and totals["prompt_tokens"] > 0


async def test_responses_stream_helper_accumulates(api, mux_url, token, llama_embed, ollama):
    """The SDK's own accumulator (`responses.stream`) reads the whole event sequence. (On
    the Ollama path: the tiny llama.cpp models always stop at their length limit, which is
    `response.incomplete`, and the helper, like agents, only takes `response.completed`.)"""
    await use(api, "ollama", "responses", llama_embed, ollama)
    async with client(mux_url, token).responses.stream(
        model="mux", input="Say something.", max_output_tokens=8
    ) as stream:
        final = await stream.get_final_response()
    assert final.output_text and final.usage is not None and final.usage.output_tokens > 0


@pytest.mark.parametrize("path", PATHS)
async def test_responses_conversation_by_previous_response_id(
    api, mux_url, token, llama_embed, ollama, path, server_url
):
    await use(api, path, "responses", llama_embed, ollama)
    oai = client(mux_url, token)
    first = await oai.responses.create(model="mux", input="Hello.", max_output_tokens=6)
    second = await oai.responses.create(
        model="mux", input="And again.", previous_response_id=first.id, max_output_tokens=6
    )
    assert second.output_text and second.id != first.id
    kept = await oai.responses.retrieve(second.id)
    assert kept.id == second.id and kept.output_text == second.output_text
    await oai.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        await oai.responses.retrieve(second.id)
    with pytest.raises(openai.BadRequestError) as info:
        await oai.responses.create(model="mux", input="x", previous_response_id=second.id)
    assert info.value.body["param"] == "previous_response_id"
    if path == "ollama":
        # What the upstream saw: the first turn, its answer, then the new input.
        sent = ollama.requests[-1][1]["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert sent[1]["content"] == first.output_text and sent[2]["content"] == "And again."


async def test_responses_tool_round_trip(api, mux_url, token, ollama):
    await api.use({"name": "up", "type": "ollama", "endpoint": ollama.endpoint}, OLLAMA_MODEL)
    oai = client(mux_url, token)
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    first = await oai.responses.create(model="mux", input="Weather in Paris?", tools=tools)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.call_id
    second = await oai.responses.create(
        model="mux",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"}],
    )
    sent = ollama.requests[-1][1]["messages"]
    assert sent[-1] == {"role": "tool", "content": "Sunny", "tool_name": "get_weather"}
    assert second.status == "completed"


async def test_openai_agents_runner_with_defaults(api, mux_url, token, llama_embed, ollama):
    """openai-agents' default model speaks the Responses API."""
    from agents import Agent, Runner, set_default_openai_client, set_tracing_disabled

    await use(api, "ollama", "responses", llama_embed, ollama)  # see the test above
    set_tracing_disabled(True)  # traces would go to OpenAI's servers
    set_default_openai_client(client(mux_url, token), use_for_tracing=False)
    agent = Agent(name="Assistant", instructions="Be brief.")  # the default model and settings
    result = await Runner.run(agent, "Say something.")
    assert isinstance(result.final_output, str) and result.final_output


async def test_langchain_with_the_responses_api(api, mux_url, token, llama_embed, ollama):
    from langchain_openai import ChatOpenAI

    await use(api, "ollama", "responses", llama_embed, ollama)
    llm = ChatOpenAI(
        base_url=mux_url, api_key=token, model="mux", use_responses_api=True, max_retries=0
    )
    answer = await llm.ainvoke("Say something.")
    assert answer.text == "".join(reply_pieces(OLLAMA_MODEL))


# -- Anthropic Messages ---------------------------------------------------------------------

MESSAGE_EVENT = TypeAdapter(anthropic.types.RawMessageStreamEvent)


@pytest.mark.parametrize("path", PATHS)
async def test_messages_plain_streamed_and_counted(
    api, mux_url, token, llama_embed, ollama, path, flush
):
    await use(api, path, "messages", llama_embed, ollama)
    claude = anthropic_client(mux_url, token)
    message = await claude.messages.create(model="mux", max_tokens=8, messages=MESSAGES)
    assert message.type == "message" and message.content[0].type == "text"
    assert message.stop_reason in ("end_turn", "max_tokens") and message.usage.output_tokens > 0
    async with claude.messages.stream(model="mux", max_tokens=8, messages=MESSAGES) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    raw = [e for e in events if e.type in ("message_start", "content_block_delta", "message_stop")]
    for event in raw:
        MESSAGE_EVENT.validate_python(event.model_dump())
    assert final.content[0].text and final.usage.output_tokens > 0
    if path == "ollama":
        assert final.content[0].text == "".join(reply_pieces(OLLAMA_MODEL))
    count = await claude.messages.count_tokens(model="mux", messages=MESSAGES)
    assert count.input_tokens > 0
    totals = await usage_rows(api, flush)
    assert totals["requests"] == 2 and totals["errors"] == 0
    assert totals["completion_tokens"] > 0


async def test_messages_tools(api, mux_url, token, ollama):
    await api.use({"name": "up", "type": "ollama", "endpoint": ollama.endpoint}, OLLAMA_MODEL)
    claude = anthropic_client(mux_url, token)
    tools = [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    first = await claude.messages.create(model="mux", max_tokens=64, messages=ask, tools=tools)
    assert first.stop_reason == "tool_use"
    [use_block] = [b for b in first.content if b.type == "tool_use"]
    assert use_block.name == "get_weather"
    result = {"type": "tool_result", "tool_use_id": use_block.id, "content": "Sunny"}
    history = [*ask, {"role": "assistant", "content": first.content}]
    second = await claude.messages.create(
        model="mux",
        max_tokens=64,
        tools=tools,
        messages=[*history, {"role": "user", "content": [result]}],
    )
    assert second.content and ollama.requests[-1][1]["messages"][-1]["role"] == "tool"


@pytest.mark.parametrize("path", ["native", "translated"])
async def test_anthropic_models_list(api, mux_url, token, llama_embed, ollama, path):
    await use(api, path, "messages", llama_embed, ollama)
    page = await anthropic_client(mux_url, token).models.list()
    assert [m.id for m in page.data] == ["tiny"] and page.data[0].type == "model"
    model = await client(mux_url, token).models.retrieve("tiny")
    assert (model.id, model.owned_by) == ("tiny", "up")


# -- embeddings -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["native", "ollama"])
async def test_langchain_embeddings(api, mux_url, token, llama_embed, ollama, path, flush):
    from langchain_openai import OpenAIEmbeddings

    await use(api, path, "embeddings", llama_embed, ollama)
    embedder = OpenAIEmbeddings(
        base_url=mux_url,
        api_key=token,
        model="mux",
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    vectors = await embedder.aembed_documents(["a cat", "a dog sleeps"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    again = await embedder.aembed_query("a cat")
    assert again == pytest.approx(vectors[0], rel=1e-5)
    totals = await usage_rows(api, flush)
    assert totals["requests"] == 2 and totals["prompt_tokens"] > 0


async def test_embeddings_errors(api, mux_url, token, ollama):
    await api.use({"name": "up", "type": "ollama", "endpoint": ollama.endpoint}, OLLAMA_MODEL)
    oai = client(mux_url, token)
    with pytest.raises(openai.BadRequestError) as info:
        await oai.embeddings.create(model="mux", input=[])
    assert info.value.body["param"] == "input"
    with pytest.raises(openai.BadRequestError) as info:
        await oai.embeddings.create(model="mux", input=[[1, 2, 3]])
    assert "Ollama embeds text only" in info.value.message


# -- auth and unknown paths -----------------------------------------------------------------


async def test_missing_or_wrong_key_is_401_in_the_dialects_shape(mux_url, api):
    with pytest.raises(openai.AuthenticationError) as info:
        await client(mux_url, "wrong").chat.completions.create(model="x", messages=MESSAGES)
    assert info.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        await client(mux_url, "wrong").responses.create(model="x", input="hi")
    with pytest.raises(anthropic.AuthenticationError) as anthropic_info:
        await anthropic_client(mux_url, "wrong").messages.create(
            model="x", max_tokens=5, messages=MESSAGES
        )
    assert anthropic_info.value.body["error"]["type"] == "authentication_error"
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{mux_url}/chat/completions", json={})
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


async def test_x_api_key_is_accepted(api, mux_url, token, llama_embed, ollama):
    await use(api, "ollama", "messages", llama_embed, ollama)
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{mux_url}/messages",
            headers={"x-api-key": token, "anthropic-version": "2023-06-01"},
            json={"model": "m", "max_tokens": 5, "messages": MESSAGES},
        )
    assert response.status_code == 200 and response.json()["type"] == "message"


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("v1/nope", "openai"),
        ("v1/chat/nope", "openai"),
        ("v1/messages/nope", "anthropic"),
        ("w/default/v1/nope", "openai"),
        ("nope", "openai"),
        ("api/nope", "jupyter"),
    ],
)
async def test_unknown_paths_are_json_404s(server_url, token, path, shape):
    async with httpx.AsyncClient() as http:
        for method in ("GET", "POST"):
            response = await http.request(method, f"{server_url}mux/{path}", headers=bearer(token))
            assert response.status_code == 404
            assert response.headers["content-type"].startswith("application/json")
            assert token not in response.text
            body = response.json()
            if shape == "openai":
                assert body["error"]["type"] == "not_found_error"
            elif shape == "anthropic":
                assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
            else:
                assert body["message"] and "reason" in body
        unauthenticated = await http.get(f"{server_url}mux/{path}")
        assert unauthenticated.status_code == 401 and token not in unauthenticated.text


async def test_embeddings_rule_routes_embeddings_apart(api, mux_url, token, llama_embed, ollama):
    """A workspace's `request_type: embeddings` rule sends embeddings to their own model,
    while chat, Responses and Messages go on to the catch-all."""
    for name, kind, endpoint in (
        ("embedder", "llamacpp", llama_embed.endpoint),
        ("chatter", "ollama", ollama.endpoint),
    ):
        await api.ok("POST", "providers", {"name": name, "type": kind, "endpoint": endpoint}, 201)
    rules = [
        {
            "kind": "request_type",
            "pattern": "embeddings",
            "targets": [{"provider": "embedder", "model": "tiny"}],
        },
        {"kind": "catch_all", "targets": [{"provider": "chatter", "model": OLLAMA_MODEL}]},
    ]
    await api.ok("PUT", "workspaces/default/rules", rules)
    oai = client(mux_url, token)
    embedded = await oai.embeddings.with_raw_response.create(model="mux", input="a cat")
    assert embedded.headers["x-mux-provider"] == "embedder"
    assert len(embedded.parse().data[0].embedding) > 0
    chat = await oai.chat.completions.with_raw_response.create(model="mux", messages=MESSAGES)
    assert chat.headers["x-mux-provider"] == "chatter"
    message = await anthropic_client(mux_url, token).messages.with_raw_response.create(
        model="mux", max_tokens=8, messages=MESSAGES
    )
    assert message.headers["x-mux-provider"] == "chatter"


async def test_what_a_passthrough_sends_upstream(api, mux_url, token):
    """A Messages request passed through goes as the client sent it but for the model, with
    the client's `anthropic-version` and `anthropic-beta` and none of its credentials."""
    with RecordingUpstream() as up:
        await api.use({"name": "rec", "type": "vllm", "endpoint": up.endpoint}, "rec-model")
        body = {"model": "claude-x", "max_tokens": 5, "messages": MESSAGES, "top_k": 3}
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{mux_url}/messages",
                json=body,
                headers={
                    "x-api-key": token,
                    "anthropic-version": "2023-06-01",
                    "anthropic-beta": "fine-grained-tool-streaming-2025-05-14",
                },
            )
        sent = up.requests[-1]
        assert sent["path"] == "/v1/messages"
        assert sent["body"] == {**body, "model": "rec-model"}
        headers = {k.lower(): v for k, v in sent["headers"].items()}
        assert headers["anthropic-version"] == "2023-06-01"
        assert headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"
        assert "x-api-key" not in headers and token not in json.dumps(headers)
