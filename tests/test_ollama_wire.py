"""The Ollama wire format on recorded payloads (tests/payloads/ollama/), plus a check that the
fake Ollama server used by other tests answers as the translation expects."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_mux.items import Failure
from jupyter_mux.providers import ollama
from jupyter_mux.providers.wire import OLLAMA
from jupyter_mux.store import ModelRecord

from .fake_ollama import DEFAULT_MODELS, FakeOllama, reply_pieces
from .pipeline import encode_body, encode_stream

PAYLOADS = Path(__file__).parent / "payloads" / "ollama"
STREAMS = {
    "chat_stream.ndjson": "chat",
    "chat_stream_tools.ndjson": "chat",
    "chat_stream_thinking.ndjson": "chat",
    "chat_stream_error.ndjson": "chat",
    "generate_stream.ndjson": "fim",
}
PNG = b"\x89PNG\r\n\x1a\nfake image bytes"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_bytes())


def raw(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def built(kind: str, body: dict[str, Any], model: str = "llama3.2:1b") -> dict[str, Any]:
    return json.loads(ollama.build_request(kind, body, model))


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return built("chat", {"model": "client-choice", "messages": list(messages), **fields})


USER = {"role": "user", "content": "Hi"}


# --- parsing the translator's output -----------------------------------------------------


def parse_sse(data: bytes) -> list[Any]:
    """Each event must be exactly `data: <json or [DONE]>` followed by a blank line."""
    assert data.endswith(b"\n\n") or not data
    events: list[Any] = []
    for block in data.split(b"\n\n")[:-1]:
        assert block.startswith(b"data: "), block
        payload = block[len(b"data: ") :]
        assert b"\n" not in payload
        events.append("[DONE]" if payload == b"[DONE]" else json.loads(payload))
    return events


def translate(
    kind: str, chunks: list[bytes], *, include_usage: bool = False, model: str = "served-model"
) -> list[Any]:
    return parse_sse(encode_stream(OLLAMA, kind, chunks, model=model, include_usage=include_usage))


def normalized(events: list[Any]) -> list[Any]:
    """Ids are random per translator: replace each by the order it first appeared in."""
    seen: dict[str, str] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: (seen.setdefault(v, f"id{len(seen)}") if k == "id" else walk(v))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(events)


def chunks_of(events: list[Any]) -> list[dict[str, Any]]:
    return [e for e in events if isinstance(e, dict) and "choices" in e]


def deltas(events: list[Any]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks_of(events) if c["choices"]]


def joined(events: list[Any], key: str) -> str:
    return "".join(d.get(key, "") for d in deltas(events))


# --- endpoint, auth, discovery -----------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://localhost:11434",
        "http://localhost:11434/",
        "http://localhost:11434/v1",
        "http://localhost:11434/v1/",
        "http://localhost:11434/api",
        "http://localhost:11434/api/",
        " http://localhost:11434 ",
    ],
)
def test_api_base_is_the_server_root(endpoint: str) -> None:
    assert ollama.api_base(endpoint) == "http://localhost:11434"


def test_api_base_keeps_a_proxy_prefix() -> None:
    assert ollama.api_base("https://gpu.example.org/ollama/api") == "https://gpu.example.org/ollama"


def test_auth_headers() -> None:
    assert ollama.auth_headers(None) == {}
    assert ollama.auth_headers("") == {}
    assert ollama.auth_headers("sk-1") == {"Authorization": "Bearer sk-1"}


def test_parse_models_from_tags() -> None:
    models = ollama.parse_models(load("tags.json"))
    assert [m.id for m in models] == ["llama3.2:1b", "qwen2.5-coder:0.5b", "codellama:13b"]
    assert all(isinstance(m, ModelRecord) for m in models)
    llama = models[0].info
    assert llama["size"] == 1321098329
    assert llama["family"] == "llama"
    assert llama["families"] == ["llama"]
    assert llama["parameter_size"] == "1.2B"
    assert llama["quantization_level"] == "Q8_0"
    assert llama["format"] == "gguf"
    assert llama["modified_at"] == "2025-02-11T09:12:44.318249113+01:00"
    assert llama["digest"].startswith("baf6a787")
    # Redundant or empty fields are not kept: `model` repeats the name, `families` is null.
    assert "model" not in llama and "parent_model" not in llama
    assert "families" not in models[2].info


@pytest.mark.parametrize(
    "payload", [None, [], {}, {"models": None}, {"data": []}, "models", {"models": {}}]
)
def test_parse_models_rejects_what_is_not_a_tag_list(payload: Any) -> None:
    with pytest.raises(ValueError, match="models"):
        ollama.parse_models(payload)


def test_parse_models_skips_nameless_entries() -> None:
    payload = {"models": [{"size": 1}, "x", {"name": ""}, {"model": "m:1b"}, {"name": "n"}]}
    assert [m.id for m in ollama.parse_models(payload)] == ["m:1b", "n"]


def test_error_message() -> None:
    expected = 'model "llama9:70b" not found, try pulling it first'
    assert ollama.error_message(load("error.json")) == expected
    assert ollama.error_message(raw("error.json")) == expected
    assert ollama.error_message(raw("error.json").decode()) == expected
    assert ollama.error_message({"error": {"message": "bad key", "type": "x"}}) == "bad key"
    assert ollama.error_message(load("chat.json")) is None
    assert ollama.error_message(b"<html>502</html>") is None
    assert ollama.error_message(["error"]) is None
    assert ollama.error_message({"error": ""}) is None


# --- chat requests -----------------------------------------------------------------------


def test_chat_request_states_stream_false_and_takes_the_workspace_model() -> None:
    request = chat(USER)
    assert request == {
        "model": "llama3.2:1b",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
    }
    assert chat(USER, stream=True)["stream"] is True
    assert chat(USER, stream=False)["stream"] is False


def test_chat_request_is_compact_utf8() -> None:
    body = ollama.build_request("chat", {"messages": [{"role": "user", "content": "é😀"}]}, "m")
    assert "é😀".encode() in body
    assert b": " not in body


def test_options_mapping() -> None:
    request = chat(
        USER,
        max_tokens=100,
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        stop="###",
        n=1,
        user="someone",
        logprobs=False,
    )
    assert request["options"] == {
        "num_predict": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "stop": ["###"],
    }
    # OpenAI fields with no Ollama meaning do not leak to the top level.
    assert set(request) == {"model", "messages", "stream", "options"}


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    assert chat(USER, max_tokens=10, max_completion_tokens=20)["options"] == {"num_predict": 20}
    assert chat(USER, max_completion_tokens=0)["options"] == {"num_predict": 0}


def test_stop_list_and_absent_options() -> None:
    assert chat(USER, stop=["a", "b"])["options"] == {"stop": ["a", "b"]}
    assert "options" not in chat(USER, stop=None, temperature=None, max_tokens=None)
    assert "options" not in chat(USER, stop=[])


def test_roles_and_content_parts() -> None:
    request = chat(
        {"role": "developer", "content": "Be brief."},
        {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "text", "text": "And this?"},
            ],
            "name": "ann",
        },
    )
    assert request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "What is this?\nAnd this?"},
    ]


def test_images_from_data_urls() -> None:
    encoded = base64.b64encode(PNG).decode()
    request = chat(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}},
                {"type": "image_url", "image_url": "data:text/plain,hello%20world"},
            ],
        }
    )
    message = request["messages"][0]
    assert message["content"] == "Compare"
    assert message["images"] == [encoded, base64.b64encode(b"hello world").decode()]


def test_image_by_http_url_is_refused() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.org/cat.png"}}
    with pytest.raises(ValueError, match=r"messages\[0\].*inline.*data:"):
        chat({"role": "user", "content": [part]})


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,***"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64"}},
        {"type": "image_url", "image_url": {}},
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
        "just a string",
    ],
)
def test_content_parts_ollama_cannot_take(part: Any) -> None:
    with pytest.raises(ValueError, match=r"messages\[0\]"):
        chat({"role": "user", "content": [part]})


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="narrator"):
        chat({"role": "narrator", "content": "Once"})


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def test_tools_pass_through_and_tool_choice_none_drops_them() -> None:
    assert chat(USER, tools=[WEATHER_TOOL])["tools"] == [WEATHER_TOOL]
    assert chat(USER, tools=[WEATHER_TOOL], tool_choice="auto")["tools"] == [WEATHER_TOOL]
    assert "tools" not in chat(USER, tools=[WEATHER_TOOL], tool_choice="none")
    assert "tools" not in chat(USER, tools=[])


def test_tool_calls_and_tool_results() -> None:
    request = chat(
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {
                        "name": "get_current_weather",
                        "arguments": '{"location": "Paris"}',
                    },
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_a", "content": [{"type": "text", "text": "21C"}]},
        {"role": "tool", "tool_call_id": "unknown", "content": "?"},
    )
    assert request["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}},
                {"function": {"name": "get_time", "arguments": {}}},
            ],
        },
        {"role": "tool", "content": "12:00", "tool_name": "get_time"},
        {"role": "tool", "content": "21C", "tool_name": "get_current_weather"},
        {"role": "tool", "content": "?"},
    ]


def test_assistant_reasoning_goes_back_as_thinking() -> None:
    request = chat(USER, {"role": "assistant", "content": "Hi!", "reasoning_content": "Greet."})
    assert request["messages"][1] == {"role": "assistant", "content": "Hi!", "thinking": "Greet."}


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "3"])
def test_tool_call_arguments_must_be_a_json_object(arguments: str) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    with pytest.raises(ValueError, match=r"messages\[0\]\.tool_calls\[0\]"):
        chat({"role": "assistant", "content": None, "tool_calls": [call]})


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    assert chat(USER, response_format={"type": "json_object"})["format"] == "json"
    json_schema = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    assert chat(USER, response_format=json_schema)["format"] == schema
    assert "format" not in chat(USER, response_format={"type": "text"})
    with pytest.raises(ValueError, match="json_schema"):
        chat(USER, response_format={"type": "json_schema", "json_schema": {"name": "x"}})


def test_thinking_is_only_asked_for_when_the_client_asks() -> None:
    assert "think" not in chat(USER)
    assert chat(USER, reasoning_effort="high")["think"] == "high"
    assert chat(USER, reasoning_effort="minimal")["think"] == "low"
    assert chat(USER, reasoning_effort="none")["think"] is False
    assert chat(USER, think=True, reasoning_effort="low")["think"] is True


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="embeddings"):
        ollama.build_request("embeddings", {}, "m")


# --- fill-in-the-middle requests ---------------------------------------------------------


def test_generate_request() -> None:
    request = built(
        "fim",
        {
            "model": "x",
            "prompt": "def gcd(a, b):\n",
            "suffix": "    return result\n",
            "max_tokens": 64,
            "temperature": 0,
            "stop": "\n\n",
            "echo": False,
            "n": 1,
        },
        "qwen2.5-coder:0.5b",
    )
    assert request == {
        "model": "qwen2.5-coder:0.5b",
        "prompt": "def gcd(a, b):\n",
        "raw": False,
        "stream": False,
        "suffix": "    return result\n",
        "options": {"num_predict": 64, "temperature": 0, "stop": ["\n\n"]},
    }
    assert built("fim", {"prompt": "x", "stream": True})["stream"] is True


def test_generate_prompt_lists() -> None:
    assert built("fim", {"prompt": ["first", "second"]})["prompt"] == "first"
    assert built("fim", {"prompt": []})["prompt"] == ""
    with pytest.raises(ValueError, match="token"):
        built("fim", {"prompt": [1, 2, 3]})


# --- non-streamed answers ----------------------------------------------------------------


def test_chat_answer() -> None:
    answer = encode_body(OLLAMA, "chat", load("chat.json"), "llama3.2:1b")
    assert answer["object"] == "chat.completion"
    assert answer["id"].startswith("chatcmpl-")
    assert answer["model"] == "llama3.2:1b"
    assert answer["created"] == 1739265631  # 2025-02-11T09:20:31Z
    assert answer["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How are you today?",
                "refusal": None,
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert answer["usage"] == {"prompt_tokens": 26, "completion_tokens": 298, "total_tokens": 324}


def test_chat_answer_with_tool_calls() -> None:
    answer = encode_body(OLLAMA, "chat", load("chat_tools.json"), "m")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    [call] = message["tool_calls"]
    assert call["id"].startswith("call_") and len(call["id"]) > len("call_")
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_current_weather"
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == {
        "format": "celsius",
        "location": "Paris, FR",
    }


def test_upstream_tool_call_ids_are_kept() -> None:
    payload = load("chat_tools.json")
    payload["message"]["tool_calls"][0]["id"] = "call_upstream1"
    answer = encode_body(OLLAMA, "chat", payload, "m")
    assert answer["choices"][0]["message"]["tool_calls"][0]["id"] == "call_upstream1"


@pytest.mark.parametrize(
    ("done_reason", "finish_reason"),
    [("stop", "stop"), ("length", "length"), ("load", "stop"), ("unload", "stop"), (None, "stop")],
)
def test_finish_reason(done_reason: str | None, finish_reason: str) -> None:
    payload = load("chat.json")
    payload["done_reason"] = done_reason
    answer = encode_body(OLLAMA, "chat", payload, "m")
    assert answer["choices"][0]["finish_reason"] == finish_reason
    generated = load("generate.json")
    generated["done_reason"] = done_reason
    assert encode_body(OLLAMA, "fim", generated, "m")["choices"][0]["finish_reason"] == (
        finish_reason
    )


def test_usage_without_counts() -> None:
    payload = load("chat.json")
    del payload["prompt_eval_count"], payload["eval_count"]
    usage = encode_body(OLLAMA, "chat", payload, "m")["usage"]
    assert usage == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_chat_answer_with_thinking() -> None:
    payload = load("chat.json")
    payload["message"]["thinking"] = "They greet me."
    message = encode_body(OLLAMA, "chat", payload, "m")["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "Hello! How are you today?",
        "refusal": None,
        "reasoning_content": "They greet me.",
    }


def test_generate_answer() -> None:
    answer = encode_body(OLLAMA, "fim", load("generate.json"), "qwen2.5-coder:0.5b")
    assert answer["object"] == "text_completion"
    assert answer["id"].startswith("cmpl-")
    assert answer["model"] == "qwen2.5-coder:0.5b"
    assert answer["choices"] == [
        {
            "index": 0,
            "text": "\n  if a == 0:\n    return b\n  return compute_gcd(b % a, a)\n",
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert answer["usage"] == {"prompt_tokens": 17, "completion_tokens": 63, "total_tokens": 80}


@pytest.mark.parametrize("payload", [load("error.json"), {"done": True}, ["x"]])
def test_what_is_not_a_chat_answer(payload: Any) -> None:
    with pytest.raises(ValueError):
        encode_body(OLLAMA, "chat", payload, "m")


# --- streams -----------------------------------------------------------------------------


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("name", sorted(STREAMS))
def test_stream_is_the_same_however_it_is_cut(name: str, include_usage: bool) -> None:
    data, kind = raw(name), STREAMS[name]
    whole = normalized(translate(kind, [data], include_usage=include_usage))
    # A whole answer ends with one [DONE], a failed one with one error event instead.
    assert whole.count("[DONE]") + sum("error" in e for e in whole if e != "[DONE]") == 1
    byte_by_byte = [data[i : i + 1] for i in range(len(data))]
    assert normalized(translate(kind, byte_by_byte, include_usage=include_usage)) == whole
    for cut in range(len(data) + 1):
        parts = [data[:cut], data[cut:]]
        assert normalized(translate(kind, parts, include_usage=include_usage)) == whole, cut


def test_stream_lines_cut_inside_utf8_characters() -> None:
    data = raw("chat_stream.ndjson")
    cut = data.index("🌤".encode()) + 2  # between the second and third byte of the emoji
    events = translate("chat", [data[:cut], data[cut:]])
    assert "🌤" in joined(events, "content")


def test_chat_stream() -> None:
    events = translate("chat", [raw("chat_stream.ndjson")], model="llama3.2:1b")
    chunks = chunks_of(events)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(
        c["object"] == "chat.completion.chunk"
        and c["model"] == "llama3.2:1b"
        and c["id"] == chunks[0]["id"]
        and c["id"].startswith("chatcmpl-")
        and c["created"] == 1739265660  # the first line's created_at, 09:21:00
        for c in chunks
    )
    assert joined(events, "content") == (
        "Le ciel est bleu à cause de la diffusion Rayleigh 🌤️ <b>& voilà</b>"
    )
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert all("usage" not in c for c in chunks)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1


def test_chat_stream_with_usage() -> None:
    events = translate("chat", [raw("chat_stream.ndjson")], include_usage=True)
    *chunks, usage, done = events
    assert done == "[DONE]"
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 26, "completion_tokens": 10, "total_tokens": 36}
    assert usage["object"] == "chat.completion.chunk"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["usage"] is None for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


def test_chat_stream_with_tool_calls() -> None:
    events = translate("chat", [raw("chat_stream_tools.ndjson")])
    assert deltas(events)[0] == {"role": "assistant", "content": ""}
    assert joined(events, "content") == "Let me check."
    calls = [call for d in deltas(events) for call in d.get("tool_calls", [])]
    assert [c["index"] for c in calls] == [0, 1]
    assert len({c["id"] for c in calls}) == 2
    assert all(c["id"].startswith("call_") and c["type"] == "function" for c in calls)
    assert [c["function"]["name"] for c in calls] == ["get_current_weather"] * 2
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"format": "celsius", "location": "Paris, FR"},
        {"format": "celsius", "location": "Zürich, CH"},
    ]
    assert chunks_of(events)[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_stream_several_tool_calls_on_one_line_keep_counting() -> None:
    line = {
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_x", "function": {"name": "a", "arguments": {}}},
                {"function": {"name": "b", "arguments": {"k": [1]}}},
            ],
        },
        "done": False,
    }
    data = (json.dumps(line) + "\n").encode() * 2 + b'{"done":true,"done_reason":"stop"}\n'
    calls = [c for d in deltas(translate("chat", [data])) for c in d.get("tool_calls", [])]
    assert [c["index"] for c in calls] == [0, 1, 2, 3]
    assert calls[0]["id"] == "call_x"
    assert [c["function"]["arguments"] for c in calls[:2]] == ["{}", '{"k": [1]}']


def test_chat_stream_with_thinking() -> None:
    events = translate("chat", [raw("chat_stream_thinking.ndjson")])
    assert deltas(events)[0] == {"role": "assistant", "content": ""}
    assert joined(events, "reasoning_content") == "Okay, the user greets me — I\u2019ll greet back."
    assert joined(events, "content") == "Hi there! 👋"
    kinds = [next(iter(d)) for d in deltas(events)[1:-1]]
    assert kinds == ["reasoning_content"] * 5 + ["content"] * 3


def test_generate_stream() -> None:
    events = translate("fim", [raw("generate_stream.ndjson")], include_usage=True)
    *chunks, usage, done = events
    assert done == "[DONE]"
    assert all(c["object"] == "text_completion" and c["id"].startswith("cmpl-") for c in chunks)
    assert "role" not in json.dumps(chunks)
    text = "".join(c["choices"][0]["text"] for c in chunks)
    assert text == "\n  if a == 0:\n    return b  # ½ done\n"
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "text": "",
        "logprobs": None,
        "finish_reason": "length",
    }
    assert usage["choices"] == [] and usage["object"] == "text_completion"
    assert usage["usage"] == {"prompt_tokens": 17, "completion_tokens": 10, "total_tokens": 27}


def test_error_line_ends_the_stream() -> None:
    events = translate("chat", [raw("chat_stream_error.ndjson")], include_usage=True)
    assert joined(events, "content") == "The sky"
    assert events[-1] == {
        "error": {
            "message": (
                "reported an error: an error was encountered while running the model: "
                "unexpected EOF"
            ),
            "type": "upstream_error",
            "param": None,
            "code": "upstream_error",
        }
    }
    assert not [e for e in events if isinstance(e, dict) and e.get("choices") == []]
    # Nothing more once the error is out, whatever else arrives.
    translator = ollama.StreamTranslator("chat", "m")
    framer = OLLAMA.framer()
    assert any(
        isinstance(i, Failure)
        for i in translator.feed(framer.feed(raw("chat_stream_error.ndjson")))
    )
    assert translator.feed(framer.feed(raw("chat_stream.ndjson"))) == []
    assert translator.close() == []


def test_error_as_the_first_line() -> None:
    events = translate("chat", [raw("error.json")])
    assert events == [
        {
            "error": {
                "message": 'reported an error: model "llama9:70b" not found, try pulling it first',
                "type": "upstream_error",
                "param": None,
                "code": "upstream_error",
            }
        },
    ]


@pytest.mark.parametrize("kind", ["chat", "fim"])
def test_truncated_stream(kind: str) -> None:
    name = "chat_stream.ndjson" if kind == "chat" else "generate_stream.ndjson"
    data = raw(name)
    without_done = data[: data.rstrip(b"\n").rindex(b"\n") + 1]
    for cut in (len(without_done), len(without_done) + 25):  # at a line end, mid-line
        events = translate(kind, [data[:cut]], include_usage=True)
        assert "[DONE]" not in events
        error = events[-1]["error"]
        assert error["code"] == "upstream_truncated"
        assert "ended the stream before" in error["message"]
        assert set(error) == {"message", "type", "param", "code"}
        finishes = [c["choices"][0]["finish_reason"] for c in chunks_of(events) if c["choices"]]
        assert finishes == [None] * len(finishes)


def test_empty_stream_is_truncated() -> None:
    events = translate("chat", [])
    assert [e if e == "[DONE]" else e["error"]["code"] for e in events] == ["upstream_truncated"]


def test_last_line_without_newline_is_read_at_close() -> None:
    data = raw("chat_stream.ndjson").rstrip(b"\n")
    events = translate("chat", [data])
    assert chunks_of(events)[-1]["choices"][0]["finish_reason"] == "stop"
    assert "error" not in json.dumps(events)


def test_crlf_and_blank_lines_are_tolerated() -> None:
    data = raw("chat_stream.ndjson").replace(b"\n", b"\r\n\r\n")
    assert normalized(translate("chat", [data])) == normalized(
        translate("chat", [raw("chat_stream.ndjson")])
    )


def test_a_line_that_is_not_json() -> None:
    events = translate("chat", [b'{"message":{"content":"a"},"done":false}\n', b"<html>\n"])
    assert joined(events, "content") == "a"
    assert events[-1]["error"]["code"] == "upstream_malformed"


# --- the fake server ---------------------------------------------------------------------


async def test_fake_ollama_tags_and_discover() -> None:
    with FakeOllama() as fake:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{fake.endpoint}/api/tags")
        assert response.status_code == 200
        assert [m.id for m in ollama.parse_models(response.json())] == list(DEFAULT_MODELS)

        async def run() -> list[ModelRecord]:
            async with httpx.AsyncClient() as client:
                return await ollama.discover(
                    client,
                    ollama.api_base(fake.endpoint + "/v1"),
                    ollama.auth_headers("k"),
                    httpx.Timeout(5),
                )

        models = await run()
        assert [m.id for m in models] == list(DEFAULT_MODELS)
        assert models[0].info["quantization_level"] == "Q4_K_M"
        assert fake.requests[-1] == ("/api/tags", None)
        assert fake.headers[-1]["Authorization"] == "Bearer k"


def test_fake_ollama_chat_stream() -> None:
    with FakeOllama() as fake:
        for model in DEFAULT_MODELS:
            body = {"messages": [USER], "stream": True, "stream_options": {"include_usage": True}}
            pieces = []
            with httpx.stream(
                "POST",
                fake.endpoint + ollama.PATHS["chat"],
                content=ollama.build_request("chat", body, model),
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "application/x-ndjson"
                assert response.headers["transfer-encoding"] == "chunked"
                pieces = list(response.iter_raw())
            events = translate("chat", pieces, include_usage=True, model=model)
            assert joined(events, "content") == "".join(reply_pieces(model))
            assert model in joined(events, "content")
            assert events[-2]["usage"]["completion_tokens"] == len(reply_pieces(model))
            assert events[-1] == "[DONE]"
            assert fake.requests[-1] == (
                "/api/chat",
                json.loads(ollama.build_request("chat", body, model)),
            )


def test_fake_ollama_non_streamed_answers_and_errors() -> None:
    with FakeOllama(["tiny:latest"]) as fake:
        url = fake.endpoint
        body = ollama.build_request("chat", {"messages": [USER]}, "tiny")
        answer = httpx.post(url + "/api/chat", content=body)
        assert answer.status_code == 200
        translated = encode_body(OLLAMA, "chat", answer.json(), "tiny")
        assert translated["choices"][0]["message"]["content"] == "Hello from tiny:latest!"

        tools = {"messages": [USER], "tools": [WEATHER_TOOL]}
        answer = httpx.post(url + "/api/chat", content=ollama.build_request("chat", tools, "tiny"))
        choice = encode_body(OLLAMA, "chat", answer.json(), "tiny")["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        [call] = choice["message"]["tool_calls"]
        assert call["function"]["name"] == "get_current_weather"
        assert json.loads(call["function"]["arguments"]) == {"location": "example"}

        thinking = {"messages": [USER], "think": True}
        answer = httpx.post(
            url + "/api/chat", content=ollama.build_request("chat", thinking, "tiny")
        )
        message = encode_body(OLLAMA, "chat", answer.json(), "tiny")["choices"][0]["message"]
        assert message["reasoning_content"] == "The user says hello."

        short = {"prompt": "def f():", "max_tokens": 1}
        answer = httpx.post(
            url + "/api/generate", content=ollama.build_request("fim", short, "tiny")
        )
        completion = encode_body(OLLAMA, "fim", answer.json(), "tiny")
        assert completion["choices"][0]["finish_reason"] == "length"
        assert completion["choices"][0]["text"] == "    return"

        missing = httpx.post(url + "/api/chat", content=ollama.build_request("chat", tools, "nope"))
        assert missing.status_code == 404
        assert ollama.error_message(missing.content) == (
            'model "nope" not found, try pulling it first'
        )
