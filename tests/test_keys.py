"""Scoped mux keys (API.md section 5) against a real Jupyter server and the fake Ollama:
made, listed, used by the OpenAI and Anthropic SDKs, pinned, budgeted, revoked, and kept
out of everything but the mux routes, the logs, the answers and the database."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anthropic
import httpx
import openai
import pytest
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import IdentityProvider, User

from jupyter_mux.models import KeyCreate
from jupyter_mux.secrets import SecretBox
from jupyter_mux.service import MuxService
from jupyter_mux.service.keys import KEY_PREFIX
from jupyter_mux.store import Store

from .conftest import MESSAGES, client
from .fake_ollama import FakeOllama, reply_pieces

MODEL_A, MODEL_B = "llama3.2:1b", "qwen2.5-coder:0.5b"
KEY_FIELDS = {
    "id",
    "name",
    "prefix",
    "workspace",
    "expires_at",
    "budget_usd",
    "spent_usd",
    "created_at",
    "last_used_at",
}


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def mux_config() -> dict[str, Any]:
    return {"export_env": False}  # these tests make their own keys


@pytest.fixture
def two_workspaces(api: Any, ollama: FakeOllama, jp_asyncio_loop: Any) -> Any:
    """Provider `ola` (the fake Ollama); workspaces `wa` and `wb` answering with its two
    models (each answer names its model), `wa` active."""

    async def setup() -> Any:
        await api.ok(
            "POST", "providers", {"name": "ola", "type": "ollama", "endpoint": ollama.endpoint}, 201
        )
        for name, model in (("wa", MODEL_A), ("wb", MODEL_B)):
            preferred = {"provider": "ola", "model": model}
            await api.ok("POST", "workspaces", {"name": name, "preferred": preferred}, 201)
        await api.ok("PUT", "active", {"name": "wa"})
        return api

    return jp_asyncio_loop.run_until_complete(setup())


@pytest.fixture
def flush(jp_serverapp: Any) -> Any:
    """Write buffered usage and key use now (the server does it every second)."""
    app = jp_serverapp.extension_manager.extension_apps["jupyter_mux"]
    return next(iter(app))._flush


def said(model: str) -> str:
    return "".join(reply_pieces(model))


def claude(mux_url: str, secret: str, **kw: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=mux_url.removesuffix("/v1"), api_key=secret, max_retries=0, **kw
    )


async def chat(base_url: str, secret: str, **kw: Any) -> Any:
    return await client(base_url, secret).chat.completions.create(
        model="mux", messages=MESSAGES, **kw
    )


async def test_key_lifecycle(two_workspaces, mux_url, flush):
    api = two_workspaces
    created = await api.ok("POST", "keys", {"name": "my agent"}, 201)
    secret = created.pop("secret")
    assert secret.startswith(KEY_PREFIX) and len(secret) > 40
    assert set(created) == KEY_FIELDS and secret.startswith(created["prefix"])
    assert created["prefix"] != secret and created["spent_usd"] == 0
    assert created["last_used_at"] is None and created["workspace"] is None

    # The OpenAI SDK (Bearer) and the Anthropic SDK (x-api-key) both get in with it.
    answer = await chat(mux_url, secret)
    assert answer.choices[0].message.content == said(MODEL_A)
    message = await claude(mux_url, secret).messages.create(
        model="mux", max_tokens=8, messages=MESSAGES
    )
    assert message.content[0].text == said(MODEL_A)
    models = await client(mux_url, secret).models.list()
    assert models.data

    await flush()
    (listed,) = await api.ok("GET", "keys")
    assert set(listed) == KEY_FIELDS and listed["id"] == created["id"]
    assert listed["last_used_at"] is not None
    by_key = await api.ok("GET", "usage?group_by=key")
    rows = {r["key"]: r for r in by_key["rows"]}
    assert rows[created["id"]]["requests"] == 2

    assert await api("DELETE", f"keys/{created['id']}") == (204, None)
    with pytest.raises(openai.AuthenticationError) as refused:
        await chat(mux_url, secret)
    assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError):
        await claude(mux_url, secret).messages.create(model="mux", max_tokens=8, messages=MESSAGES)
    assert await api.ok("GET", "keys") == []
    status, body = await api("DELETE", f"keys/{created['id']}")
    assert status == 404 and created["id"] in body["message"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "k", "workspace": "no such/name"}, "workspace"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": "soon"}, "expires_at"),
        ({"name": "k", "budget_usd": -1}, "budget_usd"),
        ({"name": "k", "secret": "mux-mine"}, "secret"),
    ],
)
async def test_bad_key_requests_name_the_field(api, body, field):
    status, answer = await api("POST", "keys", body)
    assert status == 400 and field in answer["message"], answer
    assert await api.ok("GET", "keys") == []


async def test_expired_key_is_refused_on_the_next_request(two_workspaces, mux_url):
    expires = datetime.now(timezone.utc) + timedelta(seconds=2)
    key = await two_workspaces.ok(
        "POST", "keys", {"name": "brief", "expires_at": expires.isoformat()}, 201
    )
    assert datetime.fromisoformat(key["expires_at"]) == expires
    assert (await chat(mux_url, key["secret"])).choices
    # Wait out the expiry, then the very next request is refused.
    await asyncio.sleep((expires - datetime.now(timezone.utc)).total_seconds() + 0.1)
    assert datetime.now(timezone.utc) > expires
    with pytest.raises(openai.AuthenticationError) as refused:
        await chat(mux_url, key["secret"])
    assert "expired" in refused.value.message


async def test_pinned_key(two_workspaces, mux_url, server_url):
    key = await two_workspaces.ok("POST", "keys", {"name": "pinned", "workspace": "wb"}, 201)
    secret = key["secret"]
    # The active workspace (wa) and the header give way to the key's workspace.
    answer = await chat(mux_url, secret, extra_headers={"X-Mux-Workspace": "wa"})
    assert answer.choices[0].message.content == said(MODEL_B)
    assert (await chat(server_url + "mux/w/wb/v1", secret)).choices
    with pytest.raises(openai.PermissionDeniedError) as refused:
        await chat(server_url + "mux/w/wa/v1", secret)
    assert refused.value.code == "workspace_forbidden" and "'wb'" in refused.value.message
    with pytest.raises(anthropic.PermissionDeniedError):
        await claude(server_url + "mux/w/wa/v1", secret).messages.create(
            model="mux", max_tokens=8, messages=MESSAGES
        )


async def test_a_pin_names_a_workspace_and_follows_its_renames(two_workspaces, mux_url):
    api = two_workspaces
    status, body = await api("POST", "keys", {"name": "k", "workspace": "ghost"})
    assert status == 404 and "ghost" in body["message"]
    key = await api.ok("POST", "keys", {"name": "k", "workspace": "wb"}, 201)
    await api.ok("PATCH", "workspaces/wb", {"name": "wb2"})
    assert [k["workspace"] for k in await api.ok("GET", "keys")] == ["wb2"]
    answer = await chat(mux_url, key["secret"])
    assert answer.choices[0].message.content == said(MODEL_B)


async def test_budget(two_workspaces, mux_url, token):
    api = two_workspaces
    price = {"model": MODEL_A, "prompt_per_million": 1000, "completion_per_million": 1000}
    await api.ok("PUT", "providers/ola/prices", price)
    key = await api.ok("POST", "keys", {"name": "capped", "budget_usd": 0.001}, 201)
    secret = key["secret"]
    answer = await chat(mux_url, secret)  # priced at 0.001 USD a token: over at once
    spent = 0.001 * (answer.usage.prompt_tokens + answer.usage.completion_tokens)
    (listed,) = await api.ok("GET", "keys")
    assert listed["spent_usd"] == pytest.approx(spent) and spent >= 0.001

    with pytest.raises(openai.RateLimitError) as refused:
        await chat(mux_url, secret)
    error = refused.value
    assert error.status_code == 429 and error.code == "budget_exceeded"
    assert "0.001 USD" in error.message and "capped" in error.message
    with pytest.raises(anthropic.RateLimitError) as refused_too:
        await claude(mux_url, secret).messages.create(model="mux", max_tokens=8, messages=MESSAGES)
    body = refused_too.value.body
    assert body["error"]["type"] == "rate_limit_error" and "0.001 USD" in body["error"]["message"]
    # Another key, and the Jupyter token, are not held to it.
    assert (await chat(mux_url, token)).choices
    other = await api.ok("POST", "keys", {"name": "free"}, 201)
    assert (await chat(mux_url, other["secret"])).choices


async def test_spend_survives_a_restart(two_workspaces, mux_url, jp_serverapp, flush):
    """The running spend is counted again from the usage rows when the server starts."""
    api = two_workspaces
    price = {"model": MODEL_A, "prompt_per_million": 1000, "completion_per_million": 1000}
    await api.ok("PUT", "providers/ola/prices", price)
    key = await api.ok("POST", "keys", {"name": "k", "budget_usd": 100}, 201)
    await chat(mux_url, key["secret"])
    await flush()
    service = jp_serverapp.web_app.settings["jupyter_mux_service"]
    (listed,) = await api.ok("GET", "keys")
    counted = await asyncio.to_thread(service.spend_from_usage)
    assert counted == {key["id"]: pytest.approx(listed["spent_usd"])}
    assert listed["spent_usd"] > 0


# -- a mux key reaches the mux and nothing else ------------------------------------------------


def credential_headers(secret: str) -> list[dict[str, str]]:
    return [
        {"Authorization": f"Bearer {secret}"},
        {"Authorization": f"token {secret}"},
        {"x-api-key": secret},
    ]


async def test_a_mux_key_reaches_nothing_else(api, server_url, mux_url):
    secret = (await api.ok("POST", "keys", {"name": "scoped"}, 201))["secret"]
    refused = [
        ("GET", "mux/api/workspaces"),
        ("GET", "mux/api/keys"),
        ("POST", "mux/api/keys"),
        ("GET", "mux/api/providers"),
        ("PUT", "mux/api/active"),
        ("GET", "api/contents"),
        ("GET", "api/contents/anything.txt"),
        ("PUT", "api/contents/planted.txt"),
        ("GET", "api/kernels"),
        ("POST", "api/kernels"),
        ("GET", "api/terminals"),
        ("POST", "api/terminals"),
        ("GET", "terminals/websocket/1"),
        ("GET", "api/sessions"),
    ]
    async with httpx.AsyncClient() as http:
        for method, path in refused:
            for headers in credential_headers(secret):
                body = json.dumps({"name": "x", "type": "file", "content": "", "format": "text"})
                answer = await http.request(
                    method, server_url + path, headers=headers, content=body
                )
                assert answer.status_code in (401, 403), (method, path, headers, answer)
            answer = await http.get(f"{server_url}{path}?token={secret}")
            assert answer.status_code in (401, 403), (path, answer)
        # ... while the mux routes take it.
        models = await http.get(mux_url + "/models", headers={"Authorization": f"Bearer {secret}"})
        assert models.status_code == 200
    assert [k["name"] for k in await api.ok("GET", "keys")] == ["scoped"]
    assert [w["name"] for w in await api.ok("GET", "workspaces")] == ["default"]


class OnlyAlice(IdentityProvider):
    """Users from somewhere else than the token (as JupyterHub's), who know nothing of
    mux keys."""

    def get_user(self, handler: Any) -> User | None:
        return User("alice") if handler.request.headers.get("Authorization") == "alice" else None


class AliceMayNotUseTheMux(Authorizer):
    """An authorizer that refuses the mux's resource to everyone."""

    def is_authorized(self, handler: Any, user: User, action: str, resource: str) -> bool:
        return resource != "jupyter_mux"


class TestUnderAnotherIdentityProviderAndAuthorizer:
    @pytest.fixture
    def jp_server_config(self, jp_server_config):
        server = {
            **jp_server_config["ServerApp"],
            "identity_provider_class": OnlyAlice,
            "authorizer_class": AliceMayNotUseTheMux,
        }
        return {**jp_server_config, "ServerApp": server}

    async def test_a_mux_key_still_reaches_the_mux_only(
        self, jp_serverapp, server_url, mux_url, ollama
    ):
        service = jp_serverapp.web_app.settings["jupyter_mux_service"]
        created = await service.create_key(KeyCreate(name="under a hub"))
        secret = created.secret
        async with httpx.AsyncClient() as http:
            alice = await http.get(mux_url + "/models", headers={"Authorization": "alice"})
            assert alice.status_code == 403  # the authorizer says no to Alice
            key = await http.get(mux_url + "/models", headers={"Authorization": f"Bearer {secret}"})
            assert key.status_code == 200 and key.json()["object"] == "list"
            for path in ("mux/api/keys", "api/contents", "api/kernels"):
                answer = await http.get(
                    server_url + path, headers={"Authorization": f"Bearer {secret}"}
                )
                assert answer.status_code == 403, path


# -- the secret is shown once, and never again ------------------------------------------------


@pytest.fixture
def every_log(jp_serverapp, caplog) -> Iterator[Any]:
    """Everything the server logs, at every level (some loggers do not propagate)."""
    loggers = [
        jp_serverapp.log,
        jp_serverapp.web_app.settings["jupyter_mux_service"].log,
        logging.getLogger("tornado.access"),
        logging.getLogger("tornado.application"),
        logging.getLogger("tornado.general"),
    ]
    caplog.set_level(logging.DEBUG)
    for log in loggers:
        log.addHandler(caplog.handler)
    yield caplog
    for log in loggers:
        log.removeHandler(caplog.handler)


async def test_the_secret_is_never_seen_again(
    two_workspaces, mux_url, server_url, db_path, every_log, flush
):
    api = two_workspaces
    key = await api.ok("POST", "keys", {"name": "secretive", "budget_usd": 5}, 201)
    secret = key["secret"]
    await chat(mux_url, secret)
    await chat(mux_url, secret, stream=True)
    async with httpx.AsyncClient() as http:
        # Refused uses are logged too; the key must not be.
        await http.get(server_url + "api/contents", headers={"Authorization": f"Bearer {secret}"})
        await http.get(mux_url + "/models", headers={"Authorization": f"Bearer {secret[:-1]}"})
    await flush()
    answers = [
        await api.ok("GET", "keys"),
        await api.ok("GET", "usage?group_by=key"),
        await api.ok("GET", "workspaces"),
    ]
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob("mux.sqlite*"))
    assert key["prefix"].encode() in raw  # the key is in there, by prefix and hash only
    assert secret.encode() not in raw and secret[len(key["prefix"]) :].encode() not in raw
    await api("DELETE", f"keys/{key['id']}")
    with pytest.raises(openai.AuthenticationError):
        await chat(mux_url, secret)
    assert secret not in json.dumps(answers)
    assert every_log.records and secret not in every_log.text


# -- servers sharing a database ---------------------------------------------------------------


async def test_key_writes_reach_other_servers_through_sync(empty_db_url, tmp_path):
    """Two servers of one user on one database: a key made or revoked on one works or stops
    working on the other after its next sync."""
    box = SecretBox.from_config("", tmp_path / "mux.key")

    def server() -> MuxService:
        service = MuxService(
            Store(empty_db_url),
            box,
            httpx.AsyncClient(),
            discovery_timeout=httpx.Timeout(1),
            log=logging.getLogger("test-keys-sync"),
        )
        service.start([])
        return service

    one, two = server(), server()
    try:
        created = await one.create_key(KeyCreate(name="shared"))
        assert one.key_for(created.secret) is not None
        assert two.key_for(created.secret) is None  # not yet synced
        await two.sync()
        assert two.key_for(created.secret).id == created.id
        await one.revoke_key(created.id)
        await two.sync()
        assert two.key_for(created.secret) is None
    finally:
        for service in (one, two):
            await service.client.aclose()
            service.close()
