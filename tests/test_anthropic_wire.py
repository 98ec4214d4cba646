"""The Anthropic wire format: OpenAI requests in, Anthropic answers out, on payloads written
from Anthropic's API reference (tests/payloads/anthropic)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_mux.items import truncated
from jupyter_mux.providers import anthropic
from jupyter_mux.providers.wire import ANTHROPIC

from .pipeline import encode_body, encode_stream

PAYLOADS = Path(__file__).parent / "payloads" / "anthropic"
CLAUDE = "claude-sonnet-4-5-20250929"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def build(body: dict[str, Any], kind: str = "chat", model: str = "claude-x") -> dict[str, Any]:
    return json.loads(anthropic.build_request(kind, body, model))


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return build({"model": "client", "messages": list(messages), **fields})


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("https://api.anthropic.com", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/v1", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/v1/", "https://api.anthropic.com/v1"),
        ("https://api.anthropic.com/", "https://api.anthropic.com/v1"),
        ("http://gateway:8080/anthropic", "http://gateway:8080/anthropic/v1"),
    ],
)
def test_api_base(endpoint, base):
    assert anthropic.api_base(endpoint) == base


def test_auth_headers():
    assert anthropic.auth_headers("sk-ant") == {
        "x-api-key": "sk-ant",
        "anthropic-version": "2023-06-01",
    }
    assert anthropic.auth_headers(None) == {"anthropic-version": anthropic.ANTHROPIC_VERSION}
    assert "Authorization" not in anthropic.auth_headers("sk-ant")


def test_error_body_message_is_what_the_proxy_reports():
    """The proxy reads every provider's error body with one function; Anthropic's shape
    included."""
    from jupyter_mux.upstream_errors import provider_message

    raw = (PAYLOADS / "error_overloaded.json").read_bytes()
    assert provider_message(raw) == "Overloaded"


# --------------------------------------------------------------------------- models


def test_parse_models_pages():
    models, after = anthropic.parse_models(load("models_page1.json"))
    assert [m.id for m in models] == ["claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929"]
    assert models[1].info == {
        "display_name": "Claude Sonnet 4.5",
        "created_at": "2025-09-29T00:00:00Z",
    }
    assert after == "claude-sonnet-4-5-20250929"
    models, after = anthropic.parse_models(load("models_page2.json"))
    assert [m.id for m in models] == ["claude-3-5-haiku-20241022"] and after is None


def test_parse_models_skips_entries_without_id():
    payload = {"data": [{"type": "model"}, {"id": ""}, "x", {"id": "c", "type": "model"}]}
    assert anthropic.parse_models(payload) == ([anthropic.ModelRecord("c", {})], None)


@pytest.mark.parametrize("payload", [[], {"models": []}, {"data": "x"}, None, "x"])
def test_parse_models_rejects_non_lists(payload):
    with pytest.raises(ValueError, match="model list"):
        anthropic.parse_models(payload)


def run_discover(loop: asyncio.AbstractEventLoop, handler) -> list[anthropic.ModelRecord]:
    """Run discovery on pytest-jupyter's loop, the one the suite's fixtures expect."""

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await anthropic.discover(
                client,
                "https://api.anthropic.com/v1",
                anthropic.auth_headers("k"),
                httpx.Timeout(5),
            )

    return loop.run_until_complete(go())


def test_discover_follows_pages(jp_asyncio_loop):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = "models_page2.json" if "after_id" in request.url.params else "models_page1.json"
        return httpx.Response(200, json=load(page))

    models = run_discover(jp_asyncio_loop, handler)
    assert [m.id for m in models] == [
        "claude-opus-4-1-20250805",
        "claude-sonnet-4-5-20250929",
        "claude-3-5-haiku-20241022",
    ]
    assert [dict(r.url.params) for r in seen] == [
        {"limit": "1000"},
        {"limit": "1000", "after_id": "claude-sonnet-4-5-20250929"},
    ]
    assert all(r.url.path == "/v1/models" for r in seen)
    assert seen[0].headers["x-api-key"] == "k"
    assert seen[0].headers["anthropic-version"] == "2023-06-01"


def test_discover_is_bounded(jp_asyncio_loop):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        n = len(calls)
        return httpx.Response(
            200, json={"data": [{"id": f"m{n}"}], "has_more": True, "last_id": f"m{n}"}
        )

    assert len(run_discover(jp_asyncio_loop, handler)) == anthropic.MAX_MODEL_PAGES
    assert len(calls) == anthropic.MAX_MODEL_PAGES


def test_discover_stops_on_a_repeated_cursor(jp_asyncio_loop):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": "m"}], "has_more": True, "last_id": "m"})

    assert [m.id for m in run_discover(jp_asyncio_loop, handler)] == ["m", "m"]


def test_discover_raises_http_errors(jp_asyncio_loop):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"type": "error", "error": {"type": "authentication_error"}}
        )

    with pytest.raises(httpx.HTTPStatusError) as info:
        run_discover(jp_asyncio_loop, handler)
    assert info.value.response.status_code == 401


# --------------------------------------------------------------------------- requests


def test_minimal_request():
    body = {"model": "client", "messages": [user("é")], "n": 1}
    assert build(body, model="claude-x") == {
        "model": "claude-x",
        "max_tokens": anthropic.DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "é"}]}],
    }
    assert "é".encode() in anthropic.build_request("chat", body, "claude-x")
    assert body == {"model": "client", "messages": [user("é")], "n": 1}


def test_unknown_fields_are_dropped():
    sent = chat(
        user("hi"),
        n=2,
        seed=1,
        logprobs=True,
        top_logprobs=2,
        frequency_penalty=0.5,
        presence_penalty=0.5,
        response_format={"type": "json_object"},
        stream_options={"include_usage": True},
        logit_bias={"1": 2},
        store=True,
    )
    assert set(sent) == {"model", "max_tokens", "messages"}


def test_system_and_developer_messages_merge_into_system():
    sent = chat(
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        user("Bonjour"),
        {
            "role": "system",
            "content": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
        },
        {"role": "system", "content": ""},
    )
    assert sent["system"] == "You are terse.\n\nUse French.\n\nA\n\nB"
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Bonjour"}]}]


def test_consecutive_turns_merge_and_empty_turns_drop():
    sent = chat(
        user("one"),
        user([{"type": "text", "text": "two"}, {"type": "text", "text": ""}]),
        {"role": "assistant", "content": ""},
        user("three"),
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "assistant", "content": "sure"},
        user("four"),
    )
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "one"},
                {"type": "text", "text": "two"},
                {"type": "text", "text": "three"},
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "sure"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "four"}]},
    ]


def test_final_assistant_prefill_loses_trailing_whitespace():
    sent = chat(user("Say it"), {"role": "assistant", "content": "The answer is \n"})
    assert sent["messages"][-1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "The answer is"}],
    }
    sent = chat(user("Say it"), {"role": "assistant", "content": "  "})
    assert [m["role"] for m in sent["messages"]] == ["user"]


@pytest.mark.parametrize(
    ("url", "source"),
    [
        (
            "data:image/png;base64,iVBORw0KGgo=",
            {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        ),
        (
            "data:image/JPEG;base64,/9j/\n4AAQ",
            {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
        ),
        (
            "data:image/svg+xml,%3Csvg%2F%3E",
            {"type": "base64", "media_type": "image/svg+xml", "data": "PHN2Zy8+"},
        ),
        (
            "https://upload.wikimedia.org/cat.jpg",
            {"type": "url", "url": "https://upload.wikimedia.org/cat.jpg"},
        ),
        ("http://example.com/a.png", {"type": "url", "url": "http://example.com/a.png"}),
    ],
)
def test_images(url, source):
    sent = chat(
        user(
            [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url, "detail": "high"}},
            ]
        )
    )
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": source},
    ]


@pytest.mark.parametrize("url", ["ftp://x/a.png", "data:image/png;base64", "data:,abc", "", None])
def test_unreadable_images_are_refused_not_dropped(url):
    with pytest.raises(ValueError, match=r"messages\[0\]\.content\[0\]"):
        chat(user([{"type": "image_url", "image_url": {"url": url}}]))


def test_pdf_file_part_becomes_a_document():
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
    }
    sent = chat(user([part, {"type": "input_audio", "input_audio": {"data": "x"}}]))
    assert sent["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        }
    ]


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
        "strict": True,
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time"}}


def test_tools():
    sent = chat(user("hi"), tools=[WEATHER_TOOL, TIME_TOOL, {"type": "custom", "custom": {}}])
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in sent


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, None, None),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        ("auto", True, {"type": "auto"}),
    ],
)
def test_tool_choice(tool_choice, parallel, expected):
    fields: dict[str, Any] = {"tools": [WEATHER_TOOL]}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel
    sent = chat(user("hi"), **fields)
    assert sent.get("tool_choice") == expected


def test_tool_choice_without_tools_is_not_sent():
    assert "tool_choice" not in chat(user("hi"), tool_choice="required")


def tool_conversation() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "Be brief."},
        user("Weather in SF and Paris?"),
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "SF"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C, fog"},
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": [{"type": "text", "text": "24°C, sun"}],
        },
        user("And tomorrow?"),
    ]


def test_tool_results_merge_into_one_user_turn():
    sent = chat(*tool_conversation(), tools=[WEATHER_TOOL])
    assert sent["system"] == "Be brief."
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in SF and Paris?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"location": "SF"},
                },
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C, fog"},
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": [{"type": "text", "text": "24°C, sun"}],
                },
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
    ]


def test_tool_results_come_first_in_their_turn():
    sent = chat(
        user("go"),
        {"role": "assistant", "content": None, "tool_calls": tool_conversation()[2]["tool_calls"]},
        user("note: be quick"),
        {"role": "tool", "tool_call_id": "call_1", "content": ""},
        {"role": "tool", "tool_call_id": "call_2", "content": "ok"},
    )
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use", "tool_use"]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1"},
        {"type": "tool_result", "tool_use_id": "call_2", "content": "ok"},
        {"type": "text", "text": "note: be quick"},
    ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("", {}),
        (None, {}),
        ("  ", {}),
        ('{"a": ', {"_raw": '{"a": '}),
        ("[1]", {"_raw": "[1]"}),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_tool_call_arguments(arguments, expected):
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    sent = chat(user("go"), {"role": "assistant", "tool_calls": [call]}, user("next"))
    assert sent["messages"][1]["content"] == [
        {"type": "tool_use", "id": "c", "name": "f", "input": expected}
    ]


def test_tool_round_trip_through_an_openai_client():
    """An OpenAI client sends back the assistant message it was given: the tool calls must
    reach Anthropic as the very tool_use blocks Anthropic produced."""
    answer = encode_body(ANTHROPIC, "chat", load("message_tool_use.json"), CLAUDE)
    message = answer["choices"][0]["message"]
    results = [
        {"role": "tool", "tool_call_id": call["id"], "content": "20°C"}
        for call in message["tool_calls"]
    ]
    sent = chat(user("Weather?"), message, *results, tools=[WEATHER_TOOL])
    assert sent["messages"][1]["content"] == load("message_tool_use.json")["content"]
    assert sent["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "20°C"},
        {"type": "tool_result", "tool_use_id": "toolu_01B19r01rx01mr028946mr0", "content": "20°C"},
    ]


def test_unknown_role_is_refused():
    with pytest.raises(ValueError, match="role"):
        chat(user("hi"), {"role": "function", "name": "f", "content": "x"})


def test_system_only_conversation_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        chat({"role": "system", "content": "x"})


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("END", ["END"]),
        (["a", "b"], ["a", "b"]),
        (["\n", " ", "x"], ["x"]),
        ("\n\n", None),
        ([], None),
        (None, None),
    ],
)
def test_stop(stop, expected):
    assert chat(user("hi"), stop=stop).get("stop_sequences") == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, anthropic.DEFAULT_MAX_TOKENS),
        ({"max_tokens": 100}, 100),
        ({"max_completion_tokens": 200}, 200),
        ({"max_tokens": 100, "max_completion_tokens": 200}, 200),
        ({"max_tokens": 0}, anthropic.DEFAULT_MAX_TOKENS),
        ({"max_tokens": "100"}, anthropic.DEFAULT_MAX_TOKENS),
        ({"max_tokens": True}, anthropic.DEFAULT_MAX_TOKENS),
    ],
)
def test_max_tokens(fields, expected):
    assert chat(user("hi"), **fields)["max_tokens"] == expected


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [(0, 0), (0.3, 0.3), (1, 1), (1.5, 1.0), (2, 1.0), (-1, 0.0), ("hot", None)],
)
def test_temperature_is_clamped(temperature, expected):
    assert chat(user("hi"), temperature=temperature).get("temperature") == expected


def test_top_p():
    assert chat(user("hi"), top_p=0.9)["top_p"] == 0.9
    # Recent Claude models refuse both: the temperature wins.
    sent = chat(user("hi"), top_p=0.9, temperature=0.5)
    assert sent["temperature"] == 0.5 and "top_p" not in sent


def test_user_stream_and_metadata():
    sent = chat(user("hi"), user="alice@example.com", stream=True)
    assert sent["metadata"] == {"user_id": "alice@example.com"}
    assert sent["stream"] is True
    assert chat(user("hi"), stream=False)["stream"] is False
    assert "metadata" not in chat(user("hi"), user="")


@pytest.mark.parametrize(
    ("effort", "budget", "max_tokens"),
    [
        ("low", 1024, anthropic.DEFAULT_MAX_TOKENS),
        ("medium", 4096, 4096 + anthropic.DEFAULT_MAX_TOKENS),
        ("high", 16384, 16384 + anthropic.DEFAULT_MAX_TOKENS),
    ],
)
def test_reasoning_effort(effort, budget, max_tokens):
    sent = chat(user("hi"), reasoning_effort=effort, temperature=0.2, top_p=0.5)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert sent["max_tokens"] == max_tokens > budget
    assert "temperature" not in sent and "top_p" not in sent


def test_reasoning_effort_keeps_room_the_client_asked_for():
    sent = chat(user("hi"), reasoning_effort="low", max_completion_tokens=500, top_p=0.97)
    assert sent["max_tokens"] == 1524 and sent["top_p"] == 0.97
    sent = chat(user("hi"), reasoning_effort="low", max_completion_tokens=30000)
    assert sent["max_tokens"] == 30000


@pytest.mark.parametrize("effort", ["minimal", "none", "extreme", None, 3])
def test_reasoning_effort_without_a_budget(effort):
    assert "thinking" not in chat(user("hi"), reasoning_effort=effort)


def test_no_thinking_where_anthropic_would_refuse_it():
    forced = chat(user("hi"), tools=[WEATHER_TOOL], tool_choice="required", reasoning_effort="high")
    assert "thinking" not in forced
    loop = chat(*tool_conversation()[:5], tools=[WEATHER_TOOL], reasoning_effort="high")
    assert "thinking" not in loop
    after = chat(
        user("hi"),
        {"role": "assistant", "content": "Hello"},
        user("think hard"),
        tools=[WEATHER_TOOL],
        reasoning_effort="high",
    )
    assert after["thinking"]["budget_tokens"] == 16384
    prefill = chat(user("hi"), {"role": "assistant", "content": "{"}, reasoning_effort="low")
    assert "thinking" not in prefill


def test_fim_prompt():
    sent = build(
        {"model": "c", "prompt": "def add(a, b):\n    ", "max_tokens": 64, "stop": ["\n\n"]},
        "fim",
    )
    assert sent == {
        "model": "claude-x",
        "max_tokens": 64,
        "system": anthropic.FIM_INSTRUCTIONS,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "def add(a, b):\n    "}]}
        ],
    }


def test_fim_suffix_and_prompt_list():
    sent = build({"prompt": ["a", "", "b"], "suffix": "return x\n", "tools": [WEATHER_TOOL]}, "fim")
    assert "<suffix>return x\n</suffix>" in sent["system"]
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]
    assert "tools" not in sent
    empty = build({"prompt": "", "suffix": "x"}, "fim")
    assert empty["messages"][0]["content"] == [{"type": "text", "text": anthropic.FIM_EMPTY_PREFIX}]


@pytest.mark.parametrize("prompt", [[1, 2, 3], "", None])
def test_fim_prompts_anthropic_cannot_take(prompt):
    with pytest.raises(ValueError, match="prompt"):
        build({"prompt": prompt}, "fim")


# --------------------------------------------------------------------------- responses


def without_created(value: Any) -> Any:
    if isinstance(value, dict):
        assert "created" not in value or isinstance(value["created"], int)
        return {k: v for k, v in value.items() if k != "created"}
    return value


def plain_chunk(value: Any) -> Any:
    """A stream chunk without what every chunk carries alike (`created`, `logprobs: null`,
    and `usage: null` when the client asked for the usage chunk)."""
    value = without_created(value)
    if isinstance(value, dict) and "choices" in value:
        if value.get("usage", 0) is None:
            del value["usage"]
        for choice in value["choices"]:
            assert choice.pop("logprobs", None) is None
    return value


def test_text_response():
    answer = encode_body(ANTHROPIC, "chat", load("message_text.json"), "served")
    assert without_created(answer) == {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "object": "chat.completion",
        "model": CLAUDE,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Bonjour ! Comment puis-je vous aider ? 😊",
                    "refusal": None,
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 15,
            "total_tokens": 27,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_tool_use_response_with_cache_usage():
    answer = encode_body(ANTHROPIC, "chat", load("message_tool_use.json"), "served")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll check the weather in both cities."
    calls = choice["message"]["tool_calls"]
    assert [(c["id"], c["type"], c["function"]["name"]) for c in calls] == [
        ("toolu_01A09q90qw90lq917835lq9", "function", "get_weather"),
        ("toolu_01B19r01rx01mr028946mr0", "function", "get_weather"),
    ]
    assert all(isinstance(c["function"]["arguments"], str) for c in calls)
    assert json.loads(calls[1]["function"]["arguments"]) == {
        "location": "Paris, France",
        "unit": "celsius",
    }
    assert answer["usage"] == {
        "prompt_tokens": 25 + 100 + 2048,
        "completion_tokens": 96,
        "total_tokens": 25 + 100 + 2048 + 96,
        "prompt_tokens_details": {"cached_tokens": 2048},
    }


def test_tool_only_response_has_null_content():
    payload = load("message_tool_use.json")
    payload["content"] = payload["content"][1:]
    message = encode_body(ANTHROPIC, "chat", payload, "served")["choices"][0]["message"]
    assert message["content"] is None and len(message["tool_calls"]) == 2


def test_thinking_response():
    answer = encode_body(ANTHROPIC, "chat", load("message_thinking.json"), "served")
    message = answer["choices"][0]["message"]
    assert message["content"] == "27 * 453 = 12,231"
    assert message["reasoning_content"].startswith("To find 27 * 453")
    assert "signature" not in json.dumps(answer)


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
        (None, "stop"),
    ],
)
@pytest.mark.parametrize("kind", ["chat", "fim"])
def test_finish_reasons(stop_reason, finish, kind):
    payload = {**load("message_text.json"), "stop_reason": stop_reason}
    assert encode_body(ANTHROPIC, kind, payload, "m")["choices"][0]["finish_reason"] == finish


def test_fim_response():
    answer = encode_body(ANTHROPIC, "fim", load("message_thinking.json"), "served")
    assert without_created(answer) == {
        "id": "msg_01Th1nk1ngExamp1e",
        "object": "text_completion",
        "model": CLAUDE,
        "choices": [
            {"index": 0, "text": "27 * 453 = 12,231", "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 48,
            "completion_tokens": 210,
            "total_tokens": 258,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def test_response_without_model_uses_the_served_one():
    payload = {k: v for k, v in load("message_text.json").items() if k != "model"}
    assert encode_body(ANTHROPIC, "chat", payload, "served")["model"] == "served"


# --------------------------------------------------------------------------- streams


def parse_sse(data: bytes) -> list[Any]:
    """OpenAI SSE bytes -> the events, `created` left out (it is the clock's)."""
    text = data.decode("utf-8")
    assert text == "" or text.endswith("\n\n"), "output must be whole events"
    events: list[Any] = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: ") and "\n" not in block
        payload = block[len("data: ") :]
        events.append("[DONE]" if payload == "[DONE]" else plain_chunk(json.loads(payload)))
    return events


def translate(pieces: list[bytes], kind: str = "chat", include_usage: bool = False) -> list[Any]:
    """The chat client's events; a whole answer ends with one `[DONE]`, a failed one with an
    error event instead."""
    out = encode_stream(ANTHROPIC, kind, pieces, model="served", include_usage=include_usage)
    events = parse_sse(out)
    assert events.count("[DONE]") + sum("error" in e for e in events if e != "[DONE]") == 1
    return events


def splits(data: bytes):
    """The ways of cutting the stream that the tests replay: whole, byte by byte, and in
    two at every offset."""
    yield "whole", [data]
    yield "bytes", [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield f"cut@{i}", [data[:i], data[i:]]


def translate_every_way(name: str, **options: Any) -> list[Any]:
    data = raw(name)
    expected = translate([data], **options)
    for how, pieces in splits(data):
        assert translate(pieces, **options) == expected, how
    return expected


def chunk(message_id: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": message_id,
        "object": "chat.completion.chunk",
        "model": CLAUDE,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def usage_chunk(message_id: str, prompt: int, completion: int, cached: int = 0) -> dict:
    return {
        "id": message_id,
        "object": "chat.completion.chunk",
        "model": CLAUDE,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


ROLE = {"role": "assistant", "content": ""}


@pytest.mark.parametrize("include_usage", [True, False])
def test_text_stream(include_usage):
    mid = "msg_01StreamText4xYz"
    expected = [
        chunk(mid, ROLE),
        chunk(mid, {"content": "Voilà, "}),
        chunk(mid, {"content": "un café ☕ et 日本語"}),
        chunk(mid, {"content": " 🎉"}),
        chunk(mid, {}, "stop"),
        *([usage_chunk(mid, 21, 14)] if include_usage else []),
        "[DONE]",
    ]
    assert translate_every_way("stream_text.sse", include_usage=include_usage) == expected


def test_parallel_tool_call_stream():
    mid = "msg_014p7gG3wDgGV9EUtLvnow3U"

    def call(index: int, **fields: Any) -> dict[str, Any]:
        return chunk(mid, {"tool_calls": [{"index": index, **fields}]})

    def start(index: int, call_id: str) -> dict[str, Any]:
        function = {"name": "get_weather", "arguments": ""}
        return call(index, id=call_id, type="function", function=function)

    events = translate_every_way("stream_parallel_tools.sse", include_usage=True)
    assert events == [
        chunk(mid, ROLE),
        chunk(mid, {"content": "Checking both cities"}),
        chunk(mid, {"content": "…"}),
        start(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6"),
        call(0, function={"arguments": '{"location": "San Fra'}),
        call(0, function={"arguments": 'ncisco, CA"}'}),
        start(1, "toolu_01VkgRa9ixE1nXqpw8FSbBdx"),
        call(1, function={"arguments": '{"locat'}),
        call(1, function={"arguments": 'ion": "Zürich"}'}),
        chunk(mid, {}, "tool_calls"),
        usage_chunk(mid, 472 + 256, 89, cached=256),
        "[DONE]",
    ]
    # What an OpenAI client rebuilds: no argument ever leaks into content.
    arguments = ["", ""]
    for event in events[:-1]:
        for choice in event["choices"]:
            for tool_call in choice["delta"].get("tool_calls", []):
                arguments[tool_call["index"]] += tool_call["function"]["arguments"]
            assert "location" not in choice["delta"].get("content", "")
    assert [json.loads(a) for a in arguments] == [
        {"location": "San Francisco, CA"},
        {"location": "Zürich"},
    ]


def test_thinking_stream_keeps_the_first_text():
    mid = "msg_01Th1nkStream9x"
    assert translate_every_way("stream_thinking.sse") == [
        chunk(mid, ROLE),
        chunk(mid, {"reasoning_content": "27 * 453: split into 27 * 400 = 10800"}),
        chunk(mid, {"reasoning_content": " and 27 * 53 = 1431, total 12231."}),
        chunk(mid, {"content": "27 * 453"}),
        chunk(mid, {"content": " = 12,231"}),
        chunk(mid, {}, "stop"),
        "[DONE]",
    ]


def test_error_stream():
    mid = "msg_01Err0rStreamQ7"
    assert translate_every_way("stream_error.sse", include_usage=True) == [
        chunk(mid, ROLE),
        chunk(mid, {"content": "Once upon"}),
        {
            "error": {
                "message": "reported an error: Overloaded",
                "type": "upstream_error",
                "param": None,
                "code": "overloaded_error",
            }
        },
    ]


def test_truncated_stream():
    mid = "msg_01TruncatedK3"
    assert translate_every_way("stream_truncated.sse", include_usage=True) == [
        chunk(mid, ROLE),
        chunk(mid, {"content": "Once upon a time"}),
        {
            "error": {
                "message": truncated("the answer was complete").message,
                "type": "upstream_error",
                "param": None,
                "code": "upstream_truncated",
            }
        },
    ]


def test_empty_stream_is_an_error():
    events = translate([b""])
    assert events == [
        {
            "error": {
                "message": truncated("the answer was complete").message,
                "type": "upstream_error",
                "param": None,
                "code": "upstream_truncated",
            }
        }
    ]


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_other_line_endings(newline):
    expected = translate([raw("stream_text.sse")])
    data = raw("stream_text.sse").replace(b"\n", newline)
    for how, pieces in splits(data):
        assert translate(pieces) == expected, how


def test_last_event_without_its_blank_line_still_counts():
    data = raw("stream_text.sse").rstrip(b"\n")
    assert translate([data]) == translate([raw("stream_text.sse")])


def test_message_stop_without_a_stop_reason_still_finishes():
    data = b"".join(
        line + b"\n\n"
        for line in raw("stream_text.sse").split(b"\n\n")
        if b"message_delta" not in line and line
    )
    events = translate([data])
    assert events[-2] == chunk("msg_01StreamText4xYz", {}, "stop")


def test_fim_stream():
    mid = "msg_01StreamText4xYz"

    def text(value: str, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": mid,
            "object": "text_completion",
            "model": CLAUDE,
            "choices": [{"index": 0, "text": value, "finish_reason": finish}],
        }

    assert translate_every_way("stream_text.sse", kind="fim", include_usage=True) == [
        text("Voilà, "),
        text("un café ☕ et 日本語"),
        text(" 🎉"),
        text("", "stop"),
        {
            "id": mid,
            "object": "text_completion",
            "model": CLAUDE,
            "choices": [],
            "usage": usage_chunk(mid, 21, 14)["usage"],
        },
        "[DONE]",
    ]
    # Thinking and tool calls have no place in a legacy completion.
    thinking = translate([raw("stream_thinking.sse")], kind="fim")
    assert [e["choices"][0]["text"] for e in thinking[:-1]] == ["27 * 453", " = 12,231", ""]


def test_stream_role_chunk_comes_first_even_without_message_start():
    data = b"".join(raw("stream_text.sse").split(b"\n\n", 1)[1:])
    events = translate([data])
    assert events[0]["choices"][0]["delta"] == ROLE
    assert events[0]["model"] == "served"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_event_data_over_several_lines(newline):
    """SSE joins an event's `data:` lines with newlines; a CR cut from its LF must not end
    the event early."""
    lines = [
        b"event: message_start",
        b'data: {"type": "message_start",',
        b'data:  "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3}}}',
        b"",
        b'data: {"type": "content_block_delta", "index": 0,',
        b'data: "delta": {"type": "text_delta", "text": "hi"}}',
        b"",
        b'data: {"type": "message_stop"}',
        b"",
        b"",
    ]
    data = newline.join(lines)
    for how, pieces in splits(data):
        events = translate(pieces)
        assert [e["choices"][0]["delta"] for e in events[:-1]] == [
            ROLE,
            {"content": "hi"},
            {},
        ], how
