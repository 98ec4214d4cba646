"""Fixtures: the mux in a real Jupyter server (pytest-jupyter), real llama.cpp upstreams on
127.0.0.1 serving tiny generated models, and clients that talk to them over sockets."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import openai
import pytest

from jupyter_mux.localmodel import LocalLlamaServer, write_tiny_model

from . import servers

pytest_plugins = ["pytest_jupyter.jupyter_server"]

UPSTREAM_KEY = "sk-upstream-secret-7f3a9c"
MESSAGES = [{"role": "user", "content": "Say something."}]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    return {
        name: write_tiny_model(folder / f"{name}.gguf", seed=seed)
        for seed, name in enumerate(("tiny-a", "tiny-b"))
    }


def _serve(model: Path, alias: str, api_key: str | None = None) -> Iterator[LocalLlamaServer]:
    server = LocalLlamaServer(model, alias=alias, api_key=api_key).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama_a(tiny_models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    yield from _serve(tiny_models["tiny-a"], "tiny-a")


@pytest.fixture(scope="session")
def llama_b(tiny_models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    yield from _serve(tiny_models["tiny-b"], "tiny-b")


@pytest.fixture(scope="session")
def llama_keyed(tiny_models: dict[str, Path]) -> Iterator[LocalLlamaServer]:
    """A llama.cpp server that demands an API key, like a hosted provider."""
    yield from _serve(tiny_models["tiny-a"], "tiny-keyed", api_key=UPSTREAM_KEY)


@pytest.fixture
def free_port() -> int:
    return servers.free_port()


@pytest.fixture
def stalled_upstream() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog does) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def mux_config() -> dict[str, Any]:
    """MuxApp traits for a test; override this fixture to change them."""
    return {}


@pytest.fixture
def empty_db_url(tmp_path: Path) -> str:
    """A database with nothing in it yet: SQLite here, a fresh PostgreSQL database in
    test_postgres.py, which runs the store tests again with this fixture overridden."""
    return f"sqlite:///{tmp_path / 'mux.sqlite'}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "mux-data" / "mux.sqlite"


@pytest.fixture
def jp_server_config(db_path: Path, mux_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mux": True}},
        "MuxApp": {"db_url": f"sqlite:///{db_path}", "read_timeout": 30.0, **mux_config},
    }


@pytest.fixture
def token(jp_serverapp: Any) -> str:
    return jp_serverapp.identity_provider.token


@pytest.fixture
def server_url(jp_fetch: Any, jp_http_port: int, jp_base_url: str) -> str:
    """The running server's root URL (jp_fetch makes sure it is listening)."""
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


@pytest.fixture
def mux_url(server_url: str) -> str:
    return server_url + "mux/v1"


class Api:
    """The management API over HTTP, answering (status, parsed JSON body)."""

    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch

    async def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple:
        path, _, query = path.partition("?")
        kwargs: dict[str, Any] = {"method": method, "raise_error": False, **kw}
        if query:
            kwargs["params"] = dict(parse_qsl(query))
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = b""
        response = await self.fetch("mux", "api", *path.strip("/").split("/"), **kwargs)
        text = response.body.decode() if response.body else ""
        return response.code, json.loads(text) if text else None

    async def use(self, provider: dict[str, Any], model: str, workspace: str = "default") -> Any:
        """Add `provider` and make it serve `workspace` with `model`."""
        created = await self.ok("POST", "providers", provider, 201)
        preferred = {"provider": provider["name"], "model": model}
        await self.ok("PATCH", f"workspaces/{workspace}", {"preferred": preferred})
        return created

    async def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        code, data = await self(method, path, body)
        assert code == status, (code, data)
        return data


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    return Api(jp_fetch)


@pytest.fixture
def two_llamas(
    api: Api, llama_a: LocalLlamaServer, llama_b: LocalLlamaServer, jp_asyncio_loop: Any
) -> Api:
    """Providers `llama-a` and `llama-b`, workspaces `wa` and `wb` preferring them, `wa`
    active. (pytest-jupyter runs async tests, not async fixtures: this one drives the
    server's loop itself, which is idle while fixtures are set up.)"""
    return jp_asyncio_loop.run_until_complete(_two_llamas(api, llama_a, llama_b))


async def _two_llamas(api: Api, llama_a: LocalLlamaServer, llama_b: LocalLlamaServer) -> Api:
    for name, server in (("llama-a", llama_a), ("llama-b", llama_b)):
        provider = await api.ok(
            "POST",
            "providers",
            {"name": name, "type": "llamacpp", "endpoint": server.endpoint},
            status=201,
        )
        assert provider["status"] == "ok", provider
    await api.ok(
        "POST",
        "workspaces",
        {"name": "wa", "preferred": {"provider": "llama-a", "model": "tiny-a"}},
        201,
    )
    await api.ok(
        "POST",
        "workspaces",
        {"name": "wb", "preferred": {"provider": "llama-b", "model": "tiny-b"}},
        201,
    )
    await api.ok("PUT", "active", {"name": "wa"})
    return api


_clients: list[openai.AsyncOpenAI] = []


def client(base_url: str, token: str, **kw: Any) -> openai.AsyncOpenAI:
    """An async openai SDK client, closed after the test (see close_clients)."""
    _clients.append(openai.AsyncOpenAI(base_url=base_url, api_key=token, max_retries=0, **kw))
    return _clients[-1]


@pytest.fixture(autouse=True)
def close_clients(jp_asyncio_loop: Any) -> Iterator[None]:
    """Close each test's clients on the loop they ran on, before pytest-jupyter closes it."""
    yield
    jp_asyncio_loop.run_until_complete(asyncio.gather(*(c.close() for c in _clients)))
    _clients.clear()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def mux_chat(http: httpx.AsyncClient, mux_url: str, token: str, **body: Any) -> Any:
    """POST a chat completion through the mux; `body` adds to (or replaces) the messages."""
    return await http.post(
        f"{mux_url}/chat/completions", headers=bearer(token), json={"messages": MESSAGES, **body}
    )


def mux_chat_stream(http: httpx.AsyncClient, mux_url: str, token: str, **body: Any) -> Any:
    """A streamed chat completion through the mux, to open with `async with`."""
    return http.stream(
        "POST",
        f"{mux_url}/chat/completions",
        headers=bearer(token),
        json={"messages": MESSAGES, "stream": True, **body},
    )


def data_events(text: str) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]
