"""The OpenAI Responses dialect: the request decoder (every input form, each 400), the
encoder (every event and body checked against the openai SDK's own typed models, and read
by the SDK itself), and the passthrough translator on recorded upstream streams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from jupyter_mux.dialects.responses import (
    ResponsesEncoder,
    ResponsesPassthrough,
    chat_to_input,
    error_body,
    input_messages,
    passthrough_body,
    to_chat,
    usage_from_body,
)
from jupyter_mux.errors import InvalidRequest, MuxError, UpstreamError
from jupyter_mux.framing import Event
from jupyter_mux.items import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    Done,
    Failure,
    Finish,
    Item,
    Raw,
    Reasoning,
    Start,
    Text,
    ToolCall,
    Usage,
)
from jupyter_mux.response_store import ResponseStore

try:  # the HTTP library the openai SDK is built on: httpx2 from openai 3, httpx before
    import httpx2
except ImportError:  # pragma: no cover
    import httpx as httpx2  # type: ignore[no-redef]

PAYLOADS = Path(__file__).parent / "payloads" / "responses"
STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
TIME = {**WEATHER, "name": "get_time", "description": "Local time in a city"}


# --------------------------------------------------------------------------- helpers


def no_extras(model: Any, where: str = "") -> None:
    """Every field the mux wrote is one the SDK's model declares (pydantic accepts unknown
    fields silently, so a misspelt one would otherwise pass)."""
    if isinstance(model, BaseModel):
        extra = set(model.model_extra or {})
        assert not extra, f"{where or type(model).__name__}: unknown fields {extra}"
        for name in type(model).model_fields:
            no_extras(getattr(model, name), f"{where}.{name}")
    elif isinstance(model, list):
        for i, value in enumerate(model):
            no_extras(value, f"{where}[{i}]")


def parse_stream(data: bytes) -> list[dict[str, Any]]:
    """The encoder's SSE frames as event payloads, each validated against the SDK's typed
    events, the `event:` name matching its type and `sequence_number` counting from 0."""
    assert data.endswith(b"\n\n")
    events = []
    for frame in data.decode().split("\n\n")[:-1]:
        name_line, data_line = frame.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        event = json.loads(data_line[len("data: ") :])
        assert event["type"] == name_line[len("event: ") :]
        model = STREAM_EVENT.validate_python(event)
        if event["type"] == "error":
            # The nested error the hosted API sends (and the SDK raises on) is the one extra.
            assert set(model.model_extra or {}) == {"error"}
        else:
            no_extras(model, event["type"])
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def valid_response(response: dict[str, Any]) -> Response:
    model = Response.model_validate(response)
    no_extras(model, "response")
    return model


def sdk(content: bytes, content_type: str = "text/event-stream") -> openai.OpenAI:
    """A real openai client whose every request is answered with `content`."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": content_type}, content=content)

    transport = httpx2.MockTransport(answer)
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://mux.test/v1",
        http_client=httpx2.Client(transport=transport),
    )


def encode(items: list[Item], body: dict[str, Any] | None = None) -> tuple[bytes, ResponsesEncoder]:
    encoder = ResponsesEncoder(body or {"input": "hi", "stream": True}, "tiny-a")
    # One stream() call per item, as a proxy would make them.
    return b"".join(encoder.stream([item]) for item in items), encoder


def sse_events(data: bytes) -> list[Event]:
    """A recorded stream's events as the framer hands them over. These recordings are
    LF-framed, one `event:` and one `data:` line per event, so a split is enough and the
    test does not depend on which framer the proxy uses."""
    events = []
    for frame in data.split(b"\n\n")[:-1]:
        fields = dict(line.split(": ", 1) for line in frame.decode().split("\n"))
        events.append(Event(frame + b"\n\n", fields.get("event"), json.loads(fields["data"])))
    return events


# --------------------------------------------------------------------------- encoder: streams

TEXT = ["Voil\u00e0, ", "un caf\u00e9 \u2615 ", "et \u65e5\u672c\u8a9e \U0001f389"]


def test_text_stream_is_the_typed_sequence_the_sdk_accumulates() -> None:
    items: list[Item] = [Start("chatcmpl-1", "tiny-a-q4"), *map(Text, TEXT)]
    items += [Finish(STOP), Usage(prompt_tokens=40, completion_tokens=9, cached_tokens=32), Done()]
    data, encoder = encode(items)
    events = parse_stream(data)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["model"] == "tiny-a-q4"  # the upstream's name for it

    with sdk(data).responses.stream(model="tiny-a", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == TEXT
    assert final.output_text == "".join(TEXT)
    assert final.status == "completed"
    assert final.id == encoder.id
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (40, 9)
    assert final.usage.input_tokens_details.cached_tokens == 32
    assert final.usage.total_tokens == 49
    assert valid_response(encoder.response).output_text == "".join(TEXT)


def test_parallel_tool_calls_with_interleaved_argument_deltas() -> None:
    items: list[Item] = [
        Start(),
        Text("Checking both."),
        ToolCall(0, "call_paris", "get_weather", ""),
        ToolCall(0, arguments='{"ci'),
        ToolCall(1, "call_tokyo", "get_time", '{"city"'),
        ToolCall(0, arguments='ty": "Paris"}'),
        ToolCall(1, arguments=': "Tokyo"}'),
        Finish(TOOL_CALLS),
        Usage(prompt_tokens=120, completion_tokens=30),
        Done(),
    ]
    data, encoder = encode(items, {"input": "hi", "tools": [WEATHER, TIME], "stream": True})
    events = parse_stream(data)
    deltas = [
        (e["output_index"], e["delta"])
        for e in events
        if e["type"] == "response.function_call_arguments.delta"
    ]
    assert deltas == [(1, '{"ci'), (2, '{"city"'), (1, 'ty": "Paris"}'), (2, ': "Tokyo"}')]
    done = {
        e["output_index"]: e["arguments"]
        for e in events
        if e["type"] == "response.function_call_arguments.done"
    }
    assert json.loads(done[1]) == {"city": "Paris"} and json.loads(done[2]) == {"city": "Tokyo"}

    with sdk(data).responses.stream(model="m", input="hi", tools=[WEATHER, TIME]) as stream:
        snapshots = [
            e.snapshot for e in stream if e.type == "response.function_call_arguments.delta"
        ]
        final = stream.get_final_response()
    assert snapshots[-2:] == ['{"city": "Paris"}', '{"city": "Tokyo"}']
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.call_id, c.name, c.parsed_arguments) for c in calls] == [
        ("call_paris", "get_weather", {"city": "Paris"}),
        ("call_tokyo", "get_time", {"city": "Tokyo"}),
    ]
    assert final.output_text == "Checking both."
    assert [c["function"]["name"] for c in encoder.chat_messages()[0]["tool_calls"]] == [
        "get_weather",
        "get_time",
    ]


def test_output_kinds_interleaved_become_separate_items_in_order() -> None:
    items: list[Item] = [
        Start(),
        Reasoning("First think."),
        Text("Let me check."),
        ToolCall(0, "call_1", "get_weather", '{"city": "Oslo"}'),
        Text(" Meanwhile, hello."),
        Reasoning("Think again."),
        Text("Done."),
        Finish(TOOL_CALLS),
        Done(),
    ]
    data, encoder = encode(items, {"input": "hi", "tools": [WEATHER], "stream": True})
    parse_stream(data)
    with sdk(data).responses.stream(model="m", input="hi", tools=[WEATHER]) as stream:
        final = stream.get_final_response()
    assert [o.type for o in final.output] == [
        "reasoning",
        "message",
        "function_call",
        "message",
        "reasoning",
        "message",
    ]
    assert final.output_text == "Let me check. Meanwhile, hello.Done."
    assert [o.id for o in final.output] == [o["id"] for o in encoder.response["output"]]


def test_reasoning_becomes_a_reasoning_item_before_the_answer() -> None:
    items: list[Item] = [
        Start(),
        Reasoning("The user greets; "),
        Reasoning("answer briefly.", signature="sig-1"),
        Text("Hello!"),
        Finish(STOP),
        Usage(prompt_tokens=12, completion_tokens=20, reasoning_tokens=14),
        Done(),
    ]
    data, encoder = encode(items)
    events = parse_stream(data)
    types = [e["type"] for e in events]
    assert types.index("response.reasoning_text.done") < types.index("response.output_text.delta")
    with sdk(data).responses.stream(model="m", input="hi") as stream:
        final = stream.get_final_response()
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and message.type == "message"
    assert reasoning.content is not None
    assert reasoning.content[0].text == "The user greets; answer briefly."
    assert final.output_text == "Hello!"
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 14
    assert encoder.chat_messages() == [
        {
            "role": "assistant",
            "content": "Hello!",
            "reasoning_content": "The user greets; answer briefly.",
        }
    ]


@pytest.mark.parametrize(
    ("reason", "status", "incomplete"),
    [
        (STOP, "completed", None),
        (TOOL_CALLS, "completed", None),
        (LENGTH, "incomplete", "max_output_tokens"),
        (CONTENT_FILTER, "incomplete", "content_filter"),
    ],
)
def test_every_finish_reason(reason: str, status: str, incomplete: str | None) -> None:
    items: list[Item] = [Start(), Text("Once upon a")]
    if reason == TOOL_CALLS:
        items.append(ToolCall(0, "call_1", "get_weather", '{"city": "Oslo"}'))
    data, encoder = encode([*items, Finish(reason), Done()])
    events = parse_stream(data)
    last = events[-1]
    assert last["type"] == f"response.{status}"
    assert last["response"]["status"] == status
    details = last["response"]["incomplete_details"]
    assert (details or {}).get("reason") == incomplete
    item_status = {e["item"]["status"] for e in events if e["type"] == "response.output_item.done"}
    assert item_status == {"incomplete" if incomplete else "completed"}
    with sdk(data).responses.create(model="m", input="hi", stream=True) as stream:
        seen = list(stream)
    assert seen[-1].type == f"response.{status}"
    assert seen[-1].response.status == status
    assert valid_response(encoder.response).status == status


def test_a_failure_mid_stream_makes_the_sdk_raise_with_the_message() -> None:
    message = "Provider 'claude' reported an error (overloaded_error): Overloaded"
    encoder = ResponsesEncoder({"input": "hi", "stream": True}, "m")
    data = encoder.stream([Start(), Text("Once upon")])
    data += encoder.failure(Failure(message, status=502, code="overloaded_error"))
    events = parse_stream(data)
    error = events[-1]
    assert error["type"] == "error" and error["message"] == message
    assert error["code"] == "overloaded_error"
    assert error["error"] == {
        "message": message,
        "type": "upstream_error",
        "param": None,
        "code": "overloaded_error",
    }
    # Nothing comes after the error, whatever else arrives.
    assert encoder.stream([Text("more"), Done()]) == b""
    assert encoder.failure(Failure("again")) == b""

    with (
        pytest.raises(openai.APIError, match="overloaded_error"),
        sdk(data).responses.stream(model="m", input="hi") as stream,
    ):
        list(stream)
    with pytest.raises(openai.APIError) as raised:
        list(sdk(data).responses.create(model="m", input="hi", stream=True))
    assert raised.value.message == message
    failed = valid_response(encoder.response)
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.message == message


def test_a_failure_item_in_the_stream_is_the_same_error_event() -> None:
    data, _ = encode([Start(), Failure("Rate limited upstream.", status=429, code="rate")])
    error = parse_stream(data)[-1]
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"


def test_an_empty_answer_is_a_completed_response_with_no_output() -> None:
    data, encoder = encode([Start(), Text(""), Finish(STOP), Done()])
    events = parse_stream(data)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.completed",
    ]
    with sdk(data).responses.stream(model="m", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output == [] and final.output_text == ""
    assert final.usage is None  # the upstream reported none
    assert encoder.chat_messages() == [{"role": "assistant", "content": ""}]


def test_nothing_is_written_before_the_answer_has_content() -> None:
    """So that a failure right after the upstream began can still fall over."""
    encoder = ResponsesEncoder({"input": "hi", "stream": True}, "m")
    assert encoder.stream([Start("msg_1", "claude-x"), Usage(prompt_tokens=12), Text("")]) == b""
    events = parse_stream(encoder.stream([Text("Hi"), Finish(STOP), Done()]))
    assert events[0]["type"] == "response.created"
    assert events[-1]["response"]["model"] == "claude-x"
    assert events[-1]["response"]["usage"]["input_tokens"] == 12


def test_raw_items_are_relayed_untouched() -> None:
    raw = (PAYLOADS / "stream_tools.sse").read_bytes()
    encoder = ResponsesEncoder({"input": "hi"}, "m")
    assert encoder.stream([Raw(raw)]) == raw


# --------------------------------------------------------------------------- encoder: bodies


def test_a_whole_answer_is_a_response_the_sdk_reads() -> None:
    body = {
        "model": "placeholder",
        "input": "Weather in Paris?",
        "instructions": "Be brief.",
        "tools": [WEATHER],
        "tool_choice": "required",
        "temperature": 0.2,
        "max_output_tokens": 300,
        "metadata": {"notebook": "analysis.ipynb"},
        "reasoning": {"effort": "low", "summary": "auto"},
        "text": {
            "format": {"type": "json_schema", "name": "weather", "schema": {"type": "object"}},
            "verbosity": "low",
        },
        "previous_response_id": "resp_earlier",
        "store": False,
        "user": "ada",
    }
    encoder = ResponsesEncoder(body, "tiny-a", "resp_fixed", clock=lambda: 1764590000.0)
    response = encoder.body(
        [
            Start(),
            Reasoning("Need the tool."),
            Text("Looking it up."),
            ToolCall(0, "call_1", "get_weather", '{"city": "Paris"}'),
            Finish(TOOL_CALLS),
            Usage(prompt_tokens=50, completion_tokens=12, cached_tokens=0),
        ]
    )
    model = valid_response(response)
    assert model.id == "resp_fixed" and model.created_at == 1764590000
    assert model.status == "completed" and model.completed_at == 1764590000
    assert [o.type for o in model.output] == ["reasoning", "message", "function_call"]
    # The request's settings are echoed back.
    assert model.instructions == "Be brief." and model.metadata == body["metadata"]
    assert model.tools[0].name == "get_weather" and model.tool_choice == "required"
    assert (model.temperature, model.max_output_tokens) == (0.2, 300)
    assert model.previous_response_id == "resp_earlier" and model.user == "ada"
    assert model.reasoning is not None and model.reasoning.effort == "low"
    assert model.text is not None and model.text.verbosity == "low"

    read = sdk(json.dumps(response).encode(), "application/json").responses.create(
        model="m", input="hi"
    )
    assert read.output_text == "Looking it up."
    assert (
        read.output[2].type == "function_call" and read.output[2].arguments == '{"city": "Paris"}'
    )


def test_a_whole_answer_cut_by_length_is_incomplete() -> None:
    encoder = ResponsesEncoder({"input": "hi"}, "m")
    response = encoder.body([Start(), Text("Once upon a"), Finish(LENGTH), Usage(5, 16)])
    model = valid_response(response)
    assert model.status == "incomplete" and model.completed_at is None
    assert model.incomplete_details is not None
    assert model.incomplete_details.reason == "max_output_tokens"


def test_a_failure_in_a_whole_answer_is_raised_with_its_status() -> None:
    encoder = ResponsesEncoder({"input": "hi"}, "m")
    with pytest.raises(UpstreamError) as raised:
        encoder.body(
            [Start(), Failure("Provider 'x' answered 429: slow down", 429, "upstream_429")]
        )
    assert raised.value.status == 429 and raised.value.retryable


def test_the_output_read_back_as_input_is_the_stored_conversation() -> None:
    """Continuing by `previous_response_id` and by sending the output items back give the
    upstream the same messages."""
    encoder = ResponsesEncoder({"input": "hi"}, "m")
    response = encoder.body(
        [
            Start(),
            Reasoning("Two cities."),
            Text("Checking."),
            ToolCall(0, "call_a", "get_weather", '{"city": "Paris"}'),
            ToolCall(1, "call_b", "get_weather", '{"city": "Oslo"}'),
            Finish(TOOL_CALLS),
        ]
    )
    assert input_messages({"input": response["output"]}) == encoder.chat_messages()


def test_a_conversation_continues_from_the_store() -> None:
    store = ResponseStore()
    first = {"input": "My name is Ada.", "instructions": "Answer in French."}
    encoder = ResponsesEncoder(first, "m")
    response = encoder.body([Start(), Text("Bonjour Ada."), Finish(STOP)])
    store.put(response, input_messages(first) + encoder.chat_messages())

    second = {"input": "What is my name?", "previous_response_id": response["id"]}
    chat = to_chat(second, store.history(second["previous_response_id"]))
    # The first turn's instructions applied to that turn only.
    assert chat["messages"] == [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Bonjour Ada."},
        {"role": "user", "content": "What is my name?"},
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_an_openai_agents_tool_round_trip(streamed: bool) -> None:
    """openai-agents with its default settings, its requests decoded by `to_chat` and
    answered by the encoder: a tool call, the tool's result sent back, the final answer."""
    requests: list[dict[str, Any]] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        requests.append(to_chat(body))
        encoder = ResponsesEncoder(body, "tiny-a")
        if len(requests) == 1:
            items: list[Item] = [Start(), ToolCall(0, "call_1", "get_weather", '{"city": "Paris"}')]
            items += [Finish(TOOL_CALLS), Usage(30, 8)]
        else:
            items = [Start(), Text("Sunny in Paris."), Finish(STOP), Usage(45, 5)]
        if body.get("stream"):
            events = encoder.stream([*items, Done()])
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=events
            )
        return httpx2.Response(200, json=encoder.body(items))

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"sunny in {city}"

    client = openai.AsyncOpenAI(
        api_key="sk-test",
        base_url="http://mux.test/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)),
    )
    model = OpenAIResponsesModel("tiny-a", client)
    agent = Agent(name="a", instructions="Be helpful.", tools=[get_weather], model=model)
    config = RunConfig(tracing_disabled=True)

    async def run() -> Any:
        if not streamed:
            return (await Runner.run(agent, "Weather in Paris?", run_config=config)).final_output
        result = Runner.run_streamed(agent, "Weather in Paris?", run_config=config)
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert await run() == "Sunny in Paris."
    first, second = requests
    assert first["messages"] == [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert second["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Paris"},
    ]


# --------------------------------------------------------------------------- decoder


def test_a_string_input_with_instructions() -> None:
    chat = to_chat({"model": "gpt-4.1", "input": "Hello", "instructions": "Be brief."})
    assert chat == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
        ],
    }


def test_every_input_item_form() -> None:
    image = "data:image/png;base64,iVBORw0KGgo="
    pdf = "data:application/pdf;base64,JVBERi0xLjcK"
    body = {
        "input": [
            {"role": "developer", "content": "You are terse."},
            {"role": "system", "content": [{"type": "input_text", "text": "Use metric."}]},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is in these?"},
                    {"type": "input_image", "image_url": image, "detail": "low"},
                    {"type": "input_image", "image_url": "https://example.org/a.jpg"},
                    {"type": "input_file", "file_data": pdf, "filename": "a.pdf"},
                ],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Look at both."}],
                "encrypted_content": "gAAAAB...",
            },
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_1",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "A cat, ", "annotations": []},
                    {"type": "output_text", "text": "and a PDF.", "annotations": []},
                ],
            },
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No more."}]},
            {"role": "user", "content": "Weather where the cat lives, and time?"},
            {
                "type": "reasoning",
                "id": "rs_2",
                "summary": [],
                "content": [{"type": "reasoning_text", "text": "Two tools."}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Oslo"}',
                "status": "completed",
            },
            {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "4 \u00b0C"},
            {
                "type": "function_call_output",
                "call_id": "call_2",
                "output": [
                    {"type": "input_text", "text": "09:"},
                    {"type": "input_text", "text": "30"},
                ],
            },
            {
                "type": "function_call_output",
                "call_id": "call_3",
                "output": [{"type": "input_image", "image_url": image}],
            },
        ]
    }
    assert to_chat(body)["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": [{"type": "text", "text": "Use metric."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these?"},
                {"type": "image_url", "image_url": {"url": image, "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.org/a.jpg"}},
                {"type": "file", "file": {"file_data": pdf, "filename": "a.pdf"}},
            ],
        },
        {"role": "assistant", "content": "A cat, and a PDF.", "reasoning_content": "Look at both."},
        {"role": "assistant", "content": "No more."},
        {"role": "user", "content": "Weather where the cat lives, and time?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Two tools.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "4 \u00b0C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "09:30"},
        {
            "role": "tool",
            "tool_call_id": "call_3",
            "content": [{"type": "image_url", "image_url": {"url": image}}],
        },
    ]


def test_function_calls_join_the_assistant_text_before_them() -> None:
    messages = input_messages(
        {
            "input": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "Let me check."},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            ]
        }
    )
    assert messages[1] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }


def test_history_comes_after_instructions_and_is_not_changed() -> None:
    history = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "1"}]
    kept = json.loads(json.dumps(history))
    chat = to_chat({"input": "two", "instructions": "Count."}, history)
    assert chat["messages"] == [
        {"role": "system", "content": "Count."},
        *history,
        {"role": "user", "content": "two"},
    ]
    assert history == kept
    # A turn may add nothing but new instructions to a stored conversation.
    assert to_chat({"instructions": "Go on."}, history)["messages"][1:] == history


def test_settings_map_to_chat_and_bookkeeping_stays_in_the_mux() -> None:
    body = {
        "model": "gpt-4.1",
        "input": "hi",
        "tools": [WEATHER, TIME],
        "tool_choice": {"type": "function", "name": "get_time"},
        "parallel_tool_calls": False,
        "max_output_tokens": 256,
        "temperature": 0.7,
        "top_p": 0.9,
        "reasoning": {"effort": "high", "summary": "detailed"},
        "text": {
            "format": {
                "type": "json_schema",
                "name": "t",
                "schema": {"type": "object"},
                "strict": True,
            }
        },
        "stream": True,
        "user": "ada",
        "safety_identifier": "hash-1",
        "prompt_cache_key": "nb-1",
        "service_tier": "auto",
        # Kept or reported by the mux, never sent upstream:
        "metadata": {"k": "v"},
        "store": True,
        "previous_response_id": "resp_1",
        "include": ["reasoning.encrypted_content"],
        "truncation": "auto",
        "top_logprobs": 3,
        "max_tool_calls": 4,
        "stream_options": {"include_obfuscation": False},
    }
    assert to_chat(body, [{"role": "user", "content": "before"}]) == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "before"}, {"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "function": {k: v for k, v in t.items() if k != "type"}}
            for t in (WEATHER, TIME)
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
        "parallel_tool_calls": False,
        "max_completion_tokens": 256,
        "temperature": 0.7,
        "top_p": 0.9,
        "reasoning_effort": "high",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "t", "schema": {"type": "object"}, "strict": True},
        },
        "user": "ada",
        "safety_identifier": "hash-1",
        "prompt_cache_key": "nb-1",
        "service_tier": "auto",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("choice", "tools", "tool_choice"),
    [
        ("auto", ["get_weather", "get_time"], "auto"),
        ("none", ["get_weather", "get_time"], "none"),
        ("required", ["get_weather", "get_time"], "required"),
        (
            {
                "type": "allowed_tools",
                "mode": "required",
                "tools": [{"type": "function", "name": "get_time"}],
            },
            ["get_time"],
            "required",
        ),
    ],
)
def test_tool_choices(choice: Any, tools: list[str], tool_choice: Any) -> None:
    chat = to_chat({"input": "hi", "tools": [WEATHER, TIME], "tool_choice": choice})
    assert [t["function"]["name"] for t in chat["tools"]] == tools
    assert chat["tool_choice"] == tool_choice


def test_json_object_and_plain_text_formats() -> None:
    assert to_chat({"input": "hi", "text": {"format": {"type": "json_object"}}})[
        "response_format"
    ] == {"type": "json_object"}
    assert "response_format" not in to_chat({"input": "hi", "text": {"format": {"type": "text"}}})


BAD_REQUESTS = [
    ({}, "input", "'input' is required"),
    ({"input": 5}, "input", "a string or a non-empty array"),
    ({"input": []}, "input", "a string or a non-empty array"),
    ({"input": ["hi"]}, "input[0]", "must be an object"),
    ({"input": [{"type": 3}]}, "input[0].type", "must be a string"),
    ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0].type", "'web_search_call'"),
    (
        {"input": [{"type": "computer_call_output", "call_id": "c"}]},
        "input[0].type",
        "computer_call_output",
    ),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "item_reference"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "user, assistant"),
    ({"input": [{"role": "user", "content": 5}]}, "input[0].content", "array of content parts"),
    (
        {"input": [{"role": "user", "content": [{"type": "input_audio", "data": "..."}]}]},
        "input[0].content[0].type",
        "input_text, input_image",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "input[0].content[0].text",
        "string",
    ),
    (
        {
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}],
                }
            ]
        },
        "input[0].content[0].image_url",
        "file_id",
    ),
    (
        {
            "input": [
                {
                    "role": "system",
                    "content": [{"type": "input_image", "image_url": "https://x/a.png"}],
                }
            ]
        },
        "input[0].content[0].type",
        "user messages only",
    ),
    (
        {
            "input": [
                {"role": "user", "content": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}
            ]
        },
        "input[0].content[0].file_url",
        "file_data",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_file"}]}]},
        "input[0].content[0].file_data",
        "file_id",
    ),
    (
        {"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
        "input[0].call_id",
        "non-empty",
    ),
    (
        {"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]},
        "input[0].name",
        "non-empty",
    ),
    (
        {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}]},
        "input[0].arguments",
        "JSON text",
    ),
    (
        {"input": [{"type": "function_call_output", "output": "x"}]},
        "input[0].call_id",
        "function call",
    ),
    (
        {"input": [{"type": "function_call_output", "call_id": "c", "output": 5}]},
        "input[0].output",
        "string",
    ),
    ({"input": [{"type": "reasoning", "summary": ["x"]}]}, "input[0].summary", "summary_text"),
    ({"input": "hi", "instructions": 5}, "instructions", "string"),
    ({"input": "hi", "tools": {"type": "function"}}, "tools", "array"),
    ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type", "built-in 'web_search'"),
    (
        {"input": "hi", "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]},
        "tools[0].type",
        "'file_search'",
    ),
    (
        {
            "input": "hi",
            "tools": [WEATHER, {"type": "computer_use_preview", "display_width": 1024}],
        },
        "tools[1].type",
        "'computer_use_preview'",
    ),
    ({"input": "hi", "tools": [{"name": "f"}]}, "tools[0].type", "'type'"),
    ({"input": "hi", "tools": [{"type": "function"}]}, "tools[0].name", "non-empty"),
    (
        {"input": "hi", "tools": [{**WEATHER, "parameters": "{}"}]},
        "tools[0].parameters",
        "JSON schema",
    ),
    (
        {"input": "hi", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}},
        "tool_choice.name",
        "'tools'",
    ),
    (
        {"input": "hi", "tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}},
        "tool_choice",
        "built-in",
    ),
    (
        {"input": "hi", "tools": [WEATHER], "tool_choice": "any"},
        "tool_choice",
        "auto, none, required",
    ),
    (
        {
            "input": "hi",
            "tools": [WEATHER],
            "tool_choice": {"type": "allowed_tools", "mode": "all", "tools": []},
        },
        "tool_choice.mode",
        "auto or required",
    ),
    (
        {
            "input": "hi",
            "tools": [WEATHER],
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [{"type": "function", "name": "x"}],
            },
        },
        "tool_choice.tools",
        "function tools",
    ),
    ({"input": "hi", "parallel_tool_calls": "yes"}, "parallel_tool_calls", "true or false"),
    ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens", "positive integer"),
    ({"input": "hi", "max_output_tokens": True}, "max_output_tokens", "positive integer"),
    ({"input": "hi", "temperature": 3}, "temperature", "0 to 2"),
    ({"input": "hi", "top_p": "1"}, "top_p", "0 to 1"),
    ({"input": "hi", "reasoning": "high"}, "reasoning", "object"),
    ({"input": "hi", "reasoning": {"effort": "extreme"}}, "reasoning.effort", "minimal, low"),
    ({"input": "hi", "text": "json"}, "text", "object"),
    ({"input": "hi", "text": {"verbosity": "loud"}}, "text.verbosity", "low, medium"),
    ({"input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type", "json_schema"),
    (
        {"input": "hi", "text": {"format": {"type": "json_schema", "schema": {}}}},
        "text.format.name",
        "non-empty",
    ),
    (
        {"input": "hi", "text": {"format": {"type": "json_schema", "name": "n"}}},
        "text.format.schema",
        "schema object",
    ),
    ({"input": "hi", "user": 5}, "user", "string"),
    ({"input": "hi", "metadata": {"n": 1}}, "metadata", "string values"),
    ({"input": "hi", "stream": "yes"}, "stream", "true or false"),
    ({"input": "hi", "store": 1}, "store", "true or false"),
    ({"input": "hi", "previous_response_id": 7}, "previous_response_id", "stored response"),
    ({"input": "hi", "background": True}, "background", "previous_response_id"),
    ({"input": "hi", "conversation": "conv_1"}, "conversation", "storage"),
    ({"input": "hi", "prompt": {"id": "pmpt_1"}}, "prompt", "storage"),
]


@pytest.mark.parametrize(
    ("body", "param", "words"), BAD_REQUESTS, ids=[p for _, p, _ in BAD_REQUESTS]
)
def test_each_bad_request_is_a_400_naming_its_field(
    body: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        to_chat(body)
    error = raised.value
    assert error.status == 400 and error.param == param
    assert words in error.message
    # The field is named in the message, as the client wrote it (up to its first index).
    assert f"'{param.split('[')[0].split('.')[0]}" in error.message
    assert error_body(error) == {
        "error": {
            "message": error.message,
            "type": "invalid_request_error",
            "param": param,
            "code": error.code,
        }
    }


def test_error_body_is_openais_shape_for_every_error() -> None:
    assert error_body(MuxError("Nope.", status=404, code="not_found"))["error"]["type"] == (
        "not_found_error"
    )


# --------------------------------------------------------------------------- passthrough


def test_llamacpp_stream_passes_through_byte_for_byte_with_its_usage() -> None:
    data = (PAYLOADS / "llamacpp_stream.sse").read_bytes()
    translator = ResponsesPassthrough()
    items = translator.feed(sse_events(data)) + translator.close()
    raws = [i for i in items if isinstance(i, Raw)]
    assert b"".join(r.data for r in raws) == data
    assert items[-2:] == [Usage(prompt_tokens=31, completion_tokens=8, cached_tokens=30), Done()]
    assert translator.response is not None and translator.response["status"] == "completed"
    assert input_messages({"input": translator.response["output"]}) == [
        {"role": "assistant", "content": "SXTPHBXY"}
    ]


def test_llamacpp_stream_does_not_conform_to_the_typed_events() -> None:
    """Recorded fact that matters for passthrough: llama.cpp's events lack
    `sequence_number`, `output_index` and `content_index`, so the SDK's typed events (and
    its `responses.stream` helper) cannot read them."""
    for event in sse_events((PAYLOADS / "llamacpp_stream.sse").read_bytes()):
        with pytest.raises(ValueError, match="sequence_number"):
            STREAM_EVENT.validate_python(event.data)


def test_events_fed_one_at_a_time_give_the_same_items() -> None:
    events = sse_events((PAYLOADS / "stream_tools.sse").read_bytes())
    whole = ResponsesPassthrough().feed(events)
    one_by_one = ResponsesPassthrough()
    assert [i for e in events for i in one_by_one.feed([e])] == whole
    assert whole[-2:] == [
        Usage(prompt_tokens=81, completion_tokens=38, cached_tokens=64, reasoning_tokens=0),
        Done(),
    ]
    # What passes through is a stream the SDK reads whole.
    relayed = b"".join(i.data for i in whole if isinstance(i, Raw))
    with sdk(relayed).responses.stream(model="m", input="hi", tools=[WEATHER]) as stream:
        final = stream.get_final_response()
    assert [o.parsed_arguments for o in final.output if o.type == "function_call"] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]


@pytest.mark.parametrize(
    ("name", "status", "code", "words"),
    [
        ("stream_failed.sse", 502, "server_error", "The model failed to generate a response."),
        ("stream_error.sse", 429, "rate_limit_exceeded", "Rate limit reached"),
    ],
)
def test_a_failure_event_becomes_a_failure_instead_of_bytes(
    name: str, status: int, code: str, words: str
) -> None:
    events = sse_events((PAYLOADS / name).read_bytes())
    translator = ResponsesPassthrough()
    items = translator.feed(events)
    *relayed, failure = items
    assert all(isinstance(i, Raw) for i in relayed) and len(relayed) == len(events) - 1
    assert isinstance(failure, Failure)
    assert (failure.status, failure.code) == (status, code)
    assert failure.message.startswith(f"reported an error ({code}): ") and words in failure.message
    assert translator.feed(events) == [] and translator.close() == []


def test_the_documented_flat_error_event_is_read_too() -> None:
    event = {"type": "error", "code": "invalid_prompt", "message": "Bad prompt.", "param": None}
    raw = b"event: error\ndata: " + json.dumps(event).encode() + b"\n\n"
    (failure,) = ResponsesPassthrough().feed([Event(raw, "error", event)])
    assert failure == Failure(
        "reported an error (invalid_prompt): Bad prompt.", 400, "invalid_prompt"
    )


def test_a_llamacpp_error_line_is_a_failure() -> None:
    """llama.cpp reports a failure mid-stream as an `error: {json}` line, which the framer
    hands over as an event named "error"."""
    payload = {"error": {"code": 500, "message": "context shift disabled", "type": "server_error"}}
    raw = b"error: " + json.dumps(payload).encode() + b"\n\n"
    (failure,) = ResponsesPassthrough().feed([Event(raw, "error", payload)])
    assert failure == Failure(
        "reported an error (server_error): context shift disabled", 502, "server_error"
    )
    (plain,) = ResponsesPassthrough().feed([Event(b"", "error", {"error": "boom"})])
    assert isinstance(plain, Failure) and plain.message.endswith(": boom")


def test_a_stream_cut_short_is_a_truncation_failure() -> None:
    events = sse_events((PAYLOADS / "stream_tools.sse").read_bytes())[:-1]
    translator = ResponsesPassthrough()
    assert all(isinstance(i, Raw) for i in translator.feed(events))
    (failure,) = translator.close()
    assert isinstance(failure, Failure) and failure.code == "upstream_truncated"


def test_done_marker_and_keep_alives() -> None:
    translator = ResponsesPassthrough()
    items = translator.feed(
        [Event(b": keep-alive\n\n", None, None), Event(b"data: [DONE]\n\n", None, None, True)]
    )
    assert items == [Raw(b": keep-alive\n\n"), Raw(b"data: [DONE]\n\n"), Done()]
    assert translator.close() == []


CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "system", "content": [{"type": "text", "text": "Use metric."}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Where is this, and what is in the file?"},
            {
                "type": "image_url",
                "image_url": {"url": "https://example.org/a.jpg", "detail": "high"},
            },
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {
                "type": "file",
                "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
            },
        ],
    },
    {
        "role": "assistant",
        "content": "Oslo. Checking the weather.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "4 \u00b0C"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_2", "type": "function", "function": {"name": "snap", "arguments": "{}"}}
        ],
    },
    {
        "role": "tool",
        "tool_call_id": "call_2",
        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
    },
    {"role": "assistant", "content": "Cold and grey."},
]


def test_a_stored_conversation_becomes_input_items_again() -> None:
    items = chat_to_input(CONVERSATION)
    assert input_messages({"input": items}) == CONVERSATION


def test_a_passthrough_request_carries_the_stored_conversation() -> None:
    body = {
        "model": "x",
        "input": "And tomorrow?",
        "previous_response_id": "resp_1",
        "stream": True,
    }
    request = passthrough_body(body, CONVERSATION)
    assert "previous_response_id" not in request and request["stream"] is True
    assert request["input"] == [
        *chat_to_input(CONVERSATION),
        {"type": "message", "role": "user", "content": "And tomorrow?"},
    ]
    items = [{"role": "user", "content": "Hi"}]
    assert passthrough_body({"input": items}, None) == {"input": items}


def test_usage_from_a_whole_answer() -> None:
    payload = json.loads((PAYLOADS / "llamacpp_response.json").read_text())
    assert usage_from_body(payload) == Usage(prompt_tokens=31, completion_tokens=8, cached_tokens=0)
    assert usage_from_body({"id": "resp_1", "usage": None}) is None
    assert usage_from_body(json.loads((PAYLOADS / "llamacpp_error.json").read_text())) is None
    assert usage_from_body([1]) is None
