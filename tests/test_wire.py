"""Pure functions of the OpenAI wire format and the mux's request checks, on recorded
payloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mux.errors import InvalidRequest
from jupyter_mux.openai_request import parse_request
from jupyter_mux.providers import openai_compat
from jupyter_mux.upstream_errors import provider_message

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str):
    return json.loads((PAYLOADS / name).read_text())


@pytest.mark.parametrize(
    ("endpoint", "base"),
    [
        ("https://api.openai.com", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("https://openrouter.ai/api", "https://openrouter.ai/api/v1"),
        ("http://localhost:8000/", "http://localhost:8000/v1"),
        ("http://gpu:8000/proxy/v1", "http://gpu:8000/proxy/v1"),
    ],
)
def test_api_base(endpoint, base):
    assert openai_compat.api_base(endpoint) == base


def test_auth_headers():
    assert openai_compat.auth_headers("vllm", None) == {}
    assert openai_compat.auth_headers("openai", "k") == {"Authorization": "Bearer k"}
    openrouter = openai_compat.auth_headers("openrouter", "k")
    assert openrouter["Authorization"] == "Bearer k" and "X-Title" in openrouter


def test_parse_openrouter_models_keeps_pricing():
    models = openai_compat.parse_models(load("openrouter_models.json"))
    assert [m.id for m in models] == [
        "meta-llama/llama-3.1-8b-instruct",
        "anthropic/claude-3.5-haiku",
    ]
    assert models[0].info["pricing"]["prompt"] == "0.00000002"
    assert models[1].info["context_length"] == 200000


def test_parse_llamacpp_models_uses_openai_list():
    models = openai_compat.parse_models(load("llamacpp_models.json"))
    assert [m.id for m in models] == ["tiny"]
    assert models[0].info["owned_by"] == "llamacpp" and "object" not in models[0].info


def test_parse_openai_models_keeps_duplicates_for_the_store_to_fold():
    models = openai_compat.parse_models(load("openai_models.json"))
    assert [m.id for m in models] == ["gpt-4o-mini", "text-embedding-3-small", "gpt-4o-mini"]


@pytest.mark.parametrize("payload", [[], {"models": []}, {"data": "x"}, None])
def test_parse_models_rejects_non_lists(payload):
    with pytest.raises(ValueError, match="model list"):
        openai_compat.parse_models(payload)


def test_build_body_replaces_model_only():
    body = {"model": "client", "messages": [{"role": "user", "content": "é"}], "stream": True}
    sent = json.loads(openai_compat.build_body(body, "served"))
    assert sent == {**body, "model": "served"}
    assert body["model"] == "client"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b'{"error": {"message": "Invalid API Key", "type": "authentication_error"}}',
            "Invalid API Key",
        ),
        (b'{"error": "model not found"}', "model not found"),
        (b'{"detail": "Not Found"}', "Not Found"),
        (b'{"message": "Too many requests"}', "Too many requests"),
        (b"upstream connect error", "upstream connect error"),
        (b"", ""),
    ],
)
def test_provider_message(raw, message):
    assert provider_message(raw) == message


def test_parse_chat_request():
    request = parse_request("chat/completions", b'{"messages": [{"role": "user"}]}')
    assert (request.kind, request.stream, request.include_usage) == ("chat", False, False)
    fim = parse_request(
        "completions",
        b'{"prompt": ["a"], "suffix": "x", "stream": true, "stream_options": '
        b'{"include_usage": true}}',
    )
    assert (fim.kind, fim.stream, fim.include_usage) == ("fim", True, True)


@pytest.mark.parametrize(
    ("route", "raw", "param"),
    [
        ("chat/completions", b"{", None),
        ("chat/completions", b"\xff", None),
        ("chat/completions", b"null", None),
        ("chat/completions", b"{}", "messages"),
        ("chat/completions", b'{"messages": {}}', "messages"),
        ("chat/completions", b'{"messages": ["hi"]}', "messages[0]"),
        ("chat/completions", b'{"messages": [{"role": "user"}], "stream": 1}', "stream"),
        ("completions", b"{}", "prompt"),
        ("completions", b'{"prompt": [1, "a"]}', "prompt"),
        ("completions", b'{"prompt": []}', "prompt"),
    ],
)
def test_bad_requests(route, raw, param):
    with pytest.raises(InvalidRequest) as info:
        parse_request(route, raw)
    assert info.value.status == 400 and info.value.param == param
