"""The JupyterLab front end, end to end: a real `jupyter lab` with this checkout's
extension, real llama.cpp upstreams, and Debian's Chromium driven by Playwright at 1280x800,
in the light and the dark theme. Every step leaves a screenshot in test-artifacts/ui/, and
the sidebar and each section of the main view are checked for anything cut off. Also runs
the TypeScript unit tests (`jlpm test`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import httpx
import pytest

from jupyter_mux.localmodel import LocalLlamaServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

from .ui.browser import (  # noqa: F401 (fixtures, found by name)
    Shots,
    assert_buttons_look_like_jupyterlab,
    assert_nothing_cut_off,
    browser,
    close_clients,
    expect,
    jp_asyncio_loop,
    jp_server_cleanup,
    set_theme,
    sync_api,
)
from .ui.lab import CHROMIUM, ROOT, LabServer, installed_extension
from .ui.overflow import overflowing

LABEXTENSION = ROOT / "labextension"


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


def test_generated_api_types_are_current() -> None:
    """src/api-schema.ts is what `jlpm build:api-types` makes of docs/openapi.json now."""
    generator = LABEXTENSION / "node_modules" / ".bin" / "openapi-typescript"
    if not generator.exists():
        pytest.skip("labextension/node_modules missing: run `jlpm install` in labextension/")
    script = json.loads((LABEXTENSION / "package.json").read_text())["scripts"]
    command = script["build:api-types"].split()
    assert command[0] == "openapi-typescript" and command[-2] == "--output"
    result = subprocess.run(
        [str(generator), *command[1:-2]],
        cwd=LABEXTENSION,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    committed = (LABEXTENSION / command[-1]).read_text()
    assert result.stdout == committed, "regenerate: (cd labextension && jlpm build:api-types)"


# --- browser tests ---------------------------------------------------------------------


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
    # One provider shipped by the admin: read-only in the view.
    shipped = {"name": "shared", "type": "llamacpp", "endpoint": llama_a.endpoint}
    server = LabServer(tmp_path_factory.mktemp("lab"), mux_config={"providers": [shipped]}).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, lab: LabServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{lab.url}lab?token={lab.token}")
    expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)
    try:
        yield page
    finally:
        context.close()


def test_the_overflow_check_finds_what_is_cut_off(browser: Browser) -> None:
    """The check the UI tests rely on: it names clipped content, an element sticking out,
    and form controls too narrow for their text, and passes what fits."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.set_content(
            """<div id="box" style="width: 300px; font: 13px sans-serif">
              <div id="fits">short</div>
              <div id="clipped" style="overflow: hidden; white-space: nowrap">
                a long line of words that cannot wrap and does not fit in three hundred pixels
              </div>
              <div id="out" style="width: 400px">wider than its box</div>
              <select style="width: 80px"><option>OpenAI (and compatible APIs)</option></select>
              <input id="url" style="width: 80px" value="http://127.0.0.1:8888/mux/v1">
              <input id="hint" style="width: 80px" placeholder="New workspace name">
              <select id="wide" style="width: 280px"><option>llama</option></select>
            </div>"""
        )
        problems = "\n".join(overflowing(page, "#box"))
        for cut in ("a long line", "wider than its box", "OpenAI (and", "mux/v1", "New workspace"):
            assert cut in problems
        assert "#fits" not in problems and "#wide" not in problems
    finally:
        page.close()


def key(provider: str, model: str) -> str:
    """A model option's value: [provider, model] as JSON.stringify spells it."""
    return json.dumps([provider, model], separators=(",", ":"))


def open_sidebar(page: Page) -> Locator:
    page.locator('.jp-SideBar [data-id="jupyter-mux-panel"]').click()
    sidebar = page.locator("#jupyter-mux-panel")
    expect(sidebar).to_be_visible()
    return sidebar


def status_text(page: Page) -> Locator:
    return page.locator(".jp-mux-statusbar-text")


def mux_chat(lab: LabServer, path: str, model: str = "mux") -> httpx.Response:
    return httpx.post(
        f"{lab.url}{path}/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
        headers=lab.headers,
        timeout=60,
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_manage_everything_in_the_main_view(
    page: Page,
    lab: LabServer,
    llama_b: LocalLlamaServer,
    free_port: int,
    theme: str,
) -> None:
    """Add a provider (an unreachable one first), make two workspaces, edit rules, switch
    from the status bar, see the usage charts with data; nothing cut off anywhere."""
    shot = Shots(page, theme)
    set_theme(page, theme)
    provider, alpha, beta = f"{theme}-llama", f"{theme}-alpha", f"{theme}-beta"
    asked_me: list[int] = []
    page.on(
        "response",
        lambda r: (
            asked_me.append(r.status) if urlparse(r.url).path.endswith("/mux/api/me") else None
        ),
    )

    # The sidebar: the workspaces with their model, and the way into the main view.
    sidebar = open_sidebar(page)
    expect(sidebar.locator('li[data-workspace="default"]')).to_be_visible()
    tab = page.locator(".jp-SideBar .lm-TabBar-tab[data-id='jupyter-mux-panel']")
    expect(tab).to_have_attribute("title", "Model Mux")
    assert_nothing_cut_off(page, "#jupyter-mux-panel")
    shot("sidebar")
    sidebar.get_by_role("button", name="Open Model Mux").click()
    view = page.locator("#jupyter-mux-view")
    expect(view.get_by_role("heading", name="Model Mux", exact=True)).to_be_visible()
    expect(page.locator(".lm-DockPanel .lm-TabBar-tab.lm-mod-current")).to_contain_text("Model Mux")

    # Providers: an unreachable endpoint keeps the form open with the reason.
    view.get_by_role("tab", name="Providers").click()
    shared = view.locator('li[data-provider="shared"]')
    expect(shared).to_contain_text("read-only")
    expect(shared.get_by_role("button", name="Edit provider shared")).to_have_count(0)
    view.get_by_role("button", name="Add provider…").click()
    form = view.get_by_role("form", name="Add provider")
    form.get_by_label("Display name", exact=True).fill(provider)
    form.get_by_label("Type", exact=True).select_option("llamacpp")
    form.get_by_label("Endpoint", exact=True).fill(f"http://127.0.0.1:{free_port}")
    form.get_by_role("button", name="Add provider", exact=True).click()
    expect(form.get_by_role("alert")).to_contain_text("Cannot reach this provider")
    expect(form.get_by_role("alert")).to_contain_text("connection refused")
    expect(form.get_by_role("button", name="Save anyway")).to_be_enabled()
    expect(form.get_by_role("alert")).to_be_in_viewport()
    assert lab.api("GET", f"providers/{provider}").status_code == 404
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("unreachable-provider")
    # Fixed: it is added, with its model, and the form closes.
    form.get_by_label("Endpoint", exact=True).fill(llama_b.endpoint)
    expect(form.get_by_role("button", name="Save anyway")).to_have_count(0)
    form.get_by_role("button", name="Add provider", exact=True).click()
    expect(form).to_have_count(0)
    card = view.locator(f'li[data-provider="{provider}"]')
    expect(card.get_by_role("list", name=f"Models of {provider}")).to_have_text("tiny-b")
    expect(card.locator(".jp-mux-status")).to_have_text("1 model")
    # One editor at a time, and Escape closes it.
    card.get_by_role("button", name=f"Edit provider {provider}").click()
    expect(card.get_by_role("form", name=f"Edit provider {provider}")).to_be_visible()
    view.get_by_role("button", name="Add provider…").click()
    expect(card.get_by_role("form")).to_have_count(0)
    expect(view.get_by_role("form", name="Add provider")).to_be_visible()
    view.get_by_role("form", name="Add provider").get_by_label("Display name").press("Escape")
    expect(view.get_by_role("form", name="Add provider")).to_have_count(0)
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
    shot("providers")

    # Workspaces: two, each made with its model; pickers say provider/model.
    view.get_by_role("tab", name="Workspaces").click()
    new_model = view.get_by_label("Model of the new workspace", exact=True)
    expect(new_model.locator("option", has_text="tiny-a").first).to_have_text("shared/tiny-a")
    for name, (prov, model) in ((alpha, ("shared", "tiny-a")), (beta, (provider, "tiny-b"))):
        view.get_by_label("New workspace name", exact=True).fill(name)
        new_model.select_option(value=key(prov, model))
        view.get_by_role("button", name="Create workspace").click()
        expect(view.locator(f'li[data-workspace="{name}"] .jp-mux-model-text')).to_have_text(
            f"{prov}/{model}"
        )
    ws = view.locator(f'li[data-workspace="{alpha}"]')
    expect(sidebar.locator(f'li[data-workspace="{beta}"]')).to_contain_text(f"{provider}/tiny-b")
    # A plain server shares no workspace (tests/test_ui_hub.py has the Hub's shared ones).
    assert not any(w["shared"] for w in lab.api_ok("GET", "workspaces"))
    expect(page.locator(".jp-mux-badge-shared")).to_have_count(0)
    expect(ws.get_by_role("button", name=f"Rename workspace {alpha}")).to_be_enabled()
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("workspaces")

    # Rules of alpha: requests for "fast*" models go to the other provider.
    ws.get_by_role("button", name=f"Rules of workspace {alpha}").click()
    editor = ws.get_by_role("region", name=f"Rules of {alpha}")
    rules = editor.get_by_role("list", name=f"Rules of workspace {alpha}").locator(":scope > li")
    expect(rules).to_have_count(1)
    expect(rules.nth(0)).to_contain_text("Everything else")
    expect(rules.nth(0)).to_contain_text("shared/tiny-a")
    new_rule = editor.get_by_role("form", name=f"New rule for workspace {alpha}")
    expect(new_rule.get_by_label("Rule kind", exact=True).locator("option")).to_have_text(
        ["Requested model name", "File name", "Request type"]
    )
    new_rule.get_by_label("Rule kind", exact=True).select_option("request_type")
    expect(new_rule.get_by_label("Rule pattern", exact=True).locator("option")).to_have_text(
        ["Chat", "Code completion (fill in the middle)", "Embeddings"]
    )
    new_rule.get_by_label("Rule kind", exact=True).select_option("model")
    new_rule.get_by_label("Rule pattern", exact=True).fill("fast*")
    new_rule.get_by_label("Add a model to new rule", exact=True).select_option(
        value=key(provider, "tiny-b")
    )
    new_rule.get_by_role("button", name="Add rule").click()
    expect(rules).to_have_count(2)
    expect(rules.nth(0)).to_contain_text("When the requested model matches fast*")
    expect(editor).not_to_contain_text("⊥")
    expect(editor).not_to_contain_text("catch_all")
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
    shot("rules-edited")
    editor.get_by_role("button", name=f"Save rules of workspace {alpha}").click()
    expect(editor.get_by_role("status").filter(has_text="Rules saved.")).to_be_visible()
    saved = lab.api_ok("GET", f"workspaces/{alpha}/rules")
    assert [(r["kind"], r["pattern"]) for r in saved] == [("model", "fast*"), ("catch_all", None)]
    assert saved[0]["targets"] == [{"provider": provider, "model": "tiny-b"}]
    # Opening another editor closes this one.
    beta_card = view.locator(f'li[data-workspace="{beta}"]')
    beta_card.get_by_role("button", name=f"Change model of workspace {beta}").click()
    expect(editor).to_have_count(0)
    expect(beta_card.get_by_label(f"Model for workspace {beta}", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(beta_card.get_by_label(f"Model for workspace {beta}", exact=True)).to_have_count(0)

    # Switch from the status bar: alpha first, then beta.
    for name, target in ((alpha, "shared/tiny-a"), (beta, f"{provider}/tiny-b")):
        page.locator(".jp-mux-statusbar").click()
        dialog = page.locator(".jp-mux-switcher-dialog")
        dialog.get_by_role("button", name=f"Switch to workspace {name}").click()
        expect(dialog).to_have_count(0)
        expect(status_text(page)).to_have_text(f"{name} → {target}")
        expect(sidebar.locator(f'li[data-workspace="{name}"]')).to_have_attribute(
            "aria-current", "true"
        )
        assert lab.api_ok("GET", "active") == {"name": name}
    shot("switched")

    # Requests through the mux: routed by the rule and by the active workspace.
    assert mux_chat(lab, "mux/v1").headers["X-Mux-Model"] == "tiny-b"
    fast = mux_chat(lab, f"mux/w/{alpha}/v1", model="fast-1")
    assert (fast.headers["X-Mux-Provider"], fast.headers["X-Mux-Model"]) == (provider, "tiny-b")
    assert mux_chat(lab, f"mux/w/{alpha}/v1").headers["X-Mux-Model"] == "tiny-a"

    # Usage: totals, spend and tokens over time by workspace, then by model. Spend needs a
    # price (USD per million tokens).
    for prov, model in (("shared", "tiny-a"), (provider, "tiny-b")):
        price = {"model": model, "prompt_per_million": 1000, "completion_per_million": 2000}
        lab.api_ok("PUT", f"providers/{prov}/prices", price)
    # A plain server has no Hub service: /mux/api/me answered 404 when the view opened and
    # is not asked again, so no budgets and no switch to all users' usage
    # (tests/test_ui_hub.py has those).
    view.get_by_role("tab", name="Usage").click()
    assert asked_me == [404]
    table = view.get_by_role("table", name="Usage by workspace")
    expect(table.locator(f'tr[data-usage-key="{alpha}"] td').first).to_have_text("2")
    expect(table.locator(f'tr[data-usage-key="{beta}"] td').first).to_have_text("1")
    expect(view.get_by_role("img", name="Spend over time by workspace")).to_be_visible()
    expect(view.get_by_role("img", name="Tokens over time by workspace")).to_be_visible()
    totals = view.get_by_role("definition")
    expect(totals.first).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    expect(totals.last).to_have_text(re.compile(r"^\$0\.\d+$"))
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("usage-by-workspace")
    view.get_by_label("By", exact=True).select_option("model")
    by_model = view.get_by_role("table", name="Usage by model")
    expect(by_model.locator('tr[data-usage-key="tiny-b"]')).to_be_visible()
    expect(view.get_by_role("img", name="Tokens over time by model")).to_be_visible()
    expect(view.get_by_label("By", exact=True).locator("option")).to_have_text(
        ["Workspace", "Model"]
    )
    expect(view.get_by_role("list", name="Budgets")).to_have_count(0)
    expect(view.get_by_role("button", name="All users")).to_have_count(0)
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("usage-by-model")

    # Connect: the URL and the snippets, whole.
    view.get_by_role("tab", name="Connect").click()
    expect(view.get_by_label("Mux URL", exact=True)).to_have_text(f"{lab.url}mux/v1")
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    assert_nothing_cut_off(page, "#jupyter-mux-panel")
    shot("connect")


def test_save_anyway_and_the_status_bar_way_in(page: Page, lab: LabServer, free_port: int) -> None:
    """The status bar's switcher opens the main view; "Save anyway" saves a provider that
    cannot be reached, flagged as such."""
    shot = Shots(page, "anyway")
    page.locator(".jp-mux-statusbar").click()
    page.locator(".jp-mux-switcher-dialog").get_by_role("button", name="Open Model Mux").click()
    view = page.locator("#jupyter-mux-view")
    expect(view.get_by_role("tab", name="Workspaces")).to_have_attribute("aria-selected", "true")
    view.get_by_role("tab", name="Providers").click()
    view.get_by_role("button", name="Add provider…").click()
    form = view.get_by_role("form", name="Add provider")
    form.get_by_label("Display name", exact=True).fill("later")
    form.get_by_label("Type", exact=True).select_option("vllm")
    form.get_by_label("Endpoint", exact=True).fill(f"http://127.0.0.1:{free_port}/v1")
    form.get_by_role("button", name="Add provider", exact=True).click()
    form.get_by_role("button", name="Save anyway").click()
    expect(form).to_have_count(0)
    card = view.locator('li[data-provider="later"]')
    expect(card.get_by_role("alert")).to_contain_text("Unreachable")
    expect(view.get_by_role("status")).to_contain_text('Added "later"; it cannot be reached yet.')
    saved = lab.api_ok("GET", "providers/later")
    assert saved["status"] == "error" and saved["endpoint"] == f"http://127.0.0.1:{free_port}/v1"
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("saved-anyway")


@pytest.mark.parametrize("width", [1280, 720])
def test_connect_shows_a_snippet_per_dialect(browser: Browser, lab: LabServer, width: int) -> None:
    """The Connect tab: the mux URL and a copyable snippet per client dialect, each with
    the right base URL and the key, whole at a wide and a narrow window."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(f"{lab.url}lab?token={lab.token}")
        expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)
        shot = Shots(page, f"connect-{width}")
        page.evaluate("() => window.jupyterapp.commands.execute('jupyter-mux:open')")
        view = page.locator("#jupyter-mux-view")
        view.get_by_role("tab", name="Connect").click()
        openai_url = f"{lab.url}mux/v1"
        expect(view.get_by_label("Mux URL", exact=True)).to_have_text(openai_url)
        ids = ["openai", "responses", "anthropic", "langchain", "embeddings", "env"]
        for snippet_id in ids:
            box = view.locator(f'[data-snippet="{snippet_id}"]')
            expect(box).to_be_visible()
            expect(box.get_by_role("button", name=re.compile("^Copy .* snippet$"))).to_be_visible()
        key = "<your Jupyter token>"  # never the token itself, which grants everything
        expect(view).not_to_contain_text(lab.token)
        env = view.locator('[data-snippet="env"] pre')
        expect(env).to_contain_text(f"export OPENAI_BASE_URL='{openai_url}'")
        expect(env).to_contain_text(f"export ANTHROPIC_BASE_URL='{lab.url}mux'")
        expect(env).to_contain_text(f"export ANTHROPIC_AUTH_TOKEN='{key}'")
        anthropic = view.locator('[data-snippet="anthropic"] pre')
        expect(anthropic).to_contain_text(f'base_url="{lab.url}mux",\n    api_key="{key}",')
        copy = view.get_by_role("button", name=re.compile("^Copy .*environment variables"))
        copy.click()
        expect(copy).to_have_text("Copied")
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
        shot("snippets")
    finally:
        context.close()


def test_editing_a_keyed_provider_warns_about_the_key(page: Page, lab: LabServer) -> None:
    """The edit form says that a new host drops the stored key, and opens from the
    palette; a provider edit that cannot be tried first is saved as before."""
    shot = Shots(page, "edit")
    lab.api(
        "POST",
        "providers",
        {"name": "keyed", "type": "openai", "endpoint": "http://127.0.0.1:9/v1", "api_key": "k"},
    )
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette")
    palette.get_by_role("textbox").fill("Open Model Mux")
    palette.locator(".lm-CommandPalette-item", has_text="Open Model Mux").first.click()
    view = page.locator("#jupyter-mux-view")
    view.get_by_role("tab", name="Providers").click()
    card = view.locator('li[data-provider="keyed"]')
    expect(card.get_by_role("alert").first).to_contain_text("Unreachable")
    card.get_by_role("button", name="Edit provider keyed").click()
    form = card.get_by_role("form", name="Edit provider keyed")
    expect(form.get_by_label("Type", exact=True)).to_be_disabled()
    expect(form.get_by_role("note")).to_contain_text("drops the stored API key")
    form.get_by_label("Endpoint", exact=True).fill("http://127.0.0.2:9/v1")
    expect(form.get_by_role("note")).to_contain_text("another host")
    form.get_by_label("Endpoint", exact=True).fill("http://127.0.0.1:9/v2")
    form.get_by_label("Description", exact=True).fill("edited in the view")
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("edit-form")
    form.get_by_role("button", name="Save", exact=True).click()
    expect(form).to_have_count(0)
    expect(card).to_contain_text("edited in the view")
    saved = lab.api_ok("GET", "providers/keyed")
    assert saved["endpoint"] == "http://127.0.0.1:9/v2" and saved["has_api_key"] is True


def test_opening_the_view_while_the_page_loads_shows_it(browser: Browser, lab: LabServer) -> None:
    """`jupyter-mux:open` run before JupyterLab has restored its layout (a command in a
    URL or another extension's start-up): the view is shown, not dropped by the restore.
    The layout's fetch is held until the command has run, so the order is certain."""
    # A saved layout with a file open in the main area: restoring it drops what is unknown.
    # The layout before is put back at the end, for the tests after this one.
    workspace = f"{lab.url}lab/api/workspaces/default"
    before = httpx.get(workspace, headers=lab.headers).raise_for_status().json()
    path = "restored.txt"
    httpx.put(
        f"{lab.url}api/contents/{path}",
        json={"type": "file", "format": "text", "content": "kept open"},
        headers=lab.headers,
    ).raise_for_status()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{lab.url}lab?token={lab.token}")
    expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)
    saved = lambda r: r.method == "PUT" and path in (r.post_data or "")  # noqa: E731
    with page.expect_request(saved, timeout=60_000):
        page.evaluate(
            f"() => window.jupyterapp.commands.execute('docmanager:open', {{path: '{path}'}})"
        )
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    held: list = []
    context.route("**/lab/api/workspaces/**", lambda route: held.append(route))
    page = context.new_page()
    try:
        page.goto(f"{lab.url}lab?token={lab.token}")
        page.wait_for_function(
            "() => window.jupyterapp?.commands.hasCommand('jupyter-mux:open')", timeout=60_000
        )
        deadline = time.monotonic() + 60
        while not held:  # the fetch comes after the plugins have started
            assert time.monotonic() < deadline, "JupyterLab never fetched its layout"
            page.wait_for_timeout(20)
        page.evaluate("() => { void window.jupyterapp.commands.execute('jupyter-mux:open') }")
        for route in held:
            route.continue_()
        context.unroute("**/lab/api/workspaces/**")
        expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)
        view = page.locator("#jupyter-mux-view")
        expect(view.get_by_role("tab", name="Workspaces")).to_have_attribute(
            "aria-selected", "true"
        )
        expect(page.locator(".lm-DockPanel .lm-TabBar-tab.lm-mod-current")).to_contain_text(
            "Model Mux"
        )
        expect(page.locator(".lm-DockPanel .lm-TabBar-tab", has_text=path)).to_be_visible()
    finally:
        context.close()
        httpx.put(workspace, json=before, headers=lab.headers).raise_for_status()
