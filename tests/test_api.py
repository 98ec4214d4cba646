"""The management API (API.md section 2) in a real Jupyter server."""

from __future__ import annotations

import pytest

from .recording_upstream import RecordingUpstream

SECRET = "sk-live-0123456789abcdef-SECRET"


@pytest.fixture
def upstream():
    with RecordingUpstream() as up:
        yield up


async def test_provider_types(api):
    types = {t["type"]: t for t in await api.ok("GET", "provider-types")}
    assert set(types) == {
        "anthropic",
        "llamacpp",
        "lmstudio",
        "ollama",
        "openai",
        "openrouter",
        "vllm",
    }
    assert types["openrouter"]["default_endpoint"] == "https://openrouter.ai/api"
    assert types["ollama"]["default_endpoint"] == "http://localhost:11434"
    assert (types["anthropic"]["default_auth"], types["vllm"]["default_auth"]) == (
        "api_key",
        "none",
    )
    assert all(t["default_auth"] in t["auth_types"] for t in types.values())


async def test_default_workspace_exists_and_is_active(api):
    workspaces = await api.ok("GET", "workspaces")
    assert [(w["name"], w["is_active"]) for w in workspaces] == [("default", True)]
    assert (await api.ok("GET", "active")) == {"name": "default"}


async def test_provider_lifecycle(api, upstream):
    created = await api.ok(
        "POST",
        "providers",
        {
            "name": "vl",
            "type": "vllm",
            "endpoint": upstream.endpoint,
            "description": "lab GPU",
        },
        status=201,
    )
    assert created["status"] == "ok" and created["error"] is None
    assert created["models"] == ["rec-model"]
    assert created["auth_type"] == "none" and created["has_api_key"] is False
    assert created["models_refreshed_at"]
    assert await api.ok("GET", "providers/vl") == created
    models = await api.ok("GET", "providers/vl/models")
    assert models == [
        {
            "id": "rec-model",
            "owned_by": "test",
            "pricing": {"prompt": "0.000001", "completion": "0.000002"},
        }
    ]
    renamed = await api.ok("PATCH", "providers/vl", {"name": "gpu", "description": "x"})
    assert (renamed["name"], renamed["description"]) == ("gpu", "x")
    code, _ = await api("GET", "providers/vl")
    assert code == 404
    assert (await api.ok("POST", "providers/gpu/refresh"))["status"] == "ok"
    await api.ok("DELETE", "providers/gpu", status=204)
    assert await api.ok("GET", "providers") == []


async def test_endpoint_with_or_without_v1(api, upstream):
    for name, endpoint in (("plain", upstream.endpoint), ("v1", upstream.endpoint + "/v1/")):
        provider = await api.ok(
            "POST", "providers", {"name": name, "type": "lmstudio", "endpoint": endpoint}, 201
        )
        assert provider["status"] == "ok", provider
    assert [r["path"] for r in upstream.requests] == ["/v1/models", "/v1/models"]


async def test_default_endpoint_is_filled(api):
    provider = await api.ok("POST", "providers", {"name": "o", "type": "ollama"}, 201)
    assert provider["endpoint"] == "http://localhost:11434"
    assert provider["status"] == "error" and provider["error"]


async def test_unreachable_provider_is_saved_with_error(api, free_port):
    provider = await api.ok(
        "POST",
        "providers",
        {"name": "down", "type": "llamacpp", "endpoint": f"http://127.0.0.1:{free_port}"},
        201,
    )
    assert provider["status"] == "error"
    assert "connection refused" in provider["error"]
    assert (await api.ok("GET", "providers/down"))["status"] == "error"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "", "type": "vllm"}, ["name"]),
        ({"name": "a b", "type": "vllm"}, ["name", "letters"]),
        ({"name": "../etc", "type": "vllm"}, ["name"]),
        ({"name": "ok", "type": "gpt"}, ["type", "anthropic", "vllm"]),
        ({"name": "ok"}, ["type", "required"]),
        ({"name": "ok", "type": "vllm", "endpoint": "localhost:8000"}, ["endpoint", "http"]),
        ({"name": "ok", "type": "vllm", "endpoint": "http://"}, ["endpoint"]),
        ({"name": "ok", "type": "vllm", "endpoint": "http://u:p@h"}, ["credentials"]),
        ({"name": "ok", "type": "vllm", "auth_type": "oauth"}, ["auth_type"]),
        ({"name": "ok", "type": "anthropic", "auth_type": "none"}, ["auth_type", "api_key"]),
        ({"name": "ok", "type": "vllm", "auth_type": "none", "api_key": "k"}, ["api_key"]),
        ({"name": "ok", "type": "vllm", "colour": "red"}, ["colour"]),
        ({"name": 5, "type": "vllm"}, ["name"]),
        ([], ["object"]),
    ],
)
async def test_provider_validation(api, body, words):
    code, error = await api("POST", "providers", body)
    assert code == 400, error
    assert set(error) == {"message", "reason"}
    for word in words:
        assert word in error["message"], error["message"]
    assert await api.ok("GET", "providers") == []


async def test_malformed_json_body(api):
    code, error = await api("POST", "providers", "{nope")
    assert code == 400 and "JSON" in error["message"]


async def test_duplicate_provider_name(api, upstream):
    body = {"name": "dup", "type": "vllm", "endpoint": upstream.endpoint}
    await api.ok("POST", "providers", body, 201)
    code, error = await api("POST", "providers", body)
    assert code == 409 and "dup" in error["message"]
    await api.ok("POST", "providers", {**body, "name": "other"}, 201)
    code, error = await api("PATCH", "providers/other", {"name": "dup"})
    assert code == 409
    assert sorted(p["name"] for p in await api.ok("GET", "providers")) == ["dup", "other"]


async def test_unknown_provider_is_404(api):
    for method, path in (
        ("GET", "providers/nope"),
        ("PATCH", "providers/nope"),
        ("DELETE", "providers/nope"),
        ("POST", "providers/nope/refresh"),
        ("GET", "providers/nope/models"),
    ):
        code, error = await api(method, path, {} if method == "PATCH" else None)
        assert code == 404 and "nope" in error["message"], (method, path)


async def test_api_key_is_write_only_and_encrypted(api, upstream, db_path):
    created = await api.ok(
        "POST",
        "providers",
        {
            "name": "hosted",
            "type": "openai",
            "endpoint": upstream.endpoint,
            "api_key": SECRET,
        },
        201,
    )
    assert created["has_api_key"] and created["auth_type"] == "api_key"
    assert upstream.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    # A PATCH without a key, or with an empty one, keeps it.
    await api.ok("PATCH", "providers/hosted", {"description": "kept"})
    await api.ok("PATCH", "providers/hosted", {"api_key": ""})
    await api.ok("POST", "providers/hosted/refresh")
    assert upstream.requests[-1]["headers"]["authorization"] == f"Bearer {SECRET}"
    for path in ("providers", "providers/hosted", "providers/hosted/models", "workspaces"):
        _, body = await api("GET", path)
        assert SECRET not in str(body)
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob("mux.sqlite*"))
    assert SECRET.encode() not in raw
    assert b"hosted" in raw  # the file is the live database, not an empty decoy
    # Switching to no auth drops the key.
    dropped = await api.ok("PATCH", "providers/hosted", {"auth_type": "none"})
    assert dropped["has_api_key"] is False


async def test_workspace_lifecycle(api, upstream):
    await api.ok(
        "POST", "providers", {"name": "p", "type": "vllm", "endpoint": upstream.endpoint}, 201
    )
    created = await api.ok(
        "POST",
        "workspaces",
        {
            "name": "secret-project",
            "description": "local only",
            "preferred": {"provider": "p", "model": "rec-model"},
        },
        201,
    )
    assert created == {
        "name": "secret-project",
        "description": "local only",
        "is_active": False,
        "preferred": {"provider": "p", "model": "rec-model"},
        "preferred_ok": True,
        "problem": None,
        "shared": False,  # only the Hub service's admin shares workspaces
    }
    await api.ok("PUT", "active", {"name": "secret-project"})
    renamed = await api.ok("PATCH", "workspaces/secret-project", {"name": "sp"})
    assert renamed["is_active"] and renamed["name"] == "sp"
    assert (await api.ok("GET", "active"))["name"] == "sp"
    cleared = await api.ok("PATCH", "workspaces/sp", {"preferred": None})
    assert cleared["preferred"] is None and not cleared["preferred_ok"]
    assert "model" in cleared["problem"]
    kept = await api.ok("PATCH", "workspaces/sp", {"description": "d"})
    assert kept["preferred"] is None and kept["description"] == "d"
    assert (await api.ok("GET", "providers/p"))["used_by"] == []
    await api.ok("PATCH", "workspaces/sp", {"preferred": {"provider": "p", "model": "rec-model"}})
    assert (await api.ok("GET", "providers/p"))["used_by"] == ["sp"]


async def test_active_workspace_cannot_be_deleted(api):
    code, error = await api("DELETE", "workspaces/default")
    assert code == 409 and "active" in error["message"]
    await api.ok("POST", "workspaces", {"name": "other"}, 201)
    await api.ok("PUT", "active", {"name": "other"})
    await api.ok("DELETE", "workspaces/default", status=204)
    assert [w["name"] for w in await api.ok("GET", "workspaces")] == ["other"]


async def test_workspace_validation(api, upstream):
    await api.ok(
        "POST", "providers", {"name": "p", "type": "vllm", "endpoint": upstream.endpoint}, 201
    )
    cases = [
        ({"name": ""}, 400, "name"),
        ({"name": "default"}, 409, "default"),
        ({"name": "w", "preferred": {"provider": "ghost", "model": "m"}}, 400, "ghost"),
        ({"name": "w", "preferred": {"provider": "p", "model": "nope"}}, 400, "rec-model"),
        ({"name": "w", "preferred": {"provider": "p"}}, 400, "model"),
        ({"name": "w", "preferred": "p/rec-model"}, 400, "preferred"),
        ({"name": "w\u202e"}, 400, "name"),
        ({"name": "w\n"}, 400, "name"),
    ]
    for body, status, word in cases:
        code, error = await api("POST", "workspaces", body)
        assert code == status and word in error["message"], (body, code, error)
    assert [w["name"] for w in await api.ok("GET", "workspaces")] == ["default"]
    code, _ = await api("PUT", "active", {"name": "ghost"})
    assert code == 404
    code, _ = await api("PATCH", "workspaces/ghost", {"description": "x"})
    assert code == 404
    code, _ = await api(
        "PATCH", "workspaces/default", {"preferred": {"provider": "p", "model": "zzz"}}
    )
    assert code == 400
    assert (await api.ok("GET", "workspaces/default"))["preferred"] is None


async def test_deleted_provider_leaves_flagged_workspace(api, upstream):
    await api.ok(
        "POST", "providers", {"name": "p", "type": "vllm", "endpoint": upstream.endpoint}, 201
    )
    await api.ok(
        "PATCH", "workspaces/default", {"preferred": {"provider": "p", "model": "rec-model"}}
    )
    await api.ok("DELETE", "providers/p", status=204)
    workspace = await api.ok("GET", "workspaces/default")
    assert workspace["preferred"] == {"provider": "p", "model": "rec-model"}
    assert not workspace["preferred_ok"] and "'p'" in workspace["problem"]
    # The same provider coming back heals the workspace.
    await api.ok(
        "POST", "providers", {"name": "p", "type": "vllm", "endpoint": upstream.endpoint}, 201
    )
    assert (await api.ok("GET", "workspaces/default"))["preferred_ok"]


async def test_provider_rename_follows_into_workspaces(api, upstream):
    await api.ok(
        "POST", "providers", {"name": "p", "type": "vllm", "endpoint": upstream.endpoint}, 201
    )
    await api.ok(
        "PATCH", "workspaces/default", {"preferred": {"provider": "p", "model": "rec-model"}}
    )
    await api.ok("PATCH", "providers/p", {"name": "q"})
    workspace = await api.ok("GET", "workspaces/default")
    assert workspace["preferred"] == {"provider": "q", "model": "rec-model"}
    assert workspace["preferred_ok"]


class TestPredefinedProviders:
    @pytest.fixture
    def mux_config(self, upstream, monkeypatch):
        monkeypatch.setenv("SHIPPED_KEY", SECRET)
        return {
            "providers": [
                {
                    "name": "shipped",
                    "type": "openai",
                    "endpoint": upstream.endpoint,
                    "api_key_env": "SHIPPED_KEY",
                }
            ]
        }

    async def test_read_only_for_users(self, api):
        provider = await api.ok("GET", "providers/shipped")
        assert provider["predefined"] and provider["has_api_key"]
        for method, body in (("DELETE", None), ("PATCH", {"description": "mine"})):
            code, error = await api(method, "providers/shipped", body)
            assert code == 403 and "configuration" in error["message"]
        assert (await api.ok("POST", "providers/shipped/refresh"))["models"] == ["rec-model"]
