"""jupyter-ai 3 through the mux, set up by `%mux setup jupyter-ai`, against the real packages
(`jupyter-ai[jupyternaut,magics]`) and a real Jupyter server whose active workspace is
served by the fake Ollama, whose answers name the model ("Hello from llama3.2:1b!").

* `%mux setup jupyter-ai` runs in a real IPython shell and writes jupyter-ai's own config
  (these tests need no jupyter-ai; the others skip without it).
* `%%ai`: a real kernel (its own process, IPython profile = the one setup wrote into) loads
  `jupyter_ai_magic_commands` and asks through LiteLLM.
* Jupyternaut, headless and for real: a Jupyter server with jupyter-ai's extensions and a
  client on jupyterlab-chat's WebSocket sends a message to Jupyternaut, which answers
  through the mux. And its persona's `process_message` alone, with the chat replaced by a
  recorder, for both picker entries (the *Model Mux* custom model and the default).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from jupyter_client.manager import AsyncKernelManager
from traitlets.config import Config

from jupyter_mux.magics import load_ipython_extension
from jupyter_mux.setup_tools import (
    JUPYTER_AI_MODEL_ID,
    JUPYTER_AI_MODEL_NAME,
    setup_jupyter_ai,
)

from .fake_ollama import FakeOllama

ACTIVE_MODEL = "llama3.2:1b"
PINNED_MODEL = "qwen2.5-coder:0.5b"


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """LiteLLM, imported by Jupyternaut, quiets other libraries' loggers on import (httpx's
    to WARNING, say), which later tests of this process read: put them back."""
    loggers = logging.root.manager.loggerDict
    before = {
        name: (lg.level, lg.propagate, lg.disabled, list(lg.filters))
        for name, lg in loggers.items()
        if isinstance(lg, logging.Logger)
    }
    root = (logging.root.level, list(logging.root.handlers), list(logging.root.filters))
    yield
    for name, lg in list(loggers.items()):
        if isinstance(lg, logging.Logger):
            level, propagate, disabled, filters = before.get(
                name, (logging.NOTSET, True, False, [])
            )
            lg.setLevel(level)
            lg.propagate, lg.disabled, lg.filters[:] = propagate, disabled, filters
    logging.root.setLevel(root[0])
    logging.root.handlers[:], logging.root.filters[:] = root[1], root[2]


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture
def served(api: Any, ollama: FakeOllama, jp_asyncio_loop: Any) -> Any:
    """The active workspace on the fake Ollama's first model, `pinned` on its second."""

    async def setup() -> None:
        provider = {"name": "up", "type": "ollama", "endpoint": ollama.endpoint}
        await api.use(provider, ACTIVE_MODEL)
        preferred = {"provider": "up", "model": PINNED_MODEL}
        await api.ok("POST", "workspaces", {"name": "pinned", "preferred": preferred}, 201)

    jp_asyncio_loop.run_until_complete(setup())
    return api


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_url: str, token: str) -> Path:
    """A Jupyter data dir and IPython dir of the test's own, and the server to find."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_MUX_URL", server_url)
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", token)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def shell(homes: Path) -> Iterator[InteractiveShell]:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ipython = InteractiveShell.instance(config=config, ipython_dir=str(homes / "ipython"))
    load_ipython_extension(ipython)
    yield ipython
    InteractiveShell.clear_instance()


@pytest.fixture
def flush(jp_serverapp: Any) -> Any:
    """Write buffered usage rows now."""
    return jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush


def naut_config(homes: Path) -> Path:
    return homes / "data" / "jupyter_ai" / "config.json"


async def setup_magic(shell: InteractiveShell, line: str) -> str:
    def run() -> str:
        with capture_output() as io:
            shell.run_line_magic("mux", line)
        return io.stdout + io.stderr

    return await asyncio.to_thread(run)


# --- the setup step ----------------------------------------------------------------------------


def test_setup_merges_into_existing_config_and_is_idempotent(tmp_path):
    naut = tmp_path / "config.json"
    naut.write_text(
        json.dumps(
            {
                "model_provider_id": "anthropic/claude-x",
                "custom_models": [{"id": "custom-1/x", "name": "mine", "model_id": "x/y"}],
                "api_keys": {"A": "b"},
            }
        )
    )
    profile = tmp_path / "profile_default"
    (profile).mkdir()
    (profile / "ipython_kernel_config.json").write_text(
        json.dumps({"IPKernelApp": {"x": 1}, "AiMagics": {"initial_language_model": "m"}})
    )
    first = setup_jupyter_ai("http://h/mux/v1", "k1", profile_dir=profile, jupyternaut_config=naut)
    once = json.loads(naut.read_text())
    setup_jupyter_ai("http://h/mux/w/p/v1", "k2", profile_dir=profile, jupyternaut_config=naut)
    twice = json.loads(naut.read_text())
    assert first.files == [naut, profile / "ipython_kernel_config.json"]
    assert stat.S_IMODE(naut.stat().st_mode) == 0o600  # it holds the key

    # The user's settings stay; the mux's model is first in the picker, its ID is stable.
    assert twice["model_provider_id"] == "anthropic/claude-x" and twice["api_keys"] == {"A": "b"}
    assert [m["name"] for m in twice["custom_models"]] == [JUPYTER_AI_MODEL_NAME, "mine"]
    ours = twice["custom_models"][0]
    assert ours["id"] == once["custom_models"][0]["id"] and ours["id"].startswith("custom-")
    assert ours["model_id"] == JUPYTER_AI_MODEL_ID
    assert ours["params"] == {"api_base": "http://h/mux/w/p/v1", "api_key": "k2"}
    assert twice["fields"][JUPYTER_AI_MODEL_ID] == ours["params"]

    kernel = json.loads((profile / "ipython_kernel_config.json").read_text())
    assert kernel["IPKernelApp"] == {"x": 1}
    assert kernel["AiMagics"]["initial_language_model"] == "m"  # the user's default stays
    alias = kernel["AiMagics"]["initial_aliases"]["mux"]
    assert alias == {
        "target": "openai/mux",
        "api_base": "http://h/mux/w/p/v1",
        "api_key_name": None,
    }
    assert "k2" not in json.dumps(kernel)

    # A config that is not JSON is the user's to fix, never overwritten.
    naut.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        setup_jupyter_ai("http://h/mux/v1", "k", profile_dir=profile, jupyternaut_config=naut)
    assert naut.read_text() == "{not json"


async def test_setup_magic_writes_jupyter_ais_config(served, shell, homes, server_url, token, api):
    out = await setup_magic(shell, "setup jupyter-ai")
    assert str(naut_config(homes)) in out and "ipython_kernel_config.json" in out
    assert token not in out
    config = json.loads(naut_config(homes).read_text())
    assert config["model_provider_id"] == JUPYTER_AI_MODEL_ID  # none was chosen before
    params = config["custom_models"][0]["params"]
    assert params["api_base"] == server_url + "mux/v1"
    # Jupyternaut gets a mux key of its own, never the Jupyter token.
    [key] = [k for k in await api.ok("GET", "keys") if k["name"] == "jupyter-ai"]
    assert params["api_key"].startswith(key["prefix"]) and params["api_key"] != token
    kernel = json.loads(
        (homes / "ipython" / "profile_default" / "ipython_kernel_config.json").read_text()
    )
    assert kernel["AiMagics"]["initial_aliases"]["mux"]["api_base"] == server_url + "mux/v1"
    assert "OPENAI_API_KEY" in out  # this kernel has none: the magic says so

    out = await setup_magic(shell, "setup jupyter-ai -w pinned")
    pinned = json.loads(naut_config(homes).read_text())["custom_models"][0]["params"]
    assert pinned["api_base"] == server_url + "mux/w/pinned/v1"
    # Set up again: the earlier key is revoked, the new one pinned like the URL.
    [again] = [k for k in await api.ok("GET", "keys") if k["name"] == "jupyter-ai"]
    assert again["id"] != key["id"] and again["workspace"] == "pinned"
    out = await setup_magic(shell, "setup jupyter-ai -w ghost")
    assert "ghost" in out and "mux:" in out
    assert json.loads(naut_config(homes).read_text())["custom_models"][0]["params"] == pinned


# --- %%ai in a real kernel ---------------------------------------------------------------------


async def run_in_kernel(env: dict[str, str], cwd: Path, cells: list[str]) -> list[dict]:
    """Run `cells` in a fresh IPython kernel; answer every output message's content."""
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(env=env, cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    outputs: list[dict] = []
    try:
        await client.wait_for_ready(timeout=120)
        for code in cells:

            def hook(msg: dict) -> None:
                if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
                    outputs.append(msg["content"])

            reply = await client.execute_interactive(code, output_hook=hook, timeout=180)
            assert reply["content"]["status"] == "ok", (reply["content"], outputs)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    return outputs


def texts(outputs: list[dict]) -> str:
    parts = []
    for out in outputs:
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/markdown", "") or data.get("text/plain", ""))
    return "\n".join(parts)


async def test_ai_magic_answers_through_the_mux(served, shell, homes, ollama, token, flush):
    pytest.importorskip("jupyter_ai_magic_commands")
    await setup_magic(shell, "setup jupyter-ai")
    before = len(ollama.requests)
    env = {
        **os.environ,
        # What a kernel of the server gets once the mux pre-wires kernels: the mux's key.
        "OPENAI_API_KEY": token,
    }
    outputs = await run_in_kernel(
        env,
        homes,
        [
            "%load_ext jupyter_ai_magic_commands",
            "%%ai mux\nSay hello.",
            "%%ai\nSay hello again.",  # the default model setup chose
        ],
    )
    shown = texts(outputs)
    assert shown.count(f"Hello from {ACTIVE_MODEL}!") == 2, outputs
    chats = [body for path, body in ollama.requests[before:] if path == "/api/chat"]
    assert len(chats) == 2 and chats[0]["model"] == ACTIVE_MODEL
    assert chats[0]["messages"][-1]["content"] == "Say hello."
    assert token not in json.dumps(chats)  # the key went to the mux, not upstream

    await flush()
    usage = await served.ok("GET", "usage?group_by=model")
    assert usage["totals"]["requests"] >= 2


# --- Jupyternaut -------------------------------------------------------------------------------


class ChatRecorder:
    """Stands in for the chat document: what the persona sends and streams."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.streamed: list[str] = []

    def get_id(self) -> str:
        return "chat-1"

    async def stream(self, chunks: AsyncIterator[str]) -> None:
        async for chunk in chunks:
            self.streamed.append(chunk)


def jupyternaut(config_path: Path, picked: str | None) -> tuple[Any, ChatRecorder]:
    """A JupyternautPersona with its real config manager and the model `picked` in the
    picker (None: the default entry); only the chat document is a recorder."""
    from jupyter_ai_jupyternaut.config import ConfigManager
    from jupyter_ai_jupyternaut.jupyternaut.jupyternaut import JupyternautPersona

    log = logging.getLogger("jupyternaut-test")
    recorder = ChatRecorder()
    persona = JupyternautPersona.__new__(JupyternautPersona)
    persona.config_manager = ConfigManager(log=log, defaults={}, config_path=str(config_path))
    persona.log = log
    persona.chat = recorder
    persona.get_model = lambda: picked
    persona.get_system_prompt = lambda model_id, message: "You are Jupyternaut."
    persona.send_message = recorder.sent.append
    persona.stream_message = recorder.stream

    async def no_tools() -> list:
        return []

    persona.get_tools = no_tools
    return persona, recorder


async def test_jupyternaut_answers_through_the_mux(served, shell, homes, ollama, token):
    pytest.importorskip("jupyter_ai_jupyternaut")
    from jupyterlab_chat.models import Message

    await setup_magic(shell, "setup jupyter-ai")
    config = json.loads(naut_config(homes).read_text())
    custom_id = config["custom_models"][0]["id"]
    before = len(ollama.requests)
    for picked in (custom_id, None):  # the Model Mux entry, then the default entry
        persona, chat = jupyternaut(naut_config(homes), picked)
        message = Message(id="m1", time=0, body="Say hello.", sender="tester")
        await persona.process_message(message)
        assert chat.sent == [], chat.sent
        assert "".join(chat.streamed) == f"Hello from {ACTIVE_MODEL}!"
    chats = [body for path, body in ollama.requests[before:] if path == "/api/chat"]
    assert len(chats) == 2 and chats[0]["messages"][-1]["content"] == "Say hello."
    assert token not in json.dumps(chats)


def test_jupyternaut_chat_answers_through_the_mux(tmp_path: Path) -> None:
    """Jupyternaut for real: a Jupyter server with the mux and jupyter-ai's extensions, a
    `.chat` file, and a chat client on jupyterlab-chat's own WebSocket (`api/chat/ws/`, its
    transport when no collaboration server is installed) sending a message to Jupyternaut.
    The upstream answers "all good" to anything: Jupyternaut's agent always offers its
    notebook tools, which the fake Ollama would answer with a tool call."""
    pytest.importorskip("jupyter_ai_jupyternaut")
    pytest.importorskip("jupyter_ai_router")
    pytest.importorskip("jupyterlab_chat.websocket_handler")
    ws_client = pytest.importorskip("websockets.sync.client")
    import httpx

    from .scripted_upstream import MODEL, ScriptedUpstream
    from .servers import ServerProcess

    persona = "jupyter-ai-personas::jupyter_ai_jupyternaut::JupyternautPersona"
    with ScriptedUpstream() as upstream:
        server = ServerProcess(tmp_path, "jupyter_mux")
        # What `%mux setup jupyter-ai` writes, for this server (its URL is known now).
        setup_jupyter_ai(
            server.url + "mux/v1",
            server.token,
            profile_dir=tmp_path / "profile",
            jupyternaut_config=Path(server.env["JUPYTER_DATA_DIR"]) / "jupyter_ai" / "config.json",
        )
        (tmp_path / "root").mkdir(parents=True, exist_ok=True)
        (tmp_path / "root" / "mux.chat").write_text("")
        server.start()
        try:
            api = f"{server.url}mux/api/"
            provider = {"name": "up", "type": "openai", "endpoint": upstream.endpoint}
            added = httpx.post(api + "providers", json=provider, headers=server.headers)
            assert added.status_code == 201, added.text
            preferred = {"preferred": {"provider": "up", "model": MODEL}}
            httpx.patch(api + "workspaces/default", json=preferred, headers=server.headers)

            url = server.url.replace("http", "ws", 1) + "api/chat/ws/mux.chat"
            with ws_client.connect(url, additional_headers=server.headers) as chat:
                hello = json.loads(chat.recv(timeout=60))
                assert (hello["type"], hello["action"]) == ("server", "connection"), hello
                chat.send(
                    json.dumps(
                        {
                            "type": "client",
                            "action": "send",
                            "id": "m1",
                            "body": "Say hello.",
                            "metadata": {"to_persona": persona},
                        }
                    )
                )
                answer, seen = "", []
                deadline = time.monotonic() + 120
                while "all good" not in answer:
                    assert time.monotonic() < deadline, (seen, server.log[-3000:])
                    event = json.loads(chat.recv(timeout=120))
                    seen.append(event)
                    message = event.get("message") or {}
                    if message.get("sender") == persona:
                        answer = message.get("body", "")
            assert upstream.requests >= 1
            deadline = time.monotonic() + 15  # usage rows are written within a second or so
            while httpx.get(api + "usage", headers=server.headers).json()["totals"]["requests"] < 1:
                assert time.monotonic() < deadline, "the mux recorded no request"
                time.sleep(0.5)
        finally:
            server.stop()
