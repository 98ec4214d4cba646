"""Kernels and terminals the server starts are pre-wired for the mux (`MuxApp.export_env`):
`OpenAI()` and `anthropic.Anthropic()` with no arguments answer through it, with a mux key
the server made for itself, and a user's own variables are left alone."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_mux.models import KeyCreate

from .fake_ollama import FakeOllama, reply_pieces

MODEL = "llama3.2:1b"
FAMILIES = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_KEY",
)
SERVER_KEY = "kernels and terminals"

KERNEL_CODE = """
import anthropic, openai, jupyter_mux
ask = [{"role": "user", "content": "Say something."}]
print("openai:", openai.OpenAI(max_retries=0).chat.completions.create(
    model="mux", messages=ask).choices[0].message.content)
print("anthropic:", anthropic.Anthropic(max_retries=0).messages.create(
    model="mux", max_tokens=16, messages=ask).content[0].text)
print("helper:", jupyter_mux.openai_client(max_retries=0).chat.completions.create(
    model="mux", messages=ask).choices[0].message.content)
"""


def mux_app(serverapp: Any) -> Any:
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_mux"]))


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def users_env() -> dict[str, str]:
    """What the user has set before starting Jupyter; override to set some."""
    return {}


@pytest.fixture
def jp_server_config(jp_server_config, monkeypatch, users_env):
    """The server starts in an environment without the AI variables, plus `users_env`."""
    for name in FAMILIES:
        monkeypatch.delenv(name, raising=False)
    for name, value in users_env.items():
        monkeypatch.setenv(name, value)
    return jp_server_config


@pytest.fixture
def with_ollama(api, ollama, jp_asyncio_loop) -> Any:
    provider = {"name": "ola", "type": "ollama", "endpoint": ollama.endpoint}
    return jp_asyncio_loop.run_until_complete(api.use(provider, MODEL))


async def test_kernel_answers_through_the_mux_with_no_configuration(
    api, with_ollama, jp_fetch, jp_serverapp, server_url
):
    assert os.environ["OPENAI_BASE_URL"] == server_url + "mux/v1"
    assert os.environ["ANTHROPIC_BASE_URL"] == server_url + "mux"
    secret = os.environ["OPENAI_API_KEY"]
    assert secret.startswith("mux-") and os.environ["ANTHROPIC_AUTH_TOKEN"] == secret
    (key,) = await api.ok("GET", "keys")
    assert key["name"] == SERVER_KEY and secret.startswith(key["prefix"])

    started = await jp_fetch("api", "kernels", method="POST", body=json.dumps({}))
    kernel_id = json.loads(started.body)["id"]
    kc = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    kc.start_channels()
    printed: list[str] = []

    def output(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            printed.append("\n".join(msg["content"]["traceback"]))

    try:
        await kc.wait_for_ready(timeout=120)
        reply = await kc.execute_interactive(KERNEL_CODE, output_hook=output, timeout=120)
    finally:
        kc.stop_channels()
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)
    text = "".join(printed)
    assert reply["content"]["status"] == "ok", text
    answer = "".join(reply_pieces(MODEL))
    for line in ("openai", "anthropic", "helper"):
        assert f"{line}: {answer}\n" in text, text

    await mux_app(jp_serverapp)._flush()
    by_key = {r["key"]: r for r in (await api.ok("GET", "usage?group_by=key"))["rows"]}
    assert by_key[key["id"]]["requests"] == 3


async def test_terminal_shell_sees_the_variables(api, jp_fetch, jp_http_port, jp_base_url, token):
    started = await jp_fetch("api", "terminals", method="POST", body=json.dumps({}))
    name = json.loads(started.body)["name"]
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}terminals/websocket/{name}"
    request = HTTPRequest(url, headers={"Authorization": f"token {token}"})
    conn = await websocket_connect(request)
    try:
        conn.write_message(
            json.dumps(["stdin", 'echo "AT=$OPENAI_BASE_URL|$ANTHROPIC_BASE_URL"\r'])
        )
        seen = ""
        expected = f"AT={os.environ['OPENAI_BASE_URL']}|{os.environ['ANTHROPIC_BASE_URL']}"
        while expected not in seen:
            message = await conn.read_message()
            assert message is not None, seen  # the terminal closed before answering
            kind, *content = json.loads(message)
            if kind == "stdout":
                seen += content[0]
    finally:
        conn.close()
        await jp_fetch("api", "terminals", name, method="DELETE")


class TestTheUsersOwnVariables:
    @pytest.fixture
    def users_env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": "sk-the-users-own", "ANTHROPIC_API_KEY": "sk-ant-users-own"}

    async def test_are_never_overridden(self, api):
        (key,) = await api.ok("GET", "keys")  # the server's key, for what it did export
        assert os.environ["OPENAI_API_KEY"] == "sk-the-users-own"
        assert "OPENAI_BASE_URL" not in os.environ
        assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-users-own"
        assert "ANTHROPIC_BASE_URL" not in os.environ and "ANTHROPIC_AUTH_TOKEN" not in os.environ
        assert key["name"] == SERVER_KEY


class TestTurnedOff:
    @pytest.fixture
    def mux_config(self) -> dict[str, Any]:
        return {"export_env": False}

    async def test_nothing_is_exported_and_no_key_made(self, api):
        assert await api.ok("GET", "keys") == []
        assert not any(name in os.environ for name in FAMILIES)


async def test_a_restart_replaces_the_servers_key(api, jp_serverapp):
    """One key per server: a start makes a new one and revokes the last."""
    (first,) = await api.ok("GET", "keys")
    service = mux_app(jp_serverapp).service
    secret = service.create_key_now(KeyCreate(name=SERVER_KEY), replacing=SERVER_KEY)
    await service._reload()
    (second,) = await api.ok("GET", "keys")
    assert second["id"] != first["id"] and secret.startswith(second["prefix"])
