"""jupyter_mux.client: finding the server, the OpenAI SDK pointed at the mux, and MuxClient,
all against a real Jupyter server over sockets.

The sync clients block, and pytest-jupyter runs the server on the test's own loop, so they
run in a thread (`asyncio.to_thread`) while the loop serves them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import openai
import pytest

from jupyter_mux.client import (
    MuxAPIError,
    MuxClient,
    MuxServerNotFound,
    ServerInfo,
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    find_server,
    openai_client,
)

MESSAGES = [{"role": "user", "content": "Say something."}]
ENV = ("JUPYTER_MUX_URL", "JUPYTER_MUX_TOKEN", "JUPYTER_TOKEN", "JPY_PARENT_PID")


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty Jupyter runtime directory, and no discovery variables set."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "discovery-runtime"
    folder.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder))
    return folder


def write_server_file(folder: Path, key: object, pid: int, port: int, token: str) -> str:
    """A running-server file as jupyter_server writes it; answers the server's URL."""
    url = f"http://127.0.0.1:{port}/lab/"
    info = {
        "url": url,
        "hostname": "127.0.0.1",
        "port": port,
        "sock": "",
        "secure": False,
        "base_url": "/lab/",
        "token": token,
        "root_dir": str(folder),
        "password": False,
        "pid": pid,
        "version": "2.0.0",
    }
    (folder / f"jpserver-{key}.json").write_text(json.dumps(info))
    return url


@pytest.fixture
def other_process() -> Iterator[int]:
    """A live process that is not our parent (list_running_servers drops dead pids)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def mux_env(monkeypatch: pytest.MonkeyPatch, server_url: str, token: str) -> ServerInfo:
    """Point discovery at the test's Jupyter server, as a user outside a kernel would."""
    monkeypatch.setenv("JUPYTER_MUX_URL", server_url)
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", token)
    return ServerInfo(server_url, token)


# --- find_server ------------------------------------------------------------------------------


def test_environment_overrides_server_files(runtime_dir, monkeypatch):
    write_server_file(runtime_dir, os.getppid(), os.getppid(), 1111, "file-token")
    monkeypatch.setenv("JUPYTER_MUX_URL", "http://127.0.0.1:4321/base")
    assert find_server() == ServerInfo("http://127.0.0.1:4321/base/", "")
    monkeypatch.setenv("JUPYTER_TOKEN", "jupyter-token")
    assert find_server() == ServerInfo("http://127.0.0.1:4321/base/", "jupyter-token")
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", "mux-token")
    server = find_server()
    assert server == ServerInfo("http://127.0.0.1:4321/base/", "mux-token")
    assert "mux-token" not in repr(server)


def test_parent_server_is_chosen(runtime_dir, monkeypatch):
    parent_url = write_server_file(runtime_dir, os.getppid(), os.getppid(), 1111, "parent-tok")
    write_server_file(runtime_dir, "other", os.getpid(), 2222, "other-tok")
    assert find_server() == ServerInfo(parent_url, "parent-tok")
    # A token from the environment still wins over the file's.
    monkeypatch.setenv("JUPYTER_TOKEN", "env-tok")
    assert find_server() == ServerInfo(parent_url, "env-tok")


def test_recorded_parent_pid_is_chosen(runtime_dir, monkeypatch, other_process):
    """A kernel started through a wrapper finds its server by JPY_PARENT_PID."""
    write_server_file(runtime_dir, "mine", os.getpid(), 1111, "a")
    url = write_server_file(runtime_dir, "launcher", other_process, 2222, "b")
    with pytest.raises(MuxServerNotFound):
        find_server()
    monkeypatch.setenv("JPY_PARENT_PID", str(other_process))
    assert find_server() == ServerInfo(url, "b")


def test_single_unrelated_server_is_chosen(runtime_dir):
    url = write_server_file(runtime_dir, "only", os.getpid(), 3333, "only-tok")
    assert find_server() == ServerInfo(url, "only-tok")


def test_no_server_found(runtime_dir):
    with pytest.raises(MuxServerNotFound) as caught:
        find_server()
    message = str(caught.value)
    assert "JUPYTER_MUX_URL" in message and str(runtime_dir) in message
    assert isinstance(caught.value, RuntimeError)


def test_several_unrelated_servers_are_ambiguous(runtime_dir, other_process):
    write_server_file(runtime_dir, "one", os.getpid(), 1111, "token-one")
    write_server_file(runtime_dir, "two", other_process, 2222, "token-two")
    with pytest.raises(MuxServerNotFound) as caught:
        find_server()
    message = str(caught.value)
    assert "127.0.0.1:1111" in message and "127.0.0.1:2222" in message
    assert "JUPYTER_MUX_URL" in message and str(os.getppid()) in message
    assert "token-" not in message


def test_files_of_dead_or_unreadable_servers_are_skipped_and_kept(runtime_dir):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_server_file(runtime_dir, "dead", dead.pid, 1111, "dead-tok")
    (runtime_dir / "jpserver-half.json").write_text('{"url": "http://127.0.0.1:2')
    url = write_server_file(runtime_dir, "live", os.getpid(), 2222, "live-tok")
    assert find_server() == ServerInfo(url, "live-tok")
    # The files belong to their servers: a client reads them and deletes none.
    assert len(list(runtime_dir.glob("jpserver-*.json"))) == 3


SERVER_CODE = ("jupyter_server", "tornado", "sqlmodel", "sqlalchemy", "aiohttp", "jupyter_events")


def test_import_and_discovery_load_no_server_code(runtime_dir):
    """What a kernel pays for `import jupyter_mux` and finding its server: the client only."""
    url = write_server_file(runtime_dir, "parent", os.getpid(), 1111, "tok")
    script = (
        "import json, sys, jupyter_mux\n"
        "server = jupyter_mux.find_server()\n"
        "print(json.dumps({'url': server.url, 'modules': sorted(sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent.parent,  # this checkout's package, as `-c` puts cwd first
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(done.stdout)
    assert seen["url"] == url  # discovery really ran: this process is the child's parent
    loaded = {name.split(".")[0] for name in seen["modules"]}
    assert "jupyter_mux" in loaded and "httpx" in loaded
    assert loaded.isdisjoint(SERVER_CODE), sorted(loaded & set(SERVER_CODE))
    assert "jupyter_mux.app" not in seen["modules"]


def test_server_extension_is_loaded_on_demand():
    import jupyter_mux
    from jupyter_mux.app import MuxApp

    (point,) = jupyter_mux._jupyter_server_extension_points()
    assert point == {"module": "jupyter_mux", "app": MuxApp}
    assert jupyter_mux.MuxApp is MuxApp
    with pytest.raises(AttributeError, match="no_such_name"):
        jupyter_mux.no_such_name  # noqa: B018


# --- the OpenAI clients ----------------------------------------------------------------------


def ask(workspace: str | None = None) -> tuple[str, str, str]:
    """A chat completion through `openai_client`: (base_url, serving workspace, text)."""
    with openai_client(workspace, max_retries=0, timeout=60) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="anything", messages=MESSAGES, max_tokens=4
        )
        text = raw.parse().choices[0].message.content
        return str(client.base_url), raw.headers["x-mux-workspace"], text


async def test_openai_client_answers_through_the_mux(two_llamas, mux_env):
    base_url, workspace, text = await asyncio.to_thread(ask)
    assert base_url == mux_env.url + "mux/v1/"
    assert workspace == "wa" and isinstance(text, str)


async def test_openai_client_pinned_to_a_workspace(two_llamas, mux_env, api):
    base_url, workspace, _ = await asyncio.to_thread(ask, "wb")
    assert base_url == mux_env.url + "mux/w/wb/v1/"
    assert workspace == "wb"
    assert (await api.ok("GET", "active"))["name"] == "wa"  # pinning is not activating


async def test_async_openai_client(two_llamas, mux_env):
    async with async_openai_client("wb", max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="x", messages=MESSAGES, max_tokens=4
        )
        assert raw.parse().choices[0].message.content is not None
    assert (raw.headers["x-mux-workspace"], raw.headers["x-mux-model"]) == ("wb", "tiny-b")


def test_openai_client_kwargs_pass_through(runtime_dir, monkeypatch):
    monkeypatch.setenv("JUPYTER_MUX_URL", "http://127.0.0.1:4321/")
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", "tok")
    with openai_client(max_retries=5, default_headers={"X-Mux-Workspace": "wb"}) as client:
        assert (client.max_retries, client.api_key) == (5, "tok")
        assert client.default_headers["X-Mux-Workspace"] == "wb"
        assert str(client.base_url) == "http://127.0.0.1:4321/mux/v1/"


# --- MuxClient -------------------------------------------------------------------------------


def crud_round_trip(endpoint: str) -> None:
    with MuxClient() as mux:  # found through the environment
        assert "llamacpp" in {t["type"] for t in mux.provider_types()}
        assert mux.providers() == []

        created = mux.add_provider("lp", "llamacpp", endpoint=endpoint, description="local")
        assert (created["status"], created["models"]) == ("ok", ["tiny-a"])
        assert (created["description"], created["auth_type"]) == ("local", "none")
        assert mux.provider("lp") == created
        assert mux.providers() == [created]
        assert [m["id"] for m in mux.provider_models("lp")] == ["tiny-a"]
        assert mux.refresh_provider("lp")["status"] == "ok"
        assert mux.update_provider("lp", description="changed")["description"] == "changed"

        workspace = mux.create_workspace("w1", "first", preferred=("lp", "tiny-a"))
        assert workspace["preferred"] == {"provider": "lp", "model": "tiny-a"}
        assert workspace["preferred_ok"] and workspace["problem"] is None
        assert mux.workspace("w1") == workspace
        assert mux.provider("lp")["used_by"] == ["w1"]

        assert mux.active() == "default"
        assert mux.activate("w1") == "w1"
        assert mux.active() == "w1"

        cleared = mux.update_workspace("w1", preferred=None)
        assert cleared["preferred"] is None and cleared["problem"]
        renamed = mux.update_workspace(
            "w1", name="w2", preferred={"provider": "lp", "model": "tiny-a"}
        )
        assert (renamed["name"], renamed["preferred_ok"], renamed["is_active"]) == (
            "w2",
            True,
            True,
        )
        assert sorted(w["name"] for w in mux.workspaces()) == ["default", "w2"]

        assert mux.update_provider("lp", name="lp2")["used_by"] == ["w2"]
        assert mux.workspace("w2")["preferred"] == {"provider": "lp2", "model": "tiny-a"}

        mux.activate("default")
        assert mux.delete_workspace("w2") is None
        assert mux.delete_provider("lp2") is None
        assert mux.providers() == []
        assert [w["name"] for w in mux.workspaces()] == ["default"]


async def test_mux_client_round_trip(mux_env, llama_a):
    await asyncio.to_thread(crud_round_trip, llama_a.endpoint)


def refusals(url: str, token: str) -> dict[str, MuxAPIError]:
    caught: dict[str, MuxAPIError] = {}

    def expect(label: str, call: Any, *args: Any, **kwargs: Any) -> None:
        with pytest.raises(MuxAPIError) as error:
            call(*args, **kwargs)
        caught[label] = error.value

    with MuxClient(url, token, timeout=10) as mux:
        mux.create_workspace("dup")
        expect("duplicate", mux.create_workspace, "dup")
        expect("unknown", mux.workspace, "ghost")
        expect("unknown provider", mux.refresh_provider, "ghost")
        expect("bad name", mux.add_provider, "a b", "vllm")
        expect("bad type", mux.add_provider, "ok", "gpt")
        expect("bad field", mux.update_workspace, "dup", colour="red")
        expect("bad preferred", mux.create_workspace, "w", preferred=("ghost", "m"))
        expect("active", mux.delete_workspace, "default")
    with MuxClient(url, "") as anonymous:
        expect("no token", anonymous.providers)
    return caught


async def test_errors_carry_the_server_message(mux_env, api):
    errors = await asyncio.to_thread(refusals, mux_env.url, mux_env.token)
    statuses = {label: e.status for label, e in errors.items()}
    assert statuses == {
        "duplicate": 409,
        "unknown": 404,
        "unknown provider": 404,
        "bad name": 400,
        "bad type": 400,
        "bad field": 400,
        "bad preferred": 400,
        "active": 409,
        "no token": 403,
    }
    # The message is the server's own, word for word.
    code, body = await api("GET", "workspaces/ghost")
    assert code == 404 and errors["unknown"].message == body["message"]
    assert "dup" in errors["duplicate"].message
    assert "ghost" in errors["unknown provider"].message
    assert "name" in errors["bad name"].message and "letters" in errors["bad name"].message
    assert "vllm" in errors["bad type"].message
    assert "colour" in errors["bad field"].message
    assert "ghost" in errors["bad preferred"].message
    assert "active" in errors["active"].message
    assert str(errors["unknown"]) == f"404: {errors['unknown'].message}"


async def test_mux_client_finds_the_server_and_hides_the_token(mux_env):
    def build() -> tuple[str, str]:
        with MuxClient() as mux:
            return repr(mux), mux.active()

    shown, active = await asyncio.to_thread(build)
    assert active == "default"
    assert mux_env.url in shown and mux_env.token not in shown


# --- mux keys, and the variables a server exports to its kernels ----------------------------


def key_round_trip(two_llamas_url: str, token: str) -> dict[str, Any]:
    """Make a pinned, budgeted, expiring key, use it through the SDK helpers as a kernel
    would (the server's variables, no JUPYTER_MUX_URL), and revoke it."""
    seen: dict[str, Any] = {}
    expires = datetime.now(timezone.utc) + timedelta(days=1)
    with MuxClient(two_llamas_url, token) as mux:
        created = mux.create_key("nb", workspace="wb", expires_at=expires, budget_usd=2)
        seen["created"] = created
        seen["listed"] = mux.keys()
        os.environ["OPENAI_BASE_URL"] = two_llamas_url + "mux/v1"
        os.environ["OPENAI_API_KEY"] = created["secret"]
        os.environ["ANTHROPIC_BASE_URL"] = two_llamas_url + "mux"
        os.environ["ANTHROPIC_AUTH_TOKEN"] = created["secret"]
        seen["openai"] = ask()
        with anthropic_client(max_retries=0) as claude:
            raw = claude.messages.with_raw_response.create(
                model="mux", max_tokens=4, messages=MESSAGES
            )
            seen["anthropic"] = (str(claude.base_url), raw.headers["x-mux-workspace"])
        mux.revoke_key(created["id"])
        seen["after"] = mux.keys()
        with pytest.raises(MuxAPIError) as gone:
            mux.revoke_key(created["id"])
        seen["gone"] = gone.value.status
        with openai_client(max_retries=0) as revoked, pytest.raises(openai.AuthenticationError):
            revoked.chat.completions.create(model="x", messages=MESSAGES)
    return seen


async def test_keys_and_the_exported_variables(two_llamas, server_url, token, monkeypatch):
    monkeypatch.delenv("JUPYTER_MUX_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.setenv(name, "")  # set by the round trip, restored after the test
    seen = await asyncio.to_thread(key_round_trip, server_url, token)
    created = seen["created"]
    assert created["secret"].startswith(created["prefix"]) and created["workspace"] == "wb"
    assert created["budget_usd"] == 2 and created["expires_at"]
    listed = {k["name"]: k for k in seen["listed"]}  # with the server's own key
    assert listed["nb"]["id"] == created["id"] and "kernels and terminals" in listed
    assert all("secret" not in k for k in seen["listed"])
    # Unpinned helpers, but the key is pinned to wb: wb answers although wa is active.
    assert seen["openai"][:2] == (server_url + "mux/v1/", "wb")
    assert seen["anthropic"] == (server_url + "mux/", "wb")
    assert "nb" not in {k["name"] for k in seen["after"]} and seen["gone"] == 404


def test_exported_variables_are_used_only_when_they_are_the_muxs(runtime_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:4321/base/mux/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "mux-exported")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:4321/base/mux")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "mux-exported")
    with openai_client("secret-project") as client:
        assert str(client.base_url) == "http://127.0.0.1:4321/base/mux/w/secret-project/v1/"
        assert client.api_key == "mux-exported"
    with anthropic_client("w") as claude:
        assert str(claude.base_url) == "http://127.0.0.1:4321/base/mux/w/w/"
        assert claude.auth_token == "mux-exported"
    # The user's own OpenAI endpoint is not the mux: the server is looked for instead.
    monkeypatch.setenv("OPENAI_BASE_URL", "https://api.openai.com/v1")
    with pytest.raises(MuxServerNotFound):
        openai_client()
    # JUPYTER_MUX_URL names a server explicitly, and wins.
    monkeypatch.setenv("JUPYTER_MUX_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", "tok")
    with anthropic_client() as claude:
        assert (str(claude.base_url), claude.auth_token) == ("http://127.0.0.1:9999/mux/", "tok")


# --- the Anthropic clients -------------------------------------------------------------------


def ask_anthropic(workspace: str | None = None) -> tuple[str, str, str]:
    """A Messages call through `anthropic_client`: (base_url, serving workspace, text)."""
    with anthropic_client(workspace, max_retries=0, timeout=60) as client:
        raw = client.messages.with_raw_response.create(
            model="anything", messages=MESSAGES, max_tokens=4
        )
        message = raw.parse()
        assert message.type == "message" and message.role == "assistant"
        text = "".join(block.text for block in message.content if block.type == "text")
        return str(client.base_url), raw.headers["x-mux-workspace"], text


async def test_anthropic_client_answers_through_the_mux(two_llamas, mux_env):
    base_url, workspace, text = await asyncio.to_thread(ask_anthropic)
    assert base_url == mux_env.url + "mux/"
    assert workspace == "wa" and isinstance(text, str)


async def test_anthropic_client_pinned_to_a_workspace(two_llamas, mux_env, api):
    base_url, workspace, _ = await asyncio.to_thread(ask_anthropic, "wb")
    assert base_url == mux_env.url + "mux/w/wb/"
    assert workspace == "wb"
    assert (await api.ok("GET", "active"))["name"] == "wa"  # pinning is not activating


async def test_async_anthropic_client_streams(two_llamas, mux_env):
    async with (
        async_anthropic_client("wb", max_retries=0) as client,
        client.messages.stream(model="x", messages=MESSAGES, max_tokens=4) as stream,
    ):
        final = await stream.get_final_message()
    assert final.stop_reason in {"end_turn", "max_tokens"}
    assert final.usage.output_tokens > 0


def test_anthropic_client_kwargs_and_key(runtime_dir, monkeypatch):
    monkeypatch.setenv("JUPYTER_MUX_URL", "http://127.0.0.1:4321/base")
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", "tok")
    with anthropic_client(max_retries=5, default_headers={"X-Mux-Workspace": "wb"}) as client:
        assert (client.max_retries, client.auth_token) == (5, "tok")
        assert client.default_headers["X-Mux-Workspace"] == "wb"
        assert str(client.base_url) == "http://127.0.0.1:4321/base/mux/"
    import jupyter_mux

    assert jupyter_mux.anthropic_client is anthropic_client


def test_import_loads_no_anthropic(runtime_dir):
    """The Anthropic SDK is imported when a client is made, not with the package."""
    script = "import sys, jupyter_mux; print('anthropic' in sys.modules, 'openai' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.split() == ["False", "False"]
