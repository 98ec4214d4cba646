"""The Anthropic Messages dialect (jupyter_mux/dialects/messages.py): Anthropic requests in,
chat bodies out; items in, Anthropic events and Messages out.

Every event and body the encoder makes is validated against the anthropic SDK's own pydantic
models, and read by a real `anthropic.Anthropic` client over an httpx2 MockTransport.
Requests are written from Anthropic's API reference (tests/payloads/messages) or captured
from what the SDK itself sends.
"""

from __future__ import annotations

import base64
import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pydantic
import pytest

from jupyter_mux.dialects import messages
from jupyter_mux.dialects.messages import MessagesEncoder, count_tokens, to_chat
from jupyter_mux.errors import Conflict, InvalidRequest, MuxError, NotFound, UpstreamError
from jupyter_mux.items import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    Done,
    Failure,
    Finish,
    Item,
    Reasoning,
    Start,
    Text,
    ToolCall,
    Usage,
)
from jupyter_mux.providers import anthropic as anthropic_wire

PAYLOADS = Path(__file__).parent / "payloads"
CLAUDE = "claude-sonnet-4-5-20250929"
THINKING = {"model": CLAUDE, "thinking": {"type": "enabled", "budget_tokens": 2048}}

EVENT = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
MESSAGE = pydantic.TypeAdapter(anthropic.types.Message)
ERROR = pydantic.TypeAdapter(anthropic.types.ErrorResponse)
MODEL = pydantic.TypeAdapter(anthropic.types.ModelInfo)


def load(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / "messages" / name).read_text(encoding="utf-8"))


def request(*turns: Any, **fields: Any) -> dict[str, Any]:
    """A Messages request; a string turn is a user message."""
    msgs = [{"role": "user", "content": t} if isinstance(t, str) else t for t in turns or ["Hi"]]
    return {"model": CLAUDE, "max_tokens": 1024, "messages": msgs, **fields}


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def refused(body: Any, decode: Callable[[Any], Any] = to_chat) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        decode(body)
    assert info.value.status == 400
    return info.value


# --------------------------------------------------------------------------- SSE helpers


def events(data: bytes) -> list[dict[str, Any]]:
    """Cut the encoder's bytes into events, checking each frame's shape and validating each
    event against the SDK's models (error events against its ErrorResponse)."""
    assert data.endswith(b"\n\n")
    out = []
    for frame in data.decode().split("\n\n")[:-1]:
        name_line, data_line = frame.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        event = json.loads(data_line.removeprefix("data: "))
        assert event["type"] == name_line.removeprefix("event: ")
        (ERROR if event["type"] == "error" else EVENT).validate_python(event)
        out.append(event)
    return out


def shape(evs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """An event sequence as (type, index, block or delta type), for comparing sequences."""
    out = []
    for e in evs:
        part = e.get("content_block") or e.get("delta") or {}
        out.append((e["type"], e.get("index"), part.get("type")))
    return out


def sdk(handler: Callable[[httpx2.Request], httpx2.Response]) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-mux",
        base_url="http://mux.test/mux",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def sse_client(data: bytes) -> anthropic.Anthropic:
    headers = {"content-type": "text/event-stream"}
    return sdk(lambda _request: httpx2.Response(200, headers=headers, content=data))


def read_stream(data: bytes) -> anthropic.types.Message:
    """What the SDK's stream helper makes of the encoder's bytes (each event validated)."""
    events(data)
    client = sse_client(data)
    with client.messages.stream(model=CLAUDE, max_tokens=1024, messages=[]) as stream:
        return stream.get_final_message()


def encode(items: list[Item], body: dict[str, Any] | None = None) -> bytes:
    return MessagesEncoder(body or {"model": CLAUDE}, "served-model").stream(items)


def whole(items: list[Item], body: dict[str, Any] | None = None) -> dict[str, Any]:
    message = MessagesEncoder(body or {"model": CLAUDE}, "served-model").body(items)
    MESSAGE.validate_python(message)
    return message


# --------------------------------------------------------------------------- to_chat


def test_agent_request_becomes_chat():
    chat = to_chat(load("agent_request.json"))
    system, question, turn, result1, result2, rest = chat["messages"]
    assert system == {
        "role": "system",
        "content": [
            text("You are a coding assistant working in a Jupyter server."),
            text("Answer briefly."),
        ],
    }
    assert question["role"] == "user" and question["content"].startswith("What is the weather")
    # Thinking kept as reasoning; the signature and the redacted block are gone.
    assert turn["content"] == "Checking both cities…"
    assert turn["reasoning_content"] == "Two cities: call get_weather twice."
    assert "EqQB" not in json.dumps(chat) and "EmwK" not in json.dumps(chat)
    assert [json.loads(c["function"]["arguments"]) for c in turn["tool_calls"]] == [
        {"location": "San Francisco, CA"},
        {"location": "Zürich", "unit": "celsius"},
    ]
    # Tool results follow the calls as tool messages, in order, before the turn's text.
    assert result1 == {
        "role": "tool",
        "tool_call_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        "content": "15 degrees, fog",
    }
    assert result2["tool_call_id"] == "toolu_01VkgRa9ixE1nXqpw8FSbBdx"
    assert result2["content"] == f"{messages.TOOL_ERROR}: The weather service timed out."
    assert rest["role"] == "user"
    assert [p["type"] for p in rest["content"]] == ["text", "image_url", "image_url"]
    assert rest["content"][1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    assert rest["content"][2]["image_url"]["url"].startswith("https://upload.wikimedia.org/")

    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather", "run_cell"]
    assert chat["tools"][0]["function"]["parameters"]["required"] == ["location"]
    assert chat["tool_choice"] == "auto" and chat["parallel_tool_calls"] is False
    assert chat["max_tokens"] == 8192
    assert (chat["temperature"], chat["top_k"]) == (0.2, 40)
    assert chat["stop"] == ["\n\nHuman:", "</answer>"]
    assert chat["user"] == "13803d75-b4b5-4c3e-b2a2-6f21399b021b"
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}
    assert "reasoning_effort" not in chat


def test_round_trip_through_the_anthropic_wire():
    """to_chat is the reverse of the Anthropic wire's request builder: a request inside what
    both forms express comes back unchanged."""
    original = {
        "model": CLAUDE,
        "max_tokens": 2000,
        "system": "Be terse.",
        "messages": [
            user(text("Weather in Paris?")),
            assistant(
                text("Looking it up."),
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
            ),
            user(
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21C"},
                text("And tomorrow?"),
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                },
            ),
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather by city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }
    again = json.loads(anthropic_wire.build_request("chat", to_chat(original), CLAUDE))
    assert again == original


def test_the_sdks_own_requests_decode():
    """Whatever the anthropic SDK puts on the wire for typed arguments, to_chat takes."""
    sent: list[dict[str, Any]] = []

    def handler(req: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(req.content))
        return httpx2.Response(200, json=whole([Text("ok"), Finish(), Done()]))

    client = sdk(handler)
    client.messages.create(
        model=CLAUDE,
        max_tokens=8192,
        system=[{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": "Plot it"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_9", "name": "plot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_9",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/gif",
                                    "data": "R0lG",
                                },
                            }
                        ],
                    }
                ],
            },
        ],
        tools=[{"name": "plot", "input_schema": {"type": "object", "properties": {}}}],
        tool_choice={"type": "any"},
        thinking={"type": "enabled", "budget_tokens": 4096},
        extra_body={"top_p": 0.95},  # current SDKs no longer type the sampling fields
    )
    chat = to_chat(sent[0])
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    call = chat["messages"][2]
    assert call["content"] is None and call["tool_calls"][0]["function"]["arguments"] == "{}"
    # An image-only tool result: the tool message says so, the image follows it.
    assert chat["messages"][3]["content"] == messages.MEDIA_RESULT_TEXT
    image = chat["messages"][4]["content"][0]
    assert image == {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lG"}}
    assert chat["tool_choice"] == "required" and "parallel_tool_calls" not in chat
    assert chat["reasoning_effort"] == "medium" and chat["top_p"] == 0.95
    assert "stream" not in chat


def test_documents():
    pdf = base64.b64encode(b"%PDF-1.7\n").decode()
    chat = to_chat(
        request(
            user(
                {
                    "type": "document",
                    "title": "report.pdf",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
                },
                {
                    "type": "document",
                    "title": "Notes",
                    "source": {"type": "text", "media_type": "text/plain", "data": "Line one."},
                },
                {
                    "type": "document",
                    "source": {
                        "type": "content",
                        "content": [
                            text("Chunk A"),
                            {
                                "type": "image",
                                "source": {"type": "url", "url": "https://x.org/a.png"},
                            },
                        ],
                    },
                },
            )
        )
    )
    parts = chat["messages"][0]["content"]
    assert parts[0] == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{pdf}"},
    }
    assert parts[1] == text("Notes\n\nLine one.")
    assert parts[2:] == [
        text("Chunk A"),
        {"type": "image_url", "image_url": {"url": "https://x.org/a.png"}},
    ]
    # The Anthropic wire turns the PDF part back into a document.
    sent = json.loads(anthropic_wire.build_request("chat", chat, CLAUDE))
    assert sent["messages"][0]["content"][0]["type"] == "document"


def test_string_content_and_system_messages():
    chat = to_chat(
        request(
            "Hello",
            {"role": "assistant", "content": "Hi!"},
            {"role": "system", "content": "Now answer in French."},
            "Ça va ?",
            system="Be kind.",
        )
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "system", "content": "Now answer in French."},
        {"role": "user", "content": "Ça va ?"},
    ]


def test_assistant_turn_of_only_redacted_thinking_is_left_out():
    redacted = assistant({"type": "redacted_thinking", "data": "abc"})
    chat = to_chat(request("Q", redacted, "Q2"))
    assert [m["role"] for m in chat["messages"]] == ["user", "user"]


def test_a_conversation_of_only_redacted_thinking_is_refused():
    redacted = assistant({"type": "redacted_thinking", "data": "abc"})
    assert refused(request(redacted, system="s")).param == "messages"


def test_tool_result_is_error_without_text():
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True}
    chat = to_chat(request(user(result)))
    error = {"role": "tool", "tool_call_id": "toolu_1", "content": messages.TOOL_ERROR}
    assert chat["messages"] == [error]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        (
            {"type": "tool", "name": "f"},
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
        ),
        ({"type": "none"}, {"tool_choice": "none"}),
        (
            {"type": "any", "disable_parallel_tool_use": True},
            {"tool_choice": "required", "parallel_tool_calls": False},
        ),
        ({"type": "none", "disable_parallel_tool_use": True}, {"tool_choice": "none"}),
    ],
)
def test_tool_choice(choice, expected):
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    chat = to_chat(request(tools=tools, tool_choice=choice))
    assert {k: chat[k] for k in ("tool_choice", "parallel_tool_calls") if k in chat} == expected


def test_tool_choice_without_tools_is_dropped_where_harmless():
    for kind in ("auto", "none"):
        assert "tool_choice" not in to_chat(request(tool_choice={"type": kind}))


def test_tool_fields():
    tool = {
        "name": "f",
        "description": "Does f.",
        "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "strict": True,
        "cache_control": {"type": "ephemeral"},
    }
    assert to_chat(request(tools=[tool]))["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "Does f.",
                "parameters": tool["input_schema"],
                "strict": True,
            },
        }
    ]


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "web_fetch_20250910", "name": "web_fetch"},
        {"type": "code_execution_20250825", "name": "code_execution"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "memory_20250818", "name": "memory"},
    ],
)
def test_anthropic_defined_tools_are_refused_by_type(tool):
    error = refused(request(tools=[tool]))
    assert error.param == "tools[0].type"
    assert repr(tool["type"]) in error.message


@pytest.mark.parametrize(
    ("budget", "effort"),
    [
        (1024, "low"),
        (4095, "low"),
        (4096, "medium"),
        (16383, "medium"),
        (16384, "high"),
        (60000, "high"),
    ],
)
def test_thinking_budget_becomes_effort(budget, effort):
    body = request(max_tokens=64000, thinking={"type": "enabled", "budget_tokens": budget})
    chat = to_chat(body)
    assert chat["reasoning_effort"] == effort
    # Sent on to Anthropic, the budget is never above the one asked for.
    sent = json.loads(anthropic_wire.build_request("chat", chat, CLAUDE))
    assert sent["thinking"]["budget_tokens"] <= budget


@pytest.mark.parametrize(
    ("thinking", "effort", "expected"),
    [
        ({"type": "disabled"}, None, None),
        ({"type": "disabled"}, "high", None),
        ({"type": "adaptive"}, None, None),
        ({"type": "adaptive"}, "low", "low"),
        (None, "medium", "medium"),
        (None, "xhigh", "high"),
        (None, "max", "high"),
        ({"type": "enabled", "budget_tokens": 20000}, "low", "low"),
    ],
)
def test_output_config_effort(thinking, effort, expected):
    fields: dict[str, Any] = {"max_tokens": 32000}
    if thinking:
        fields["thinking"] = thinking
    if effort:
        fields["output_config"] = {"effort": effort}
    assert to_chat(request(**fields)).get("reasoning_effort") == expected


def test_structured_output_format():
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    chat = to_chat(request(output_config={"format": {"type": "json_schema", "schema": schema}}))
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def test_fields_without_chat_meaning_are_ignored():
    chat = to_chat(
        request(
            service_tier="auto",
            container="container_1",
            inference_geo="us",
            cache_control={"type": "ephemeral"},
            stream=False,
            metadata={},
        )
    )
    assert set(chat) == {"model", "messages", "max_tokens"}


def _body_with(path: str, value: Any) -> dict[str, Any]:
    """The agent request with one field (a dotted path, list indexes as numbers) set, or
    removed when `value` is `...`."""
    body = copy.deepcopy(load("agent_request.json"))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node: Any = body
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return body


TOOL_RESULT = "messages.2.content.1"
IMAGE = "messages.2.content.3"
BAD_REQUESTS = [
    # (field set, value (... removes it), the param named by the error)
    ("max_tokens", ..., "max_tokens"),
    ("max_tokens", 0, "max_tokens"),
    ("max_tokens", "8192", "max_tokens"),
    ("max_tokens", True, "max_tokens"),
    ("model", ..., "model"),
    ("model", 7, "model"),
    ("messages", ..., "messages"),
    ("messages", [], "messages"),
    ("messages", "hello", "messages"),
    ("messages.0", "hello", "messages[0]"),
    ("messages.0.role", "tool", "messages[0].role"),
    ("messages.0.content", 42, "messages[0].content"),
    ("messages.0.content", [], "messages[0].content"),
    ("messages.0.content", ["hello"], "messages[0].content[0]"),
    ("messages.0.content", [{"text": "no type"}], "messages[0].content[0]"),
    ("messages.0.content", [{"type": "video", "url": "x"}], "messages[0].content[0]"),
    ("messages.0.content", [{"type": "text", "text": None}], "messages[0].content[0].text"),
    (
        "messages.1.content.2",
        {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
        "messages[1].content[2]",
    ),
    (
        "messages.1.content.2",
        {"type": "web_search_tool_result", "tool_use_id": "s", "content": []},
        "messages[1].content[2]",
    ),
    (
        "messages.1.content.2",
        {"type": "image", "source": {"type": "url", "url": "https://a.b/c.png"}},
        "messages[1].content[2]",
    ),
    ("messages.1.content.2", {"type": "tool_result", "tool_use_id": "t"}, "messages[1].content[2]"),
    ("messages.1.content.3.input", '{"location": 1}', "messages[1].content[3].input"),
    ("messages.1.content.3.id", ..., "messages[1].content[3].id"),
    ("messages.1.content.3.name", "", "messages[1].content[3].name"),
    ("messages.1.content.0.thinking", 1, "messages[1].content[0].thinking"),
    (
        "messages.2.content.2",
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        "messages[2].content[2]",
    ),
    (
        "messages.2.content.2",
        {"type": "thinking", "thinking": "x", "signature": "s"},
        "messages[2].content[2]",
    ),
    (f"{TOOL_RESULT}.tool_use_id", ..., "messages[2].content[1].tool_use_id"),
    (f"{TOOL_RESULT}.content", 5, "messages[2].content[1].content"),
    (
        f"{TOOL_RESULT}.content",
        [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
        "messages[2].content[1].content[0]",
    ),
    (f"{TOOL_RESULT}.is_error", "yes", "messages[2].content[1].is_error"),
    (f"{IMAGE}.source", "iVBOR", "messages[2].content[3].source"),
    (f"{IMAGE}.source.type", "bytes", "messages[2].content[3].source.type"),
    (f"{IMAGE}.source.media_type", "image/bmp", "messages[2].content[3].source.media_type"),
    (f"{IMAGE}.source.data", "", "messages[2].content[3].source.data"),
    (
        f"{IMAGE}.source",
        {"type": "url", "url": "file:///etc/passwd"},
        "messages[2].content[3].source.url",
    ),
    (f"{IMAGE}.source", {"type": "file", "file_id": "file_011"}, "messages[2].content[3].source"),
    (
        f"{IMAGE}",
        {"type": "document", "source": {"type": "url", "url": "https://a.b/c.pdf"}},
        "messages[2].content[3].source",
    ),
    (
        f"{IMAGE}",
        {"type": "document", "source": {"type": "file", "file_id": "file_011"}},
        "messages[2].content[3].source",
    ),
    (
        f"{IMAGE}",
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "text/html", "data": "PGh0bWw+"},
        },
        "messages[2].content[3].source.media_type",
    ),
    (
        f"{IMAGE}",
        {"type": "document", "source": {"type": "xml"}},
        "messages[2].content[3].source.type",
    ),
    (
        f"{IMAGE}",
        {"type": "document", "source": {"type": "content", "content": [{"type": "document"}]}},
        "messages[2].content[3].source.content[0]",
    ),
    ("system", 12, "system"),
    ("system", [{"type": "image", "source": {}}], "system[0]"),
    ("tools", {"name": "f"}, "tools"),
    ("tools.0", "get_weather", "tools[0]"),
    ("tools.0.input_schema", ..., "tools[0].input_schema"),
    ("tools.0.name", ..., "tools[0].name"),
    (
        "mcp_servers",
        [{"type": "url", "url": "https://mcp.example.com/sse", "name": "x"}],
        "mcp_servers",
    ),
    ("tool_choice", "auto", "tool_choice"),
    ("tool_choice", {"type": "required"}, "tool_choice.type"),
    ("tool_choice", {"type": "tool", "name": "nope"}, "tool_choice.name"),
    ("tool_choice.disable_parallel_tool_use", "true", "tool_choice.disable_parallel_tool_use"),
    ("temperature", 1.5, "temperature"),
    ("temperature", "0.2", "temperature"),
    ("top_p", -0.1, "top_p"),
    ("top_k", -1, "top_k"),
    ("top_k", 1.5, "top_k"),
    ("stop_sequences", "</answer>", "stop_sequences"),
    ("stop_sequences", ["a", 1], "stop_sequences"),
    ("thinking", True, "thinking"),
    ("thinking", {"type": "on"}, "thinking.type"),
    ("thinking", {"type": "enabled"}, "thinking.budget_tokens"),
    ("thinking", {"type": "enabled", "budget_tokens": 512}, "thinking.budget_tokens"),
    ("thinking", {"type": "enabled", "budget_tokens": 8192}, "max_tokens"),
    ("output_config", "high", "output_config"),
    ("output_config", {"effort": "extreme"}, "output_config.effort"),
    ("output_config", {"format": {"type": "json_object"}}, "output_config.format"),
    ("output_config", {"format": {"type": "json_schema"}}, "output_config.format.schema"),
    ("metadata", "user-1", "metadata"),
    ("metadata", {"user_id": 1}, "metadata.user_id"),
    ("stream", "yes", "stream"),
]


@pytest.mark.parametrize(("path", "value", "param"), BAD_REQUESTS)
def test_bad_requests_are_400s_naming_the_field(path, value, param):
    error = refused(_body_with(path, value))
    assert error.param == param
    # The message names the field (its last part at least) and is meant to be read.
    assert param.rsplit(".", 1)[-1].split("[")[0] in error.message
    assert error.message.endswith(".")


def test_tool_choice_needs_tools():
    for kind in ("any", "tool"):
        error = refused(request(tool_choice={"type": kind, "name": "f"}))
        assert error.param == "tool_choice"


def test_body_must_be_an_object():
    assert "JSON object" in refused([{"role": "user"}]).message


# --------------------------------------------------------------------------- streams


def test_text_stream_read_by_the_sdk():
    items = [
        Start("chatcmpl-9", "llama-3.1-8b"),
        Text("Hello"),
        Text(", world"),
        Text(""),
        Finish(STOP),
        Usage(prompt_tokens=12, completion_tokens=3),
        Done(),
    ]
    data = encode(items)
    assert shape(events(data)) == [
        ("message_start", None, None),
        ("content_block_start", 0, "text"),
        ("content_block_delta", 0, "text_delta"),
        ("content_block_delta", 0, "text_delta"),
        ("content_block_stop", 0, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    message = read_stream(data)
    assert message.id == "chatcmpl-9" and message.model == "llama-3.1-8b"
    assert [b.text for b in message.content] == ["Hello, world"]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 3)


def test_items_one_at_a_time_make_the_same_bytes():
    items = [
        Start("m1", "x"),
        Reasoning("a"),
        Reasoning(signature="s"),
        Text("b"),
        ToolCall(0, "c1", "f", '{"k"'),
        ToolCall(0, arguments=": 1}"),
        Finish(TOOL_CALLS),
        Usage(5, 6),
        Done(),
    ]
    encoder = MessagesEncoder(THINKING, "x")
    assert b"".join(encoder.stream([item]) for item in items) == encode(items, THINKING)


def test_parallel_tool_calls_match_anthropics_own_stream():
    """Items as the Anthropic translator reads the recorded stream -> the same events, block
    indexes included (less `ping` and the empty first argument deltas)."""
    recorded = (PAYLOADS / "anthropic" / "stream_parallel_tools.sse").read_bytes()
    expected = [
        e
        for e in events(recorded.replace(b'event: ping\ndata: {"type": "ping"}\n\n', b""))
        if e.get("delta", {}).get("partial_json") != ""
    ]
    items = [
        Start("msg_014p7gG3wDgGV9EUtLvnow3U", CLAUDE),
        Text("Checking both cities"),
        Text("…"),
        ToolCall(0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        ToolCall(0, arguments='{"location": "San Fra'),
        ToolCall(0, arguments='ncisco, CA"}'),
        ToolCall(1, "toolu_01VkgRa9ixE1nXqpw8FSbBdx", "get_weather", ""),
        ToolCall(1, arguments='{"locat'),
        ToolCall(1, arguments='ion": "Zürich"}'),
        Finish(TOOL_CALLS),
        Usage(prompt_tokens=728, completion_tokens=89, cached_tokens=256),
        Done(),
    ]
    ours = events(encode(items))
    assert shape(ours) == shape(expected)
    assert [e.get("delta") for e in ours[1:-2]] == [e.get("delta") for e in expected[1:-2]]
    message = read_stream(encode(items))
    assert [b.input for b in message.content if b.type == "tool_use"] == [
        {"location": "San Francisco, CA"},
        {"location": "Zürich"},
    ]
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (
        472,
        256,
        89,
    )


def test_thinking_matches_anthropics_own_stream():
    recorded = events((PAYLOADS / "anthropic" / "stream_thinking.sse").read_bytes())
    signature = recorded[4]["delta"]["signature"]
    items = [
        Start("msg_01Th1nkStream9x", CLAUDE),
        Reasoning("27 * 453: split into 27 * 400 = 10800"),
        Reasoning(" and 27 * 53 = 1431, total 12231."),
        Reasoning(signature=signature),
        Text("27 * 453"),
        Text(" = 12,231"),
        Finish(STOP),
        Done(),
    ]
    ours = events(encode(items, THINKING))
    assert shape(ours) == shape(recorded)
    assert [e.get("delta") for e in ours[1:-2]] == [e.get("delta") for e in recorded[1:-2]]
    message = read_stream(encode(items, THINKING))
    assert message.content[0].type == "thinking"
    assert message.content[0].signature == signature
    assert message.content[1].text == "27 * 453 = 12,231"


def test_thinking_blocks_split_on_signature_and_redaction():
    items = [
        Reasoning("one"),
        Reasoning(signature="sig-1"),
        Reasoning("two"),
        Reasoning(redacted="opaque"),
        Reasoning(signature="sig-3"),
        Text("done"),
        Done(),
    ]
    message = read_stream(encode(items, THINKING))
    assert [(b.type, getattr(b, "signature", None)) for b in message.content] == [
        ("thinking", "sig-1"),
        ("thinking", ""),
        ("redacted_thinking", None),
        ("thinking", "sig-3"),
        ("text", None),
    ]
    assert message.content[2].data == "opaque"


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}])
def test_reasoning_stays_out_when_the_client_did_not_ask_for_thinking(thinking):
    body = {"model": CLAUDE, **({"thinking": thinking} if thinking else {})}
    items = [Reasoning("hidden"), Reasoning(signature="s"), Text("answer"), Done()]
    message = read_stream(encode(items, body))
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "answer"
    assert whole(items, body)["content"] == [{"type": "text", "text": "answer"}]


@pytest.mark.parametrize(
    ("finish", "called", "reason", "sequence"),
    [
        (Finish(STOP), False, "end_turn", None),
        (Finish(STOP, "</answer>"), False, "stop_sequence", "</answer>"),
        (Finish(LENGTH), False, "max_tokens", None),
        (Finish(TOOL_CALLS), True, "tool_use", None),
        (Finish(STOP), True, "tool_use", None),  # a server that says "stop" after a call
        (Finish(CONTENT_FILTER), False, "refusal", None),
        (Finish("something_new"), False, "end_turn", None),
        (None, False, "end_turn", None),
        (None, True, "tool_use", None),
    ],
)
def test_stop_reasons(finish, called, reason, sequence):
    items: list[Item] = [Text("x")]
    if called:
        items.append(ToolCall(0, "call_1", "f", "{}"))
    items += [finish, Done()] if finish else [Done()]
    message = read_stream(encode(items))
    assert (message.stop_reason, message.stop_sequence) == (reason, sequence)
    body = whole(items)
    assert (body["stop_reason"], body["stop_sequence"]) == (reason, sequence)


def test_usage_with_cached_and_reasoning_tokens():
    usage = Usage(
        prompt_tokens=2100, completion_tokens=310, cached_tokens=2048, reasoning_tokens=200
    )
    items = [Text("x"), usage, Finish(STOP), Done()]
    final = events(encode(items))[-2]["usage"]
    assert final == {
        "input_tokens": 2100 - 2048,
        "output_tokens": 310,
        "cache_read_input_tokens": 2048,
        "output_tokens_details": {"thinking_tokens": 200},
    }
    sdk_usage = read_stream(encode(items)).usage
    assert sdk_usage.input_tokens + sdk_usage.cache_read_input_tokens == 2100
    assert sdk_usage.output_tokens_details.thinking_tokens == 200
    assert whole(items)["usage"] == final


def test_nothing_is_written_before_the_first_block():
    """So that the proxy can still answer an early failure with its real status."""
    encoder = MessagesEncoder({"model": CLAUDE}, "m")
    assert encoder.stream([Start("m", "x"), Usage(40, 0, 10), Finish(STOP)]) == b""
    assert encoder.stream([Reasoning("not asked for"), Text("")]) == b""
    start = events(encoder.stream([Text("a")]))[0]
    # The input usage reported before any content is in message_start.
    assert start["message"]["usage"]["input_tokens"] == 30
    assert start["message"]["usage"]["cache_read_input_tokens"] == 10


def test_later_usage_replaces_earlier():
    items = [Usage(10, 1), Text("x"), Usage(10, 7), Done()]
    assert read_stream(encode(items)).usage.output_tokens == 7


def test_failure_mid_stream_is_one_error_event_the_sdk_raises():
    encoder = MessagesEncoder({"model": CLAUDE}, "served-model")
    begun = encoder.stream([Start("msg_1", CLAUDE), Text("Once upon")])
    message = "The provider 'claude' is overloaded; try again in a moment."
    failure = encoder.failure(Failure(message, status=529, code="upstream_error"))
    evs = events(begun + failure)
    assert evs[-1] == {"type": "error", "error": {"type": "overloaded_error", "message": message}}
    assert [e["type"] for e in evs].count("error") == 1
    # Nothing follows the error: no block stop, no message_stop, not even for more items.
    assert encoder.stream([Text("more"), Done()]) == b""
    assert encoder.failure(Failure("again")) == b""

    seen: list[str] = []
    client = sse_client(begun + failure)
    stream = client.messages.stream(model=CLAUDE, max_tokens=10, messages=[])
    with pytest.raises(anthropic.APIStatusError) as info, stream as events_in:
        seen.extend(events_in.text_stream)
    assert seen == ["Once upon"]
    assert info.value.type == "overloaded_error"
    assert info.value.body["error"]["message"] == message


def test_failure_item_in_the_stream_ends_it_the_same_way():
    data = encode([Text("partial"), Failure("Upstream reset the connection.", 502), Done()])
    evs = events(data)
    assert evs[-1]["type"] == "error" and evs[-1]["error"]["type"] == "api_error"
    assert "message_stop" not in [e["type"] for e in evs]


def test_an_anthropic_upstreams_error_type_is_kept():
    """The Anthropic translator keeps the upstream's error type as the Failure's code."""
    failure = Failure("Provider 'claude' reported an error: Overloaded", 502, "overloaded_error")
    (event,) = events(MessagesEncoder({}, "m").failure(failure))
    assert event["error"]["type"] == "overloaded_error"
    (event,) = events(MessagesEncoder({}, "m").failure(Failure("Cut.", 502, "upstream_truncated")))
    assert event["error"]["type"] == "api_error"


def test_empty_answer():
    items = [Start(), Finish(STOP), Usage(9, 0), Done()]
    data = encode(items)
    assert [e["type"] for e in events(data)] == ["message_start", "message_delta", "message_stop"]
    message = read_stream(data)
    assert message.content == [] and message.stop_reason == "end_turn"
    assert message.id.startswith("msg_") and message.model == "served-model"
    assert whole(items)["content"] == []
    # Not even a Start: Done alone still makes a whole, valid stream.
    assert [e["type"] for e in events(encode([Done()]))] == [
        "message_start",
        "message_delta",
        "message_stop",
    ]


def test_generated_ids_are_anthropic_shaped_and_stable():
    encoder = MessagesEncoder({"model": CLAUDE}, "m")
    evs = events(encoder.stream([Text("a"), ToolCall(0, name="f", arguments="{}"), Done()]))
    message_id = evs[0]["message"]["id"]
    tool_id = evs[4]["content_block"]["id"]
    assert message_id.startswith("msg_") and tool_id.startswith("toolu_")
    assert events(encode([Done()]))[0]["message"]["id"] != message_id


def test_interleaved_argument_deltas_reach_their_own_call():
    items = [
        ToolCall(0, "c0", "f"),
        ToolCall(1, "c1", "g"),
        ToolCall(0, arguments='{"a": 1}'),
        ToolCall(1, arguments='{"b": 2}'),
        Finish(TOOL_CALLS),
        Done(),
    ]
    message = read_stream(encode(items))
    assert [(b.id, b.input) for b in message.content] == [("c0", {"a": 1}), ("c1", {"b": 2})]


# --------------------------------------------------------------------------- bodies


def test_body_is_a_message_the_sdk_reads():
    items = [
        Start("chatcmpl-1", "qwen3"),
        Reasoning("Think.", signature="sig"),
        Text("Calling two tools."),
        ToolCall(0, "call_a", "get_weather", '{"location": "Paris"}'),
        ToolCall(1, "call_b", "get_time", ""),
        Finish(TOOL_CALLS),
        Usage(prompt_tokens=50, completion_tokens=20, cached_tokens=0),
        Done(),
    ]
    body = whole(items, THINKING)
    assert body["content"] == [
        {"type": "thinking", "thinking": "Think.", "signature": "sig"},
        {"type": "text", "text": "Calling two tools."},
        {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {}},
    ]
    client = sdk(lambda _req: httpx2.Response(200, json=body))
    message = client.messages.create(model=CLAUDE, max_tokens=10, messages=[])
    assert message.model_dump(exclude_none=True) == MESSAGE.validate_python(body).model_dump(
        exclude_none=True
    )
    assert message.stop_reason == "tool_use" and message.id == "chatcmpl-1"


def test_body_with_broken_tool_arguments_keeps_them():
    body = whole([ToolCall(0, "c", "f", '{"a": '), Done()])
    assert body["content"][0]["input"] == {"_raw": '{"a": '}


def test_body_failure_is_raised_with_its_status():
    with pytest.raises(UpstreamError) as info:
        whole([Start(), Failure("Provider 'x' answered 429: slow down.", 429, "rate_limited")])
    assert info.value.status == 429 and info.value.code == "rate_limited"
    assert messages.error_body(info.value)["error"]["type"] == "rate_limit_error"


def test_body_failure_with_anthropics_529_is_raised_as_503():
    with pytest.raises(UpstreamError) as info:
        whole([Failure("Provider 'claude' is overloaded.", 529)])
    assert info.value.status == 503
    assert messages.error_body(info.value)["error"]["type"] == "overloaded_error"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error", "kind", "sdk_class"),
    [
        (
            InvalidRequest("'max_tokens' is required."),
            "invalid_request_error",
            anthropic.BadRequestError,
        ),
        (
            MuxError("Invalid key.", status=401),
            "authentication_error",
            anthropic.AuthenticationError,
        ),
        (MuxError("No access.", status=403), "permission_error", anthropic.PermissionDeniedError),
        (NotFound("No such route."), "not_found_error", anthropic.NotFoundError),
        (Conflict("Workspace has no model."), "invalid_request_error", anthropic.ConflictError),
        (MuxError("Too big.", status=413), "request_too_large", anthropic.ContentTooLargeError),
        (UpstreamError("Slow down.", status=429), "rate_limit_error", anthropic.RateLimitError),
        (MuxError("Bug.", status=500), "api_error", anthropic.InternalServerError),
        (UpstreamError("Refused."), "api_error", anthropic.InternalServerError),
        (
            MuxError("Key mismatch.", status=503),
            "overloaded_error",
            anthropic.ServiceUnavailableError,
        ),
        (UpstreamError("Timed out.", status=504), "timeout_error", anthropic.GatewayTimeoutError),
    ],
)
def test_error_bodies_and_the_sdk_exception_they_raise(error, kind, sdk_class):
    body = messages.error_body(error)
    assert body == {"type": "error", "error": {"type": kind, "message": error.message}}
    if kind != "request_too_large":  # Cloudflare's type, absent from the SDK's union
        ERROR.validate_python(body)
    client = sdk(lambda _req: httpx2.Response(error.status, json=body))
    with pytest.raises(sdk_class) as info:
        client.messages.create(model=CLAUDE, max_tokens=10, messages=[])
    assert type(info.value) is sdk_class
    assert info.value.type == kind and error.message in str(info.value)


def test_overloaded_529_from_a_failure():
    """An upstream's 529 reaches the encoder as a Failure (MuxError cannot carry 529, which
    is no HTTPStatus): its error event body, answered with 529, raises OverloadedError."""
    frame = MessagesEncoder({}, "m").failure(Failure("Overloaded.", status=529))
    (body,) = events(frame)
    client = sdk(lambda _req: httpx2.Response(529, json=body))
    with pytest.raises(anthropic.OverloadedError) as info:
        client.messages.create(model=CLAUDE, max_tokens=10, messages=[])
    assert info.value.type == "overloaded_error"


# --------------------------------------------------------------------------- count_tokens


def test_count_tokens_estimate():
    base = request("a" * 400)
    assert count_tokens(base) == 400 / messages.CHARS_PER_TOKEN
    assert count_tokens(base) == count_tokens(copy.deepcopy(base))  # deterministic

    system = {**base, "system": "b" * 40}
    assert count_tokens(system) == count_tokens(base) + 40 / messages.CHARS_PER_TOKEN

    image = {"type": "image", "source": {"type": "url", "url": "https://a.b/c.png"}}
    with_image = request(user(text("a" * 400), image))
    assert count_tokens(with_image) == count_tokens(base) + messages.IMAGE_TOKENS

    tool = {"name": "f", "description": "d", "input_schema": {"type": "object"}}
    with_tool = {**base, "tools": [tool]}
    function = {"name": "f", "description": "d", "parameters": {"type": "object"}}
    schema_chars = len(json.dumps(function, separators=(",", ":")))
    assert count_tokens(with_tool) == math.ceil((400 + schema_chars) / messages.CHARS_PER_TOKEN)


def test_count_tokens_counts_calls_and_results_not_past_thinking():
    call = {"type": "tool_use", "id": "t", "name": "ab", "input": {}}
    turns = [
        "q" * 10,
        assistant({"type": "thinking", "thinking": "x" * 4000, "signature": "s"}, call),
        user({"type": "tool_result", "tool_use_id": "t", "content": "r" * 6}),
    ]
    # 10 + len("ab") + len("{}") + 6 characters
    assert count_tokens(request(*turns)) == math.ceil(20 / messages.CHARS_PER_TOKEN)


def test_count_tokens_needs_no_max_tokens_but_refuses_what_to_chat_refuses():
    body = {"model": CLAUDE, "messages": [{"role": "user", "content": "hi"}]}
    assert count_tokens(body) == 1
    assert refused({**body, "tools": [{"type": "web_search_20250305", "name": "w"}]}, count_tokens)
    assert refused({"model": CLAUDE}, count_tokens).param == "messages"
    assert refused("hi", count_tokens).status == 400


# --------------------------------------------------------------------------- models


def test_models_page_read_by_the_sdk():
    entries = [("llama3.1:8b", "ollama"), ("gpt-4o-mini", "openai")]
    page = messages.models_page(entries)
    assert page["has_more"] is False
    assert (page["first_id"], page["last_id"]) == ("llama3.1:8b", "gpt-4o-mini")
    for entry in page["data"]:
        MODEL.validate_python(entry)

    def handler(req: httpx2.Request) -> httpx2.Response:
        if req.url.path.endswith("/v1/models"):
            return httpx2.Response(200, json=page)
        model_id = req.url.path.rsplit("/", 1)[-1]
        return httpx2.Response(200, json=messages.model_object(model_id, "ollama"))

    client = sdk(handler)
    listed = list(client.models.list())
    assert [(m.id, m.type, m.display_name) for m in listed] == [
        ("llama3.1:8b", "model", "llama3.1:8b (ollama)"),
        ("gpt-4o-mini", "model", "gpt-4o-mini (openai)"),
    ]
    retrieved = client.models.retrieve("llama3.1:8b")
    assert retrieved.id == "llama3.1:8b" and retrieved.created_at.year == 1970


def test_empty_models_page():
    assert messages.models_page([]) == {
        "data": [],
        "has_more": False,
        "first_id": None,
        "last_id": None,
    }
    assert messages.model_object("m", "")["display_name"] == "m"
