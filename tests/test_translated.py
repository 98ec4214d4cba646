"""Providers whose wire format is not OpenAI's, end to end through the mux with the openai
SDK: Anthropic's Messages API (served by llama.cpp's own server) and Ollama's native API
(served by tests/fake_ollama.py)."""

from __future__ import annotations

import openai
import pytest

from .conftest import MESSAGES, client
from .fake_ollama import FakeOllama

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def ollama():
    with FakeOllama() as fake:
        yield fake


async def use(api, name: str, ptype: str, endpoint: str, model: str, **extra) -> dict:
    provider = await api.use({"name": name, "type": ptype, "endpoint": endpoint, **extra}, model)
    assert provider["status"] == "ok", provider
    return provider


# -- Anthropic -------------------------------------------------------------------------------


async def test_anthropic_discovery_and_chat(api, llama_a, mux_url, token):
    provider = await use(
        api, "claude", "anthropic", llama_a.endpoint, "tiny-a", api_key="sk-ant-test"
    )
    assert "tiny-a" in provider["models"]
    raw = await client(mux_url, token).chat.completions.with_raw_response.create(
        model="x", messages=[{"role": "system", "content": "Be brief."}, *MESSAGES], max_tokens=6
    )
    completion = raw.parse()
    assert raw.headers["x-mux-provider"] == "claude"
    assert completion.object == "chat.completion"
    assert isinstance(completion.choices[0].message.content, str)
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0


async def test_anthropic_stream(api, llama_a, mux_url, token):
    await use(api, "claude", "anthropic", llama_a.endpoint, "tiny-a", api_key="k")
    stream = await client(mux_url, token).chat.completions.create(
        model="x",
        messages=MESSAGES,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert len(finishes) == 1 and finishes[0] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_anthropic_legacy_completions(api, llama_a, mux_url, token):
    await use(api, "claude", "anthropic", llama_a.endpoint, "tiny-a", api_key="k")
    completion = await client(mux_url, token).completions.create(
        model="x", prompt="def add(a, b):", max_tokens=6
    )
    assert completion.object == "text_completion"
    assert isinstance(completion.choices[0].text, str)


async def test_anthropic_upstream_error_keeps_status(api, llama_keyed, mux_url, token):
    await use(
        api,
        "claude",
        "anthropic",
        llama_keyed.endpoint,
        "tiny-keyed",
        api_key="sk-upstream-secret-7f3a9c",
    )
    await api.ok("PATCH", "providers/claude", {"api_key": "sk-wrong"})
    with pytest.raises(openai.AuthenticationError) as info:
        await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)
    assert "claude" in info.value.message


# -- Ollama ----------------------------------------------------------------------------------


async def test_ollama_discovery_keeps_metadata(api, ollama):
    provider = await use(api, "ol", "ollama", ollama.endpoint, "llama3.2:1b")
    assert provider["models"] == list(ollama.models)
    models = await api.ok("GET", "providers/ol/models")
    assert models[0]["id"] == "llama3.2:1b" and "parameter_size" in models[0]


async def test_ollama_chat_and_stream(api, ollama, mux_url, token):
    await use(api, "ol", "ollama", ollama.endpoint + "/", "qwen2.5-coder:0.5b")
    completion = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=50, temperature=0.2
    )
    assert "qwen2.5-coder:0.5b" in completion.choices[0].message.content
    assert completion.usage.completion_tokens > 0
    sent = ollama.requests[-1]
    assert sent[0] == "/api/chat" and sent[1]["stream"] is False
    assert sent[1]["model"] == "qwen2.5-coder:0.5b"
    assert sent[1]["options"]["temperature"] == 0.2
    stream = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, stream=True
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "qwen2.5-coder:0.5b" in text
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_ollama_tool_call(api, ollama, mux_url, token):
    await use(api, "ol", "ollama", ollama.endpoint, "llama3.2:1b")
    stream = await client(mux_url, token).chat.completions.create(
        model="x", messages=MESSAGES, tools=TOOLS, stream=True
    )
    chunks = [c async for c in stream]
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert calls and calls[0].index == 0 and calls[0].function.name == "get_weather"
    assert "city" in calls[0].function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert ollama.requests[-1][1]["tools"][0]["function"]["name"] == "get_weather"


async def test_ollama_fim(api, ollama, mux_url, token):
    await use(api, "ol", "ollama", ollama.endpoint, "qwen2.5-coder:0.5b")
    completion = await client(mux_url, token).completions.create(
        model="x", prompt="def answer():\n", suffix="\n\nprint(answer())"
    )
    assert "return" in completion.choices[0].text
    path, body = ollama.requests[-1]
    assert path == "/api/generate" and body["suffix"] == "\n\nprint(answer())"


async def test_ollama_model_not_pulled(api, ollama, mux_url, token):
    await use(api, "ol", "ollama", ollama.endpoint, "llama3.2:1b")
    ollama.models.remove("llama3.2:1b")
    with pytest.raises(openai.NotFoundError, match=r"llama3\.2:1b.*not found"):
        await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)


async def test_ollama_not_running(api, mux_url, token):
    with FakeOllama() as fake:
        await use(api, "ol", "ollama", fake.endpoint, "llama3.2:1b")
        endpoint = fake.endpoint
    with pytest.raises(openai.APIStatusError) as info:
        await client(mux_url, token).chat.completions.create(model="x", messages=MESSAGES)
    assert info.value.status_code == 502 and endpoint in info.value.message


async def test_ollama_request_it_cannot_express_is_400(api, ollama, mux_url, token):
    await use(api, "ol", "ollama", ollama.endpoint, "llama3.2:1b")
    with pytest.raises(openai.BadRequestError, match="base64"):
        await client(mux_url, token).chat.completions.create(
            model="x",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
                    ],
                }
            ],
        )
