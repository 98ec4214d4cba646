"""POST /mux/api/provider-probe: a provider's settings tried against the real upstream
(llama.cpp), nothing stored."""

from __future__ import annotations

from jupyter_mux.localmodel import LocalLlamaServer

from .conftest import UPSTREAM_KEY


async def test_reachable_provider_lists_its_models_and_is_not_saved(api, llama_a: LocalLlamaServer):
    body = {"name": "try-a", "type": "llamacpp", "endpoint": llama_a.endpoint}
    answer = await api.ok("POST", "provider-probe", body)
    assert answer == {"ok": True, "models": ["tiny-a"], "error": None}
    assert await api.ok("GET", "providers") == []
    # The name stays free: the same body then saves.
    await api.ok("POST", "providers", body, 201)


async def test_unreachable_provider_answers_the_reason(api, free_port):
    body = {"name": "down", "type": "llamacpp", "endpoint": f"http://127.0.0.1:{free_port}"}
    answer = await api.ok("POST", "provider-probe", body)
    assert answer["ok"] is False and answer["models"] == []
    assert "connection refused" in answer["error"]
    assert f"127.0.0.1:{free_port}" in answer["error"]
    code, _ = await api("GET", "providers/down")
    assert code == 404


async def test_the_key_is_sent_and_never_repeated(api, llama_keyed: LocalLlamaServer):
    base = {"name": "keyed", "type": "openai", "endpoint": llama_keyed.endpoint}
    wrong = await api.ok("POST", "provider-probe", {**base, "api_key": "sk-wrong-key-123"})
    assert wrong["ok"] is False and "401" in wrong["error"]
    assert "sk-wrong-key-123" not in wrong["error"]
    right = await api.ok("POST", "provider-probe", {**base, "api_key": UPSTREAM_KEY})
    assert right == {"ok": True, "models": ["tiny-keyed"], "error": None}


async def test_a_bad_body_is_refused_like_a_create(api):
    code, body = await api("POST", "provider-probe", {"name": "x", "type": "gpt"})
    assert code == 400 and "type" in body["message"]
    code, body = await api("POST", "provider-probe", b"[")
    assert code == 400
