"""`jupyter-mux hub-service` under a real JupyterHub.

One Hub for the module (PyPI's jupyterhub, npm's configurable-http-proxy, on loopback;
DummyAuthenticator, SimpleLocalProcessSpawner), with the mux as a managed service whose only
provider is a fake Ollama. Users alice and bob, and admin, whose API token (loaded from the
config) makes the users' tokens through the Hub's REST API. Each user gets answers through
`/services/mux/mux/v1` with their own Hub token, in OpenAI chat and Anthropic Messages;
neither sees or uses the other's workspaces or usage; nothing gets in without a Hub token
that may access the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from .fake_ollama import FakeOllama
from .servers import free_port

pytest.importorskip("jupyterhub", reason="the Hub service needs jupyterhub (the hub extra)")
CHP = shutil.which("configurable-http-proxy")
pytestmark = pytest.mark.skipif(
    CHP is None,
    reason="configurable-http-proxy is not on PATH: npm install -g configurable-http-proxy",
)

SERVICE = "mux"
ALICE_MODEL, BOB_MODEL = "llama3.2:1b", "qwen2.5-coder:0.5b"
START_TIMEOUT = 90.0
BOT_TOKEN = secrets.token_hex(16)
# Generous: the Hub, its proxy and the service share two busy cores with other tests.
http_get = functools.partial(httpx.get, timeout=30)
http_post = functools.partial(httpx.post, timeout=30)
http_delete = functools.partial(httpx.delete, timeout=30)


def write_service_config(
    path: Path, db: Path, key: str, endpoint: str, *, user_providers: bool | None = True
) -> None:
    """The admin's configuration of the service: the only place keys and database live."""
    config = f"""
c.MuxApp.db_url = "sqlite:///{db}"
c.MuxApp.encryption_key = {key!r}
c.MuxApp.providers = [{{"name": "ollama", "type": "ollama", "endpoint": {endpoint!r}}}]
"""
    if user_providers is not None:
        config += f"c.HubServiceApp.allow_user_providers = {user_providers!r}\n"
    path.write_text(config)


@dataclass
class Hub:
    url: str
    admin_token: str
    log: Path
    upstream: FakeOllama
    # Where the service writes its jpserver-<pid>.json (its pid, for the restart test).
    service_runtime: Path
    service_config: Path
    encryption_key: str

    @property
    def service_url(self) -> str:
        return f"{self.url}/services/{SERVICE}/"

    @property
    def mux_v1(self) -> str:
        return self.service_url + "mux/v1"

    def hub_api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {self.admin_token}"}
        return httpx.request(
            method, f"{self.url}/hub/api/{path}", headers=headers, timeout=30, **kwargs
        )

    def service_pid(self) -> int | None:
        """The running service's pid, from the runtime file Jupyter writes at start."""
        for info in self.service_runtime.glob("jpserver-*.json"):
            with contextlib.suppress(OSError, ValueError):
                pid = json.loads(info.read_text())["pid"]
                os.kill(pid, 0)
                return pid
        return None

    def token_for(self, user: str, **body: Any) -> str:
        """A user's API token, made by admin through the Hub's REST API."""
        answer = self.hub_api("POST", f"users/{user}/tokens", json={"note": "test", **body})
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]


def _hub_config(
    tmp: Path,
    ports: dict[str, int],
    admin_token: str,
    service_cmd: list[str],
    service_env: dict[str, str],
    server_args: list[str],
    bot_token: str,
) -> str:
    return f"""
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {ports["proxy"]}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {ports["hub"]}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.command = [{CHP!r}]
c.JupyterHub.db_url = "sqlite:///{tmp / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = "{tmp / "cookie_secret"}"
c.JupyterHub.pid_file = "{tmp / "jupyterhub.pid"}"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "simple"
c.Authenticator.allowed_users = {{"alice", "bob", "carol"}}
c.Authenticator.admin_users = {{"admin"}}
c.JupyterHub.api_tokens = {{{admin_token!r}: "admin"}}
c.JupyterHub.services = [
    # A Hub service that may access the mux: its token is not a user's.
    {{"name": "bot", "api_token": {bot_token!r}}},
    {{
        "name": {SERVICE!r},
        "url": "http://127.0.0.1:{ports["service"]}",
        "command": {service_cmd!r},
        "environment": {service_env!r},
        "oauth_no_confirm": True,
    }}
]
# Users reach the service only with this scope (the default user role has just `self`).
c.JupyterHub.load_roles = [
    {{
        "name": "user",
        "scopes": [
            "self",
            "access:services!service={SERVICE}",
            "read:services!service={SERVICE}",  # for remote mode to find the service
        ],
    }},
    {{"name": "bot", "scopes": ["access:services!service={SERVICE}"], "services": ["bot"]}},
    # Users' servers (remote mode) reach the service, and find it, with their own token
    # (a token has at most its owner's permissions: both roles have both scopes).
    {{
        "name": "server",
        "scopes": [
            "users:activity!user",
            "access:servers!server",
            "access:services!service={SERVICE}",
            "read:services!service={SERVICE}",
        ],
    }},
]
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {server_args!r}
c.Spawner.environment = {{"JUPYTER_MUX_HUB_SERVICE": {SERVICE!r}}}
c.Spawner.http_timeout = {START_TIMEOUT!r}
c.Spawner.start_timeout = {START_TIMEOUT!r}
c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / "home" / "{username}")!r}
# The Hub notices a managed service's exit (and starts it again) when it polls it, every
# 30 s, with no setting for services: poll every second, for the restart test. Should this
# private class change, the test only waits longer.
try:
    from jupyterhub.services.service import _ServiceSpawner

    _ServiceSpawner.poll_interval.default_value = 1
except Exception:
    pass
"""


def _wait(what: str, check: Any, proc: subprocess.Popen, log: Path) -> None:
    """Poll `check` until it is true; fail with the Hub's log when the Hub died or the
    deadline passed. Each poll is a real request: no fixed sleeps decide readiness."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterHub exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-5000:]}")


@contextlib.contextmanager
def running_hub(
    tmp: Path,
    upstream: FakeOllama,
    write_config: Any = write_service_config,
    extra_hub_config: str = "",
) -> Iterator[tuple[Hub, dict[str, int]]]:
    """A Hub on loopback with the mux as its managed service, configured by
    `write_config(path, db, key, endpoint)`; stopped (with its service) on exit."""
    ports = {name: free_port() for name in ("proxy", "proxy_api", "hub", "service")}
    admin_token = secrets.token_hex(16)
    config, key = tmp / "mux_config.py", Fernet.generate_key().decode()
    write_config(config, tmp / "mux" / "mux.sqlite", key, upstream.endpoint)
    command = [sys.executable, "-m", "jupyter_mux", "hub-service", f"--config={config}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    hub_config = tmp / "jupyterhub_config.py"
    # The Hub gives a managed service only a few of its own variables: these keep
    # Jupyter's files in the test's directory.
    service_env = {
        f"JUPYTER_{kind.upper()}_DIR": str(tmp / f"service-{kind}")
        for kind in ("config", "data", "runtime")
    }
    server_args = ["--allow-root"] if "--allow-root" in command else []
    hub_config.write_text(
        _hub_config(tmp, ports, admin_token, command, service_env, server_args, BOT_TOKEN)
        + extra_hub_config
    )
    log = tmp / "jupyterhub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    env["JUPYTER_CONFIG_DIR"] = str(tmp / "jupyter-config")
    env["JUPYTER_DATA_DIR"] = str(tmp / "jupyter-data")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "jupyter-runtime")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(hub_config)],
            cwd=tmp,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{ports['proxy']}"
        hub = Hub(url, admin_token, log, upstream, tmp / "service-runtime", config, key)
        _wait(
            "the Hub's API",
            lambda: httpx.get(f"{url}/hub/api/", timeout=2).status_code == 200,
            proc,
            log,
        )
        probe = hub.token_for("admin")
        _wait(
            "the mux service",
            lambda: (
                httpx.get(
                    f"{hub.mux_v1}/models",
                    headers={"Authorization": f"token {probe}"},
                    timeout=5,
                ).status_code
                == 200
            ),
            proc,
            log,
        )
        yield hub, ports
    finally:
        proc.terminate()  # the Hub stops its managed service and its proxy
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with (
        FakeOllama() as upstream,
        running_hub(tmp_path_factory.mktemp("hub"), upstream) as (
            hub,
            _,
        ),
    ):
        yield hub


@pytest.fixture(scope="module")
def tokens(hub: Hub) -> dict[str, str]:
    return {user: hub.token_for(user) for user in ("alice", "bob")}


def api(hub: Hub, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return httpx.request(method, hub.service_url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def configured(hub: Hub, tokens: dict[str, str]) -> dict[str, str]:
    """Each user points their own `default` workspace at a model of their own."""
    for user, model in (("alice", ALICE_MODEL), ("bob", BOB_MODEL)):
        answer = api(
            hub,
            tokens[user],
            "PATCH",
            "mux/api/workspaces/default",
            json={"preferred": {"provider": "ollama", "model": model}},
        )
        assert answer.status_code == 200, answer.text
    return tokens


def test_sigint_stops_the_service_without_asking() -> None:
    """The Hub stops a managed service with SIGINT. Jupyter's own handler would ask on a
    terminal whether to shut down, and a service has none: it would keep running until the
    Hub sent SIGTERM after `interrupt_timeout`."""
    from jupyter_mux.hub.app import HubServiceServer

    server = HubServiceServer()
    stopped: list[bool] = []
    server.stop = lambda from_signal=False: stopped.append(from_signal)  # type: ignore[method-assign]
    server._handle_sigint(signal.SIGINT, None)
    assert stopped == [True]


def test_sigint_is_handled_when_inherited_ignored() -> None:
    """Started in the background (a CI job, a service manager), the service inherits SIGINT
    ignored and has no terminal: it still takes the Hub's SIGINT as a stop."""
    from jupyter_mux.hub.app import HubServiceServer

    server = HubServiceServer()
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        server.init_signal()
        assert signal.getsignal(signal.SIGINT) == server._handle_sigint
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize(("user", "model"), [("alice", ALICE_MODEL), ("bob", BOB_MODEL)])
def test_each_user_gets_answers_in_openai_chat(
    hub: Hub, configured: dict[str, str], user: str, model: str
) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=hub.mux_v1, api_key=configured[user])
    answer = client.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": "hi"}]
    )
    assert model in answer.choices[0].message.content
    stream = client.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert model in text


@pytest.mark.parametrize(("user", "model"), [("alice", ALICE_MODEL), ("bob", BOB_MODEL)])
def test_each_user_gets_answers_in_anthropic_messages(
    hub: Hub, configured: dict[str, str], user: str, model: str
) -> None:
    anthropic = pytest.importorskip("anthropic")
    # The SDK sends the Hub token as x-api-key.
    client = anthropic.Anthropic(base_url=hub.service_url + "mux", api_key=configured[user])
    message = client.messages.create(
        model="anything", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert model in message.content[0].text


@pytest.mark.parametrize(("user", "model"), [("alice", ALICE_MODEL), ("bob", BOB_MODEL)])
def test_each_user_gets_answers_in_responses_and_embeddings(
    hub: Hub, configured: dict[str, str], user: str, model: str
) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=hub.mux_v1, api_key=configured[user])
    answer = client.responses.create(model="anything", input="hi")
    assert model in answer.output_text
    again = client.responses.create(model="anything", input="again", previous_response_id=answer.id)
    assert model in again.output_text
    events = list(client.responses.create(model="anything", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert model in events[-1].response.output_text
    vectors = client.embeddings.create(model="anything", input=["one", "two"])
    assert len(vectors.data) == 2 and vectors.data[0].embedding


def test_users_do_not_see_each_others_workspaces(hub: Hub, configured: dict[str, str]) -> None:
    alice, bob = configured["alice"], configured["bob"]
    made = api(hub, alice, "POST", "mux/api/workspaces", json={"name": "alice-only"})
    assert made.status_code == 201, made.text
    assert api(hub, alice, "PUT", "mux/api/active", json={"name": "default"}).status_code == 200

    names = {w["name"] for w in api(hub, bob, "GET", "mux/api/workspaces").json()}
    assert names == {"default"}
    assert api(hub, bob, "GET", "mux/api/workspaces/alice-only").status_code == 404
    assert api(hub, bob, "PUT", "mux/api/active", json={"name": "alice-only"}).status_code == 404
    pinned = api(
        hub,
        bob,
        "POST",
        "mux/w/alice-only/v1/chat/completions",
        json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert pinned.status_code == 404
    assert pinned.json()["error"]["message"]
    # Bob's own workspace of that name is his, apart from alice's.
    assert (
        api(hub, bob, "POST", "mux/api/workspaces", json={"name": "alice-only"}).status_code == 201
    )
    alices = api(hub, alice, "GET", "mux/api/workspaces/alice-only").json()
    assert alices["preferred"] is None


def test_users_see_only_their_own_usage(hub: Hub, configured: dict[str, str]) -> None:
    alice, bob = configured["alice"], configured["bob"]

    def usage(token: str) -> dict[str, Any]:
        return api(hub, token, "GET", "mux/api/usage?group_by=model").json()

    before = usage(alice)["totals"]["requests"]
    body = {"model": "x", "messages": [{"role": "user", "content": "count me"}]}
    for _ in range(3):
        answer = api(hub, alice, "POST", "mux/v1/chat/completions", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Mux-Model"] == ALICE_MODEL
    deadline = time.monotonic() + 20
    while usage(alice)["totals"]["requests"] < before + 3:
        assert time.monotonic() < deadline, "alice's usage was never recorded"
        time.sleep(0.25)  # usage is written by a periodic flush; this polls its result
    # Both have used the mux (the tests above): each sees only their own model's rows.
    alice_models = {row["key"] for row in usage(alice)["rows"]}
    bob_models = {row["key"] for row in usage(bob)["rows"]}
    assert ALICE_MODEL in alice_models and BOB_MODEL not in alice_models
    assert BOB_MODEL in bob_models and ALICE_MODEL not in bob_models


def test_a_user_provider_stays_theirs(hub: Hub, configured: dict[str, str]) -> None:
    alice, bob = configured["alice"], configured["bob"]
    made = api(
        hub,
        alice,
        "POST",
        "mux/api/providers",
        json={"name": "alice-ollama", "type": "ollama", "endpoint": hub.upstream.endpoint},
    )
    assert made.status_code == 201, made.text
    assert {p["name"] for p in api(hub, bob, "GET", "mux/api/providers").json()} == {"ollama"}
    assert api(hub, bob, "GET", "mux/api/providers/alice-ollama").status_code == 404
    # The shared provider of the service's configuration is read-only for users.
    assert api(hub, bob, "DELETE", "mux/api/providers/ollama").status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-hub-token"},
        {"Authorization": "token not-a-hub-token"},
        {"x-api-key": "not-a-hub-token"},
    ],
    ids=["none", "bearer", "token", "x-api-key"],
)
def test_no_hub_token_no_answer(hub: Hub, headers: dict[str, str]) -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    chat = http_post(f"{hub.mux_v1}/chat/completions", json=body, headers=headers)
    assert chat.status_code == 401
    assert chat.json()["error"]["code"] == "invalid_api_key"
    assert "JupyterHub API token" in chat.json()["error"]["message"]
    messages = http_post(
        f"{hub.mux_v1}/messages",
        json={**body, "max_tokens": 8},
        headers={**headers, "anthropic-version": "2023-06-01"},
    )
    assert messages.status_code == 401
    assert messages.json()["error"]["type"] == "authentication_error"
    models = http_get(f"{hub.mux_v1}/models", headers=headers)
    assert models.status_code == 401
    management = http_get(hub.service_url + "mux/api/workspaces", headers=headers)
    assert management.status_code in (401, 403)
    assert json.loads(management.text)["message"]


def test_a_hub_token_without_access_to_the_service_is_refused(
    hub: Hub, tokens: dict[str, str]
) -> None:
    limited = hub.token_for("alice", scopes=["read:users:name!user=alice"])
    answer = http_get(f"{hub.mux_v1}/models", headers={"Authorization": f"token {limited}"})
    assert answer.status_code == 401
    assert answer.json()["error"]["message"]


def test_a_hub_services_token_is_refused(hub: Hub) -> None:
    """Only users have workspaces here: a service's name could be a user's."""
    answer = http_get(f"{hub.mux_v1}/models", headers={"Authorization": f"token {BOT_TOKEN}"})
    assert answer.status_code == 403
    assert "Hub users" in answer.json()["error"]["message"]


def test_a_users_first_requests_in_parallel_open_one_tenant(hub: Hub) -> None:
    carol = hub.token_for("carol")

    def models(_: int) -> int:
        return api(hub, carol, "GET", "mux/v1/models").status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(models, range(6))) == [200] * 6
    assert hub.log.read_text().count("serving Hub user carol") == 1
    names = [w["name"] for w in api(hub, carol, "GET", "mux/api/workspaces").json()]
    assert names == ["default"]


def test_kept_responses_are_their_users_own(hub: Hub, configured: dict[str, str]) -> None:
    made = api(
        hub, configured["alice"], "POST", "mux/v1/responses", json={"model": "x", "input": "hi"}
    )
    assert made.status_code == 200, made.text
    response_id = made.json()["id"]
    path = f"mux/v1/responses/{response_id}"
    assert api(hub, configured["alice"], "GET", path).status_code == 200
    assert api(hub, configured["bob"], "GET", path).status_code == 404
    follow = {"model": "x", "input": "and?", "previous_response_id": response_id}
    assert api(hub, configured["bob"], "POST", "mux/v1/responses", json=follow).status_code in (
        400,
        404,
    )


def test_only_the_mux_is_served(hub: Hub, tokens: dict[str, str]) -> None:
    """No Jupyter contents, kernels or terminals in the process that holds the keys."""
    for path in ("api/contents", "api/kernels", "api/terminals", "api/sessions", "lab"):
        answer = api(hub, tokens["alice"], "GET", path)
        assert answer.status_code in (403, 404), (path, answer.status_code)


def test_browsers_sign_in_with_the_hubs_oauth(hub: Hub, configured: dict[str, str]) -> None:
    with httpx.Client(base_url=hub.url, follow_redirects=True, timeout=30) as browser:
        browser.get("/hub/login")
        login = browser.post(
            "/hub/login",
            data={"username": "alice", "password": "x", "_xsrf": browser.cookies["_xsrf"]},
        )
        assert login.status_code == 200, login.text
        # The service's page sends the browser through the Hub's OAuth and back.
        page = browser.get(f"/services/{SERVICE}/")
        assert page.status_code == 200, page.text
        assert page.json()["user"] == "alice"
        assert page.json()["openai_base_url"].endswith(f"/services/{SERVICE}/mux/v1")
        # The OAuth cookie authenticates the management API as alice...
        names = {w["name"] for w in browser.get(f"/services/{SERVICE}/mux/api/workspaces").json()}
        assert "alice-only" in names
        # ...but never a write without the XSRF token (another site's form could send it).
        write = browser.put(f"/services/{SERVICE}/mux/api/active", json={"name": "default"})
        assert write.status_code == 403


def _ready(hub: Hub, user: str) -> bool:
    server = hub.hub_api("GET", f"users/{user}").json().get("servers", {}).get("")
    return bool(server and server.get("ready"))


def test_remote_mode_users_server_forwards_to_the_service(
    hub: Hub, configured: dict[str, str]
) -> None:
    """alice's own server, started by the Hub with JUPYTER_MUX_HUB_SERVICE, holds nothing
    of the mux but forwards every /mux/ route to the service as alice."""
    alice = configured["alice"]
    started = hub.hub_api("POST", "users/alice/server")
    assert started.status_code in (201, 202), started.text
    deadline = time.monotonic() + START_TIMEOUT
    while not _ready(hub, "alice"):
        assert time.monotonic() < deadline, hub.log.read_text()[-5000:]
        time.sleep(0.5)
    try:
        # Nothing secret reaches alice's server: not in its environment, and it keeps no
        # store (the mux's data directory stays empty).
        state = hub.hub_api("GET", "users/alice").json()["servers"][""].get("state") or {}
        if state.get("pid"):
            environ = Path(f"/proc/{state['pid']}/environ")
            if environ.exists():
                assert hub.encryption_key.encode() not in environ.read_bytes()
        home = hub.service_config.parent / "home" / "alice"
        assert not list(home.rglob("mux.sqlite")), "remote mode opened a store"
        assert not list(home.rglob("mux.key")), "remote mode made an encryption key"
        server = f"{hub.url}/user/alice/"
        openai = pytest.importorskip("openai")
        client = openai.OpenAI(base_url=server + "mux/v1", api_key=alice)
        answer = client.chat.completions.create(
            model="anything", messages=[{"role": "user", "content": "hi"}]
        )
        assert ALICE_MODEL in answer.choices[0].message.content
        stream = client.chat.completions.create(
            model="anything", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert ALICE_MODEL in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        # The Responses API (stored answers continue through the server) and embeddings.
        first = client.responses.create(model="anything", input="hi")
        again = client.responses.create(model="anything", input="on", previous_response_id=first.id)
        assert ALICE_MODEL in again.output_text
        assert client.embeddings.create(model="anything", input="one").data[0].embedding
        anthropic = pytest.importorskip("anthropic")
        message = anthropic.Anthropic(base_url=server + "mux", api_key=alice).messages.create(
            model="anything", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
        assert ALICE_MODEL in message.content[0].text
        # The management API is the service's, as alice: a workspace made through her
        # server is hers on the service, and not bob's.
        headers = {"Authorization": f"token {alice}"}
        made = http_post(
            server + "mux/api/workspaces", json={"name": "from-server"}, headers=headers
        )
        assert made.status_code == 201, made.text
        assert api(hub, alice, "GET", "mux/api/workspaces/from-server").status_code == 200
        bobs = api(hub, configured["bob"], "GET", "mux/api/workspaces/from-server")
        assert bobs.status_code == 404
        gone = http_delete(server + "mux/api/workspaces/from-server", headers=headers)
        assert gone.status_code == 204
        # A mux key alice makes through her server works there too, on the mux routes
        # only: the server passes it on for the service to check.
        made = http_post(server + "mux/api/keys", json={"name": "agent"}, headers=headers)
        assert made.status_code == 201, made.text
        key = made.json()
        with_key = openai.OpenAI(base_url=server + "mux/v1", api_key=key["secret"])
        answer = with_key.chat.completions.create(
            model="anything", messages=[{"role": "user", "content": "hi"}]
        )
        assert ALICE_MODEL in answer.choices[0].message.content
        for path in ("mux/api/workspaces", "api/contents"):
            denied = http_get(server + path, headers={"Authorization": f"Bearer {key['secret']}"})
            assert denied.status_code in (401, 403), (path, denied.text)
        assert http_delete(server + f"mux/api/keys/{key['id']}", headers=headers).status_code == 204
        revoked = http_post(
            server + "mux/v1/chat/completions",
            json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {key['secret']}"},
        )
        assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "invalid_api_key"
        # bob's token does not open alice's server, nor does none.
        for key in (configured["bob"], "wrong"):
            refused = http_get(server + "mux/v1/models", headers={"Authorization": f"token {key}"})
            assert refused.status_code in (401, 403)
    finally:
        hub.hub_api("DELETE", "users/alice/server")


KERNEL_CODE = """
import json, os, anthropic, openai, jupyter_mux
ask = [{"role": "user", "content": "hi"}]
chat = openai.OpenAI(max_retries=0, timeout=60).chat.completions.create(
    model="anything", messages=ask)
message = anthropic.Anthropic(max_retries=0, timeout=60).messages.create(
    model="anything", max_tokens=64, messages=ask)
helper = jupyter_mux.openai_client(max_retries=0, timeout=60).chat.completions.create(
    model="anything", messages=ask)
print(json.dumps({"environ": dict(os.environ), "openai": chat.choices[0].message.content,
                  "anthropic": message.content[0].text,
                  "helper": helper.choices[0].message.content}))
"""


def _start_server(hub: Hub, user: str) -> None:
    """Start `user`'s default server and wait until the Hub calls it ready (a stop an
    earlier test asked for may still be pending: the Hub answers 400 until it is done)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        started = hub.hub_api("POST", f"users/{user}/server")
        if started.status_code in (201, 202):
            break
        assert started.status_code == 400 and time.monotonic() < deadline, started.text
        time.sleep(0.5)
    while not _ready(hub, user):
        assert time.monotonic() < deadline, hub.log.read_text()[-5000:]
        time.sleep(0.5)


async def _execute(ws_url: str, token: str, code: str) -> tuple[str, str]:
    """Run `code` in a kernel over its websocket, as a notebook does (Jupyter's messaging
    protocol, JSON frames): the reply's status and everything the kernel printed."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(
        ws_url, headers={"Authorization": f"token {token}"}, request_timeout=START_TIMEOUT
    )
    conn = await websocket_connect(request)
    msg_id, session = secrets.token_hex(8), secrets.token_hex(8)
    header = {
        "msg_id": msg_id,
        "msg_type": "execute_request",
        "session": session,
        "username": "test",
        "version": "5.3",
        "date": "",
    }
    content = {"code": code, "silent": False, "store_history": False, "allow_stdin": False}
    conn.write_message(
        json.dumps(
            {
                "header": header,
                "parent_header": {},
                "metadata": {},
                "content": {**content, "user_expressions": {}, "stop_on_error": True},
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    printed: list[str] = []
    status, idle = None, False
    try:
        while status is None or not idle:  # the reply and the end of the output
            raw = await conn.read_message()
            assert raw is not None, "".join(printed)  # the kernel's socket closed
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "stream":
                printed.append(msg["content"]["text"])
            elif kind in ("display_data", "update_display_data"):
                printed.append(msg["content"]["data"].get("text/markdown", "") + "\n")
            elif kind == "error":
                printed.append("\n".join(msg["content"]["traceback"]))
            elif kind == "execute_reply":
                status = msg["content"]["status"]
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
    finally:
        conn.close()
    return status, "".join(printed)


@contextlib.contextmanager
def _remote_kernel(hub: Hub, token: str, loop: Any) -> Iterator[Callable[[str], tuple[str, str]]]:
    """alice's remote-mode server started by the Hub and a kernel in it, started through
    the server's REST API: yields a function that runs code in it over its websocket, as a
    notebook does; both are stopped afterwards."""
    _start_server(hub, "alice")
    server = f"{hub.url}/user/alice/"
    headers = {"Authorization": f"token {token}"}
    try:
        started = http_post(server + "api/kernels", json={}, headers=headers)
        assert started.status_code == 201, started.text
        kernel = started.json()["id"]
        ws_url = server.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels"
        yield lambda code: loop.run_until_complete(
            asyncio.wait_for(_execute(ws_url, token, code), 300)
        )
        http_delete(server + f"api/kernels/{kernel}", headers=headers)
    finally:
        hub.hub_api("DELETE", "users/alice/server")


def test_remote_mode_kernels_are_pre_wired_with_the_servers_hub_token(
    hub: Hub, configured: dict[str, str], jp_asyncio_loop: Any
) -> None:
    """A kernel of alice's remote-mode server, started and run through the server's REST
    API and websocket as a notebook does, answers with OpenAI(), Anthropic() and
    jupyter_mux.openai_client() given no arguments: its variables point at the server's
    own /mux with the server's Hub token, which the kernel held anyway, and nothing of the
    service's secrets is among them.

    Placed before the restart test, which must stay last: it leaves the service's only
    provider pointing at an upstream that is gone once it ends."""
    with _remote_kernel(hub, configured["alice"], jp_asyncio_loop) as run:
        status, printed = run(KERNEL_CODE)
        assert status == "ok", printed
        seen = json.loads(printed.strip().splitlines()[-1])
        environ = seen["environ"]
        assert environ["OPENAI_BASE_URL"] == environ["JUPYTERHUB_SERVICE_URL"] + "mux/v1"
        assert environ["OPENAI_BASE_URL"].endswith("/user/alice/mux/v1")
        assert environ["ANTHROPIC_BASE_URL"] == environ["JUPYTERHUB_SERVICE_URL"] + "mux"
        assert environ["OPENAI_API_KEY"] == environ["JUPYTERHUB_API_TOKEN"]
        assert environ["ANTHROPIC_AUTH_TOKEN"] == environ["JUPYTERHUB_API_TOKEN"]
        assert not environ["OPENAI_API_KEY"].startswith("mux-")  # no store, no mux key
        # The service's secrets stay in its own configuration and environment.
        values = "\n".join(f"{k}={v}" for k, v in environ.items())
        db = hub.service_config.parent / "mux" / "mux.sqlite"
        for secret in (hub.encryption_key, str(db), "sqlite:", "postgresql"):
            assert secret not in values, secret
        assert not any(k.startswith("JUPYTER_MUX_ENCRYPTION") for k in environ)
        assert ALICE_MODEL in seen["openai"]
        assert ALICE_MODEL in seen["anthropic"]
        assert ALICE_MODEL in seen["helper"]  # jupyter_mux.openai_client() reads them too


MAGICS = (
    "%load_ext jupyter_mux",
    "%mux workspaces",
    "%mux use default",
    "%mux",
    "%mux providers",
    "%mux key create from-kernel",
    "%mux key",
    "%%mux\nhi",
)


def test_remote_mode_magics_work_in_a_kernel(
    hub: Hub, configured: dict[str, str], jp_asyncio_loop: Any
) -> None:
    """The magics in a kernel of alice's remote-mode server find that server, and what they
    show and change is alice's on the service: her workspaces and providers, a key made
    for her, and an answer from her model."""
    alice = configured["alice"]
    seen = {}
    with _remote_kernel(hub, alice, jp_asyncio_loop) as run:
        for code in MAGICS:
            status, printed = run(code)
            assert status == "ok", (code, printed)
            seen[code] = printed
    assert "default" in seen["%mux workspaces"] and ALICE_MODEL in seen["%mux workspaces"]
    assert "Active workspace is now default" in seen["%mux use default"]
    assert f"Active workspace: default (ollama / {ALICE_MODEL})" in seen["%mux"]
    assert "ollama" in seen["%mux providers"]
    assert "from-kernel" in seen["%mux key"]
    assert ALICE_MODEL in seen["%%mux\nhi"]
    # What the kernel made is alice's on the service, and not bob's.
    keys = api(hub, alice, "GET", "mux/api/keys").json()
    made = [k for k in keys if k["name"] == "from-kernel"]
    assert len(made) == 1
    assert not any(
        k["name"] == "from-kernel"
        for k in api(hub, configured["bob"], "GET", "mux/api/keys").json()
    )
    assert api(hub, alice, "DELETE", f"mux/api/keys/{made[0]['id']}").status_code == 204


def test_a_service_restart_loses_nothing_and_applies_the_configuration(
    hub: Hub, configured: dict[str, str]
) -> None:
    """Last in the module: it restarts the service, as an admin does to change its
    configuration (here: the shared provider moved to another endpoint)."""
    alice = configured["alice"]
    workspaces = api(hub, alice, "GET", "mux/api/workspaces").json()
    body = {"model": "x", "messages": [{"role": "user", "content": "before the restart"}]}
    before = api(hub, alice, "GET", "mux/api/usage").json()["totals"]["requests"]
    assert api(hub, alice, "POST", "mux/v1/chat/completions", json=body).status_code == 200
    with FakeOllama() as moved:
        write_service_config(
            hub.service_config,
            hub.service_config.parent / "mux" / "mux.sqlite",
            hub.encryption_key,
            moved.endpoint,
            user_providers=None,  # the default: off
        )
        pid = hub.service_pid()
        assert pid is not None
        os.kill(pid, signal.SIGTERM)  # the Hub starts its managed service again

        def restarted() -> bool:
            new = hub.service_pid()
            if new is None or new == pid:
                return False
            models = api(hub, alice, "GET", "mux/v1/models")
            return models.status_code == 200

        deadline = time.monotonic() + START_TIMEOUT
        while not restarted():
            assert time.monotonic() < deadline, hub.log.read_text()[-5000:]
            time.sleep(0.2)
        assert api(hub, alice, "GET", "mux/api/workspaces").json() == workspaces
        # The request just before the restart was written as the service stopped.
        usage = api(hub, alice, "GET", "mux/api/usage").json()["totals"]["requests"]
        assert usage >= before + 1
        answer = api(hub, alice, "POST", "mux/v1/chat/completions", json=body)
        assert answer.status_code == 200, answer.text
        assert any(path == "/api/chat" for path, _ in moved.requests)
        # Users' providers are off now: none can be added, changed or probed.
        provider = {"name": "mine", "type": "ollama", "endpoint": moved.endpoint}
        for method, path, body in (
            ("POST", "mux/api/providers", provider),
            ("POST", "mux/api/provider-probe", provider),
            ("PATCH", "mux/api/providers/alice-ollama", {"description": "x"}),
            ("POST", "mux/api/providers/ollama/refresh", None),
        ):
            refused = api(hub, alice, method, path, json=body)
            assert refused.status_code == 403, (path, refused.text)
            assert "administrator" in refused.json()["message"]
