"""jupyterlite-ai's chat answering through the mux's "Model Mux" provider, in Chromium.

A real `jupyter lab` with this checkout's lab extension and jupyterlite-ai's lab
extensions; the mux's active workspace is served by the fake Ollama, whose answer names
the model ("Hello from llama3.2:1b!"). In the browser: AI settings, *Add provider*, provider
type **Model Mux** (registered by the mux's extension in jupyterlite-ai's provider
registry), no key; then a chat message, answered through the mux with the page's own
Jupyter credentials.

jupyterlite-ai 0.20 cannot be installed beside jupyter-ai 3.2 (the test extra's): they pin
disjoint `jupyterlab-ai-commands` ranges. Its lab extensions are front end only, so they
are installed once, without dependencies, into a prefix of their own (`pip install
--prefix`, about 7 MB, seconds) that the lab finds through `JUPYTER_PATH`, ahead of the
environment's copies.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .fake_ollama import FakeOllama
from .ui.browser import close_clients, jp_asyncio_loop, jp_server_cleanup  # noqa: F401 (fixtures)
from .ui.lab import CHROMIUM, CHROMIUM_ARGS, LabServer, installed_extension

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing"),
    pytest.mark.skipif(installed_extension() is None, reason="the lab extension is not built"),
]

# jupyterlite-ai and the lab extensions it needs, as `pip install jupyterlite-ai==0.20.1`
# resolves them.
LITE_AI = (
    "jupyterlite-ai==0.20.1",
    "jupyternaut-persona==0.20.1",
    "jupyter-chat-components==0.6.0",
    "jupyter-mcp-manager==0.2.1",
    "jupyter-secrets-manager==0.5.1",
    "jupyterlab-ai-commands==0.3.1",
    "jupyterlab-cell-input-footer==0.3.2",
    "jupyterlab-diff==0.6.1",
    "jupyterlab-eventlistener==0.4.0",
)
ACTIVE_MODEL = "llama3.2:1b"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "ui"


def lite_ai_prefix() -> Path:
    """A prefix holding jupyterlite-ai's lab extensions, installed on first use and kept
    (`JUPYTER_MUX_TEST_LITE_AI` names another place)."""
    default = Path.home() / ".cache" / "jupyter-mux-tests" / "jupyterlite-ai-0.20.1"
    prefix = Path(os.environ.get("JUPYTER_MUX_TEST_LITE_AI", default))
    marker = prefix / "share" / "jupyter" / "labextensions" / "@jupyterlite" / "ai"
    if not (marker / "package.json").exists():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        done = subprocess.run(
            [*command, "--prefix", str(prefix), *LITE_AI],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.skip(f"could not install jupyterlite-ai: {done.stderr[-500:]}")
    return prefix


@pytest.fixture(scope="module")
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, ollama: FakeOllama) -> Iterator[LabServer]:
    prefix = lite_ai_prefix()
    home = tmp_path_factory.mktemp("lite-ai")
    server = LabServer(home)
    server.env["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    # jupyterlite-ai's settings: no secrets manager prompt, and no tools offered (the fake
    # upstream answers a request that offers tools with a tool call).
    settings = home / "config" / "lab" / "user-settings" / "@jupyternaut" / "persona"
    settings.mkdir(parents=True)
    (settings / "settings-model.jupyterlab-settings").write_text(
        json.dumps({"useSecretsManager": False, "toolsEnabled": False})
    )
    server.start()
    try:
        server.api_ok(
            "POST", "providers", {"name": "up", "type": "ollama", "endpoint": ollama.endpoint}
        )
        preferred = {"provider": "up", "model": ACTIVE_MODEL}
        server.api_ok("PATCH", "workspaces/default", {"preferred": preferred})
        yield server
    finally:
        server.stop()


def show_panel(tab: Any) -> None:
    """Open a left-area panel by its tab (a click on the current tab would close it)."""
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    expect(tab).to_have_class(re.compile("lm-mod-current"))


def test_lite_ai_chat_answers_through_the_mux_provider(lab: LabServer, ollama: FakeOllama) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(30_000)
            sent: list[Any] = []
            page.on("request", lambda r: sent.append(r) if "/mux/v1/" in r.url else None)
            page.goto(f"{lab.url}lab?token={lab.token}")
            expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)

            # AI settings -> Add provider -> type "Model Mux": no key, no URL asked.
            tab = page.locator("li[data-id='@jupyterlite/ai:chat-panel']")
            expect(tab).to_be_visible(timeout=60_000)
            show_panel(tab)
            page.locator("#jp-left-stack").get_by_title("Open AI Settings").click()
            page.get_by_role("button", name="Add provider").click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_label("Provider Name").fill("My mux")
            dialog.locator("div[role=combobox]").click()  # the provider type
            page.get_by_role("option", name="Model Mux").click()
            expect(dialog.get_by_role("combobox", name="Model")).to_have_value("mux")
            expect(dialog.get_by_label("API Key")).to_have_count(0)
            expect(dialog.get_by_role("combobox", name="Base URL")).to_have_count(0)
            dialog.get_by_role("button", name="Add provider").click()
            expect(dialog).to_be_hidden()

            # A chat with it: the answer is the fake Ollama's, through the mux.
            show_panel(tab)
            panel = page.locator("[id='@jupyterlite/ai:chat-panel']")
            box = panel.get_by_placeholder("Type a chat message")
            if not box.is_visible():  # no chat open yet: a new one, with the default provider
                panel.get_by_title("Create a new chat").first.click()
            box.fill("Say hello.")
            box.press("Enter")
            expect(page.get_by_text(f"Hello from {ACTIVE_MODEL}!")).to_be_visible(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "lite-ai-chat.png"))
            # Same origin, no key of its own: the page's Jupyter credentials (the XSRF
            # header with the cookie, or the page's token), no Bearer key from settings.
            (request,) = sent
            assert request.url == f"{lab.url}mux/v1/chat/completions"
            headers = request.all_headers()
            assert "bearer" not in headers.get("authorization", "").lower()
            assert headers.get("x-xsrftoken") or headers.get("authorization") == (
                f"token {lab.token}"
            )
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "lite-ai-failure.png"))
            raise
        finally:
            browser.close()

    chats = [body for path, body in ollama.requests if path == "/api/chat"]
    assert chats and chats[-1]["model"] == ACTIVE_MODEL
    assert chats[-1]["messages"][-1]["content"] == "Say hello."
    # The mux recorded it (usage is written within a second or so).
    deadline = time.monotonic() + 15
    while lab.api_ok("GET", "usage")["totals"]["requests"] < 1:
        assert time.monotonic() < deadline, "no usage row for the chat request"
        time.sleep(0.5)
    rows = lab.api_ok("GET", "usage?group_by=model")["rows"]
    assert [r["key"] for r in rows if r["requests"]] == [ACTIVE_MODEL], rows
