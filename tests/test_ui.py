"""The JupyterLab front end, end to end: a real `jupyter lab` with the extension, real
llama.cpp upstreams, and headless Chromium driven by Playwright. Every step leaves a
screenshot in test-artifacts/ui/. Also runs the TypeScript unit tests (`jlpm test`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from jupyter_mux.localmodel import LocalLlamaServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

from .ui.lab import CHROMIUM, CHROMIUM_ARGS, ROOT, LabServer, installed_extension

LABEXTENSION = ROOT / "labextension"
SHOTS = ROOT / "test-artifacts" / "ui"


def test_typescript_unit_tests() -> None:
    """`jlpm test` (vitest) in labextension/, when its dependencies are installed."""
    if not (LABEXTENSION / "node_modules" / ".bin" / "vitest").exists():
        pytest.skip("labextension/node_modules missing: run `jlpm install` in labextension/")
    runner = shutil.which("jlpm") or shutil.which("npm")
    if runner is None:
        pytest.skip("neither jlpm nor npm on PATH")
    result = subprocess.run(
        [runner, "test"],
        cwd=LABEXTENSION,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "true", "NO_COLOR": "1"},
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- browser tests ---------------------------------------------------------------------

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=30_000)

needs_browser = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"
)
needs_extension = pytest.mark.skipif(
    installed_extension() is None,
    reason="the lab extension is not built: pip install -e . (or jlpm build in labextension/)",
)
pytestmark = [needs_browser, needs_extension]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, llama_a: LocalLlamaServer) -> Iterator[LabServer]:
    # One provider shipped by the admin: read-only in the panel.
    shipped = {"name": "shared", "type": "llamacpp", "endpoint": llama_a.endpoint}
    server = LabServer(tmp_path_factory.mktemp("lab"), mux_config={"providers": [shipped]}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser, lab: LabServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{lab.url}lab?token={lab.token}")
    expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)
    try:
        yield page
    finally:
        context.close()


class Shots:
    """Numbered screenshots of a test's steps."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page, self.prefix, self.n = page, prefix, 0
        SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(SHOTS / f"{self.prefix}-{self.n:02d}-{step}.png"))


def key(target: list[str]) -> str:
    """The picker's option value of [provider, model] (JSON.stringify's spelling)."""
    return json.dumps(target, separators=(",", ":"))


# Playwright's sync API runs its own event loop in this thread while the browser is open,
# so pytest-jupyter's autouse loop fixtures (which would grab and close the current loop)
# get a private loop here; these tests run their Jupyter server as a subprocess anyway.
@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process Jupyter server to clean up."""


@pytest.fixture(autouse=True)
def close_clients() -> None:
    """No openai clients either."""


def open_panel(page: Page) -> Locator:
    """Click the sidebar icon; answer the panel."""
    page.locator('.jp-SideBar [data-id="jupyter-mux-panel"]').click()
    panel = page.locator("#jupyter-mux-panel")
    expect(panel).to_be_visible()
    return panel


def status_text(page: Page) -> Locator:
    return page.locator(".jp-mux-statusbar-text")


def add_provider(panel: Locator, name: str, endpoint: str) -> None:
    panel.get_by_role("button", name="Add provider…").click()
    form = panel.get_by_role("form", name="Add provider")
    form.get_by_label("Display name", exact=True).fill(name)
    form.get_by_label("Type", exact=True).select_option("llamacpp")
    form.get_by_label("Endpoint", exact=True).fill(endpoint)
    form.get_by_role("button", name="Add provider", exact=True).click()
    expect(form).to_be_hidden()


def test_manage_providers_and_workspaces(
    page: Page, lab: LabServer, llama_a: LocalLlamaServer, llama_b: LocalLlamaServer
) -> None:
    shot = Shots(page, "main")
    panel = open_panel(page)
    expect(panel.locator('li[data-workspace="default"]')).to_have_attribute("aria-current", "true")
    expect(status_text(page)).to_have_text("default -> no model")
    expect(panel.get_by_label("Mux URL", exact=True)).to_have_value(f"{lab.url}mux/v1")
    shot("panel-open")

    # Add a llama.cpp provider: the type fills its default endpoint.
    types = {t["type"]: t for t in lab.api_ok("GET", "provider-types")}
    panel.get_by_role("button", name="Add provider…").click()
    form = panel.get_by_role("form", name="Add provider")
    form.get_by_label("Type", exact=True).select_option("llamacpp")
    expect(form.get_by_label("Endpoint", exact=True)).to_have_value(
        types["llamacpp"]["default_endpoint"]
    )
    form.get_by_label("Display name", exact=True).fill("llama-a")
    form.get_by_label("Endpoint", exact=True).fill(llama_a.endpoint)
    shot("add-provider-form")
    form.get_by_role("button", name="Add provider", exact=True).click()

    provider = panel.locator('li[data-provider="llama-a"]')
    expect(provider.get_by_role("list", name="Models of llama-a")).to_contain_text("tiny-a")
    expect(provider).to_contain_text("ok · 1 model")
    shot("provider-added")

    # Refresh its models.
    provider.get_by_role("button", name="Refresh models of llama-a").click()
    expect(provider.get_by_role("button", name="Refresh models of llama-a")).to_be_enabled()
    expect(provider.get_by_role("alert")).to_have_count(0)

    # Create a workspace: it has no model yet, and says so.
    panel.get_by_label("New workspace name", exact=True).fill("ws-one")
    panel.get_by_role("button", name="Create workspace").click()
    ws = panel.locator('li[data-workspace="ws-one"]')
    expect(ws.locator(".jp-mux-warning")).to_be_visible()
    shot("workspace-created")

    # Pick its model from the grouped, searchable picker.
    ws.get_by_label("Filter models (Model for workspace ws-one)", exact=True).fill("tiny")
    picker = ws.get_by_label("Model for workspace ws-one", exact=True)
    expect(picker.locator('optgroup[label="llama-a"] option')).to_have_text(["tiny-a"])
    picker.select_option(value=key(["llama-a", "tiny-a"]))
    expect(ws.locator(".jp-mux-model-text")).to_have_text("llama-a/tiny-a")
    expect(ws.locator(".jp-mux-warning")).to_have_count(0)
    shot("model-picked")

    # Activate it: the status bar follows, and the active one cannot be deleted.
    ws.get_by_role("button", name="Activate workspace ws-one").click()
    expect(status_text(page)).to_have_text("ws-one -> llama-a/tiny-a")
    expect(ws).to_have_attribute("aria-current", "true")
    expect(ws.get_by_role("button", name="Delete workspace ws-one")).to_be_disabled()
    assert lab.api_ok("GET", "active") == {"name": "ws-one"}
    shot("workspace-activated")

    # Deleting the provider warns about the workspace that uses it.
    provider.get_by_role("button", name="Delete provider llama-a").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text('Workspace "ws-one" uses it')
    shot("delete-provider-warning")
    dialog.get_by_role("button", name="Delete").click()
    expect(provider).to_have_count(0)

    # The workspace shows the problem and offers a fix: pick another model.
    expect(ws.locator(".jp-mux-warning")).to_contain_text("pick another model")
    shot("workspace-problem")
    add_provider(panel, "llama-b", llama_b.endpoint)
    expect(panel.locator('li[data-provider="llama-b"]')).to_contain_text("ok · 1 model")
    ws.get_by_label("Model for workspace ws-one", exact=True).select_option(
        value=key(["llama-b", "tiny-b"])
    )
    expect(ws.locator(".jp-mux-warning")).to_have_count(0)
    expect(status_text(page)).to_have_text("ws-one -> llama-b/tiny-b")
    shot("problem-fixed")


def test_switch_from_status_bar(page: Page, lab: LabServer, llama_b: LocalLlamaServer) -> None:
    shot = Shots(page, "switch")
    lab.api(
        "POST", "providers", {"name": "prov-b", "type": "llamacpp", "endpoint": llama_b.endpoint}
    )
    lab.api_ok(
        "POST",
        "workspaces",
        {"name": "first", "preferred": {"provider": "prov-b", "model": "tiny-b"}},
    )
    lab.api_ok("PUT", "active", {"name": "first"})
    panel = open_panel(page)
    expect(status_text(page)).to_have_text("first -> prov-b/tiny-b")

    # A second workspace, made in the panel.
    panel.get_by_label("New workspace name", exact=True).fill("second")
    panel.get_by_role("button", name="Create workspace").click()
    second = panel.locator('li[data-workspace="second"]')
    second.get_by_label("Model for workspace second", exact=True).select_option(
        value=key(["prov-b", "tiny-b"])
    )
    expect(second.locator(".jp-mux-model-text")).to_have_text("prov-b/tiny-b")

    # Switch from the status bar's quick switcher.
    page.locator(".jp-mux-statusbar").click()
    dialog = page.locator(".jp-mux-switcher-dialog")
    expect(dialog.get_by_role("button", name="Switch to workspace first")).to_have_attribute(
        "aria-current", "true"
    )
    dialog.get_by_label("Filter workspaces", exact=True).fill("sec")
    expect(dialog.get_by_role("button", name=re.compile("^Switch to workspace"))).to_have_count(1)
    shot("quick-switcher")
    dialog.get_by_role("button", name="Switch to workspace second").click()
    expect(dialog).to_have_count(0)
    expect(status_text(page)).to_have_text("second -> prov-b/tiny-b")
    expect(second).to_have_attribute("aria-current", "true")
    assert lab.api_ok("GET", "active") == {"name": "second"}
    shot("switched")

    # A change made elsewhere (REST, a notebook, another tab) shows up by itself.
    lab.api_ok("PUT", "active", {"name": "first"})
    expect(status_text(page)).to_have_text("first -> prov-b/tiny-b")
    expect(panel.locator('li[data-workspace="first"]')).to_have_attribute("aria-current", "true")

    # The palette command opens the same switcher.
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    palette.get_by_role("textbox").fill("Switch Mux Workspace")
    palette.locator(".lm-CommandPalette-item", has_text="Switch Mux Workspace").first.click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # Dark theme: the panel keeps to the theme's colours.
    page.evaluate(
        "window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false")
    expect(page.locator("#jupyterlab-splash")).to_have_count(0)
    expect(status_text(page)).to_have_text("first -> prov-b/tiny-b")
    shot("dark-theme")


def test_edit_provider_and_read_only(page: Page, lab: LabServer, llama_b: LocalLlamaServer) -> None:
    shot = Shots(page, "edit")
    lab.api(
        "POST",
        "providers",
        {"name": "keyed", "type": "openai", "endpoint": llama_b.endpoint, "api_key": "sk-stored"},
    )
    panel = open_panel(page)

    # The admin's provider is read-only: no edit or delete, but its models are listed.
    shared = panel.locator('li[data-provider="shared"]')
    expect(shared).to_contain_text("read-only")
    expect(shared.get_by_role("list", name="Models of shared")).to_contain_text("tiny-a")
    expect(shared.get_by_role("button", name="Edit provider shared")).to_have_count(0)
    expect(shared.get_by_role("button", name="Delete provider shared")).to_have_count(0)

    # Edit: the type is fixed, a blank key keeps the stored one.
    keyed = panel.locator('li[data-provider="keyed"]')
    keyed.get_by_role("button", name="Edit provider keyed").click()
    form = keyed.get_by_role("form", name="Edit provider keyed")
    expect(form.get_by_label("Type", exact=True)).to_be_disabled()
    key_field = form.get_by_label("API key", exact=True)
    expect(key_field).to_have_attribute("type", "password")
    expect(key_field).to_have_value("")
    form.get_by_label("Description", exact=True).fill("edited in the panel")
    shot("edit-form")
    form.get_by_role("button", name="Save").click()
    expect(form).to_have_count(0)
    expect(keyed).to_contain_text("edited in the panel")
    saved = lab.api_ok("GET", "providers/keyed")
    assert saved["description"] == "edited in the panel"
    assert saved["has_api_key"] is True

    # A provider that cannot be reached: refresh shows the error.
    lab.api_ok("PATCH", "providers/keyed", {"endpoint": "http://127.0.0.1:9/v1"})
    keyed.get_by_role("button", name="Refresh models of keyed").click()
    expect(keyed.get_by_role("alert").first).to_contain_text("error")
    expect(keyed.get_by_role("button", name="Refresh models of keyed")).to_be_enabled()
    shot("refresh-error")


def test_rules_editor_and_usage(page: Page, lab: LabServer, llama_b: LocalLlamaServer) -> None:
    shot = Shots(page, "rules")
    target = {"provider": "shared", "model": "tiny-a"}
    lab.api_ok("POST", "workspaces", {"name": "routed", "preferred": target})
    panel = open_panel(page)
    ws = panel.locator('li[data-workspace="routed"]')
    ws.get_by_role("button", name="Rules of workspace routed").click()
    editor = ws.get_by_role("region", name="Rules of routed")
    rules = editor.get_by_role("list", name="Rules of workspace routed")
    items = rules.locator(":scope > li")

    # Only the catch-all to begin with: pinned, neither draggable nor deletable.
    expect(items).to_have_count(1)
    catch_all = items.nth(0)
    expect(catch_all).to_have_attribute("data-rule-kind", "catch_all")
    expect(catch_all).to_have_attribute("draggable", "false")
    expect(catch_all.get_by_role("button", name=re.compile("^Delete rule"))).to_have_count(0)
    expect(catch_all.get_by_role("list", name="Targets of rule 1")).to_contain_text("shared/tiny-a")
    shot("editor-open")

    # Add a request_type rule, then a model rule "fast*" with a llama model.
    form = editor.get_by_role("form", name="New rule for workspace routed")
    form.get_by_label("Rule kind", exact=True).select_option("request_type")
    expect(form.get_by_label("Rule pattern", exact=True).locator("option")).to_have_text(
        ["chat", "fim (fill in the middle)"]
    )
    form.get_by_label("Rule pattern", exact=True).select_option("fim")
    form.get_by_label("Add target to new rule", exact=True).select_option(
        value=key(["shared", "tiny-a"])
    )
    form.get_by_role("button", name="Add rule").click()
    form.get_by_label("Rule kind", exact=True).select_option("model")
    form.get_by_label("Rule pattern", exact=True).fill("fast*")
    form.get_by_label("Add target to new rule", exact=True).select_option(
        value=key(["shared", "tiny-a"])
    )
    expect(form.get_by_role("list", name="Targets of new rule")).to_contain_text(
        "primary shared/tiny-a"
    )
    form.get_by_role("button", name="Add rule").click()
    # New rules go in front of the pinned catch-all.
    expect(items).to_have_count(3)
    expect(items.nth(1)).to_have_attribute("data-rule-kind", "model")
    expect(items.nth(2)).to_have_attribute("data-rule-kind", "catch_all")
    shot("rules-added")

    # Move the model rule up with the accessible button; the catch-all stays last.
    expect(items.nth(1).get_by_role("button", name="Move rule 2 down")).to_be_disabled()
    items.nth(1).get_by_role("button", name="Move rule 2 up").click()
    expect(items.nth(0)).to_have_attribute("data-rule-kind", "model")
    expect(items.nth(0)).to_contain_text("fast*")
    # And back down, then up again by drag and drop.
    items.nth(0).get_by_role("button", name="Move rule 1 down").click()
    expect(items.nth(1)).to_have_attribute("data-rule-kind", "model")
    items.nth(1).drag_to(items.nth(0))
    expect(items.nth(0)).to_have_attribute("data-rule-kind", "model")
    expect(items.nth(2)).to_have_attribute("data-rule-kind", "catch_all")
    shot("rule-moved")

    editor.get_by_role("button", name="Save rules of workspace routed").click()
    expect(editor.get_by_role("status").filter(has_text="Rules saved.")).to_be_visible()
    saved = lab.api_ok("GET", "workspaces/routed/rules")
    assert [(r["kind"], r["pattern"]) for r in saved] == [
        ("model", "fast*"),
        ("request_type", "fim"),
        ("catch_all", None),
    ]
    assert saved[0]["targets"] == [target] and saved[0]["ok"] is True
    shot("rules-saved")

    # A bad rule (no target): a hint, and the server's 400 message on save.
    form.get_by_label("Rule kind", exact=True).select_option("filename")
    form.get_by_label("Rule pattern", exact=True).fill("*.py")
    expect(form).to_contain_text("Choose at least one target model.")
    form.get_by_role("button", name="Add rule").click()
    expect(items).to_have_count(4)
    editor.get_by_role("button", name="Save rules of workspace routed").click()
    expect(editor.get_by_role("alert")).to_contain_text("at least one target is required")
    shot("bad-rule-error")
    assert len(lab.api_ok("GET", "workspaces/routed/rules")) == 3
    items.nth(2).get_by_role("button", name="Delete rule 3").click()
    expect(items).to_have_count(3)
    expect(editor.get_by_role("alert")).to_have_count(0)
    # Back to what is saved: nothing to save or discard.
    expect(editor.get_by_role("button", name="Save rules of workspace routed")).to_be_disabled()
    expect(
        editor.get_by_role("button", name="Discard rule changes of workspace routed")
    ).to_be_disabled()

    # A request through the mux, routed by the new rule, shows up in the usage view.
    lab.api_ok("PUT", "active", {"name": "routed"})
    answer = httpx.post(
        f"{lab.url}mux/v1/chat/completions",
        json={"model": "fast-1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        headers={"Authorization": f"token {lab.token}"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Mux-Model"] == "tiny-a"
    panel.get_by_role("button", name="Show usage").click()
    usage = panel.get_by_role("region", name="Usage")
    expect(usage.get_by_role("table", name="Usage by workspace")).to_be_visible()
    row = usage.locator('tr[data-usage-key="routed"]')
    expect(row).to_be_visible()
    expect(row.locator("td").first).to_have_text(re.compile(r"^[1-9]"))
    usage.get_by_label("Group usage by", exact=True).select_option("model")
    table = usage.get_by_role("table", name="Usage by model")
    expect(table.locator('tr[data-usage-key="tiny-a"]')).to_be_visible()
    expect(table.locator('tr[data-usage-key="tiny-a"] td').last).to_have_text(
        re.compile(r"^(unknown|\$)")
    )
    expect(usage.get_by_role("img", name=re.compile(r"^tiny-a: [\d,]+ tokens$"))).to_be_visible()
    usage.scroll_into_view_if_needed()
    shot("usage")

    # A rule whose provider disappeared is kept and flagged with its problem.
    lab.api_ok(
        "POST", "providers", {"name": "temp", "type": "llamacpp", "endpoint": llama_b.endpoint}
    )
    lab.api_ok("POST", "workspaces", {"name": "flagged"})
    lab.api_ok(
        "PUT",
        "workspaces/flagged/rules",
        [
            {
                "kind": "model",
                "pattern": "x*",
                "targets": [{"provider": "temp", "model": "tiny-b"}],
            },
            {"kind": "catch_all", "pattern": None, "targets": []},
        ],
    )
    lab.api_ok("DELETE", "providers/temp")
    flagged = panel.locator('li[data-workspace="flagged"]')
    flagged.get_by_role("button", name="Rules of workspace flagged").click()
    first = (
        flagged.get_by_role("list", name="Rules of workspace flagged").locator(":scope > li").first
    )
    expect(first.locator(".jp-mux-badge-error")).to_have_text("problem")
    expect(first.get_by_role("status")).to_contain_text("temp")
    first.scroll_into_view_if_needed()
    shot("rule-flagged")
