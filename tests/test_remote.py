"""Remote mode (`c.MuxApp.hub_service`) without a Hub: a Jupyter server with the extension
forwards every `/mux/` route to a stand-in for the Hub service, which records what reaches
it. The real Hub, service and user's server are in test_hub_service.py; here are the
forwarder's rules: which credentials go out (only the server's Hub token), which headers
and query parameters, streams passed on as they come, and the errors of a service that
refuses the server or does not answer."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from .loopback import LoopbackHandler, LoopbackServer

SERVER_TOKEN = "the-servers-hub-token"
PREFIX = "/services/mux/"
# The variables of the two client families export_env sets (app.OPENAI_ENV, ANTHROPIC_ENV).
FAMILIES = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_API_KEY",
)


class FakeService(LoopbackServer):
    """Answers as the mux service would, to `token SERVER_TOKEN` only."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__()

    def _handler_class(self) -> type[LoopbackHandler]:
        service = self

        class Handler(LoopbackHandler):
            def _record(self) -> bool:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                service.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                if self.headers.get("Authorization") != f"token {SERVER_TOKEN}":
                    self._send(401, b'{"error": {"message": "no"}}', "application/json")
                    return False
                return True

            def do_GET(self) -> None:
                if self._record():
                    self._send(200, b'{"object": "list", "data": []}', "application/json")

            def do_DELETE(self) -> None:
                if self._record():
                    self.send_response(204)
                    self.end_headers()

            def do_POST(self) -> None:
                if not self._record():
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("X-Mux-Model", "served-model")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for event in (b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', b"data: [DONE]\n\n"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Mux-Workspace", "default")
                self.end_headers()
                self.wfile.write(body)

        return Handler


@pytest.fixture
def service() -> Iterator[FakeService]:
    with FakeService() as fake:
        yield fake


@pytest.fixture
def server_token() -> str:
    return SERVER_TOKEN


@pytest.fixture
def users_env() -> dict[str, str]:
    """AI variables the user set before the server started; override to set some."""
    return {}


@pytest.fixture
def export_env() -> bool:
    return True


@pytest.fixture
def mux_config(
    service: FakeService,
    server_token: str,
    users_env: dict[str, str],
    export_env: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    for name in FAMILIES:
        monkeypatch.delenv(name, raising=False)
    for name, value in users_env.items():
        monkeypatch.setenv(name, value)
    if server_token:
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", server_token)
    else:
        monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    return {
        "hub_service": "mux",
        "hub_service_url": service.endpoint + PREFIX,
        "export_env": export_env,
    }


async def test_requests_go_out_with_the_servers_hub_token_only(
    jp_fetch: Any, token: str, service: FakeService
) -> None:
    answer = await jp_fetch(
        "mux",
        "v1",
        "models",
        params={"token": token, "limit": "5"},
        headers={"x-api-key": token, "anthropic-version": "2023-06-01", "Cookie": "a=b"},
    )
    assert answer.code == 200
    assert json.loads(answer.body) == {"object": "list", "data": []}
    assert answer.headers["X-Mux-Workspace"] == "default"
    (request,) = service.requests
    assert request["path"] == PREFIX + "mux/v1/models?limit=5"
    headers = request["headers"]
    assert headers["authorization"] == f"token {SERVER_TOKEN}"
    assert headers["anthropic-version"] == "2023-06-01"
    assert "x-api-key" not in headers and "cookie" not in headers
    assert token not in json.dumps(request["headers"])


async def test_streams_and_bodies_pass_through(jp_fetch: Any, service: FakeService) -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    answer = await jp_fetch(
        "mux",
        "w",
        "notes",
        "v1",
        "chat",
        "completions",
        method="POST",
        body=json.dumps(body),
        headers={"Content-Type": "application/json", "X-Mux-File": "a.py"},
    )
    assert answer.code == 200
    assert answer.headers["Content-Type"] == "text/event-stream"
    assert answer.headers["X-Mux-Model"] == "served-model"
    assert answer.body.decode().count("data: ") == 3
    (request,) = service.requests
    assert request["path"] == PREFIX + "mux/w/notes/v1/chat/completions"
    assert json.loads(request["body"]) == body
    assert request["headers"]["x-mux-file"] == "a.py"


async def test_management_writes_pass_through(jp_fetch: Any, service: FakeService) -> None:
    answer = await jp_fetch("mux", "api", "workspaces", "old", method="DELETE")
    assert answer.code == 204
    assert service.requests[0]["method"] == "DELETE"


async def test_no_jupyter_token_nothing_forwarded(jp_fetch: Any, service: FakeService) -> None:
    answer = await jp_fetch(
        "mux", "v1", "models", headers={"Authorization": "token wrong"}, raise_error=False
    )
    assert answer.code == 401
    assert json.loads(answer.body)["error"]["code"] == "invalid_api_key"
    assert service.requests == []


@pytest.mark.parametrize("server_token", ["not-the-one"])
async def test_a_service_refusing_the_server_is_a_502_naming_the_scope(
    jp_fetch: Any, server_token: str
) -> None:
    answer = await jp_fetch("mux", "v1", "models", raise_error=False)
    assert answer.code == 502
    assert "access:services!service=mux" in json.loads(answer.body)["error"]["message"]


async def test_a_service_that_does_not_answer_is_a_502(jp_fetch: Any, service: FakeService) -> None:
    service.__exit__()
    answer = await jp_fetch("mux", "api", "workspaces", raise_error=False)
    assert answer.code == 502
    assert "The mux service 'mux'" in json.loads(answer.body)["message"]


@pytest.mark.parametrize("server_token", [""])
async def test_without_a_hub_token_remote_mode_is_a_503(jp_fetch: Any, server_token: str) -> None:
    answer = await jp_fetch("mux", "v1", "models", raise_error=False)
    assert answer.code == 503
    assert "JUPYTERHUB_API_TOKEN" in json.loads(answer.body)["error"]["message"]


async def test_kernels_get_this_servers_mux_and_its_hub_token(
    jp_fetch: Any, server_url: str
) -> None:
    """Remote mode pre-wires kernels too, with nothing they did not hold: the base URL is
    this server's (which forwards), the key the Hub token they inherit anyway."""
    await jp_fetch("mux", "v1", "models")  # the server is up and its callbacks have run
    assert os.environ["OPENAI_BASE_URL"] == server_url + "mux/v1"
    assert os.environ["OPENAI_API_KEY"] == SERVER_TOKEN
    assert os.environ["ANTHROPIC_BASE_URL"] == server_url + "mux"
    assert os.environ["ANTHROPIC_AUTH_TOKEN"] == SERVER_TOKEN


@pytest.mark.parametrize("users_env", [{"ANTHROPIC_API_KEY": "sk-ant-users-own"}])
async def test_a_users_own_family_is_left_alone(jp_fetch: Any, users_env: dict[str, str]) -> None:
    await jp_fetch("mux", "v1", "models")
    assert os.environ["OPENAI_API_KEY"] == SERVER_TOKEN
    assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-users-own"
    assert "ANTHROPIC_BASE_URL" not in os.environ and "ANTHROPIC_AUTH_TOKEN" not in os.environ


@pytest.mark.parametrize("export_env", [False])
async def test_export_env_off_exports_nothing(jp_fetch: Any, export_env: bool) -> None:
    await jp_fetch("mux", "v1", "models")
    assert not any(name in os.environ for name in FAMILIES)


@pytest.mark.parametrize("server_token", [""])
async def test_without_a_hub_token_nothing_is_exported(jp_fetch: Any, server_token: str) -> None:
    """A server that cannot forward gives kernels no URL that would only answer 503."""
    answer = await jp_fetch("mux", "v1", "models", raise_error=False)
    assert answer.code == 503
    assert not any(name in os.environ for name in FAMILIES)
