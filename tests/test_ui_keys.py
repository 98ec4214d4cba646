"""Scoped mux keys in the JupyterLab front end, end to end (issue 14): the Keys tab of the
Model Mux view creates a key, shows its secret once with a Copy button, lists it by its
prefix and revokes it after a dialog naming it; the Connect tab puts a key it makes into
its snippets. A real `jupyter lab` with this checkout's extension, Debian's Chromium via
Playwright, light and dark themes, nothing cut off; screenshots in test-artifacts/ui/.

The tests that create keys need the keys backend (`/mux/api/keys`, API.md section 5): they
are skipped while the server answers 404 there (see `keys_backend`)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

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
from .ui.lab import CHROMIUM, LabServer, installed_extension

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        installed_extension() is None,
        reason="the lab extension is not built: pip install -e . (or jlpm build in labextension/)",
    ),
]

PINNED = "pinned-ws"
PLACEHOLDER = "<your Jupyter token>"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("lab-keys")).start()
    try:
        server.api_ok("POST", "workspaces", {"name": PINNED})
        yield server
    finally:
        server.stop()


class KeysBackend:
    """What the server says about keys, to check the UI against: the list, and whether a
    secret gets through the mux."""

    def __init__(self, lab: LabServer) -> None:
        self.lab = lab

    def list(self) -> list[dict[str, Any]]:
        return self.lab.api_ok("GET", "keys")

    def by_name(self, name: str) -> dict[str, Any] | None:
        return next((k for k in self.list() if k["name"] == name), None)

    def works(self, secret: str) -> bool:
        """Whether the secret authenticates a mux route (401 once revoked)."""
        response = httpx.get(
            f"{self.lab.url}mux/v1/models",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
        return response.status_code not in (401, 403)


@pytest.fixture(scope="module")
def keys_backend(lab: LabServer) -> KeysBackend:
    return KeysBackend(lab)


def open_page(browser: Browser, lab: LabServer, width: int) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url.rstrip("/"))
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{lab.url}lab?token={lab.token}")
    expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=60_000)
    return context, page


@pytest.fixture
def page(browser: Browser, lab: LabServer) -> Iterator[Page]:
    context, page = open_page(browser, lab, 1280)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def narrow_page(browser: Browser, lab: LabServer) -> Iterator[Page]:
    context, page = open_page(browser, lab, 720)
    try:
        yield page
    finally:
        context.close()


def open_tab(page: Page, name: str) -> Locator:
    page.evaluate("() => window.jupyterapp.commands.execute('jupyter-mux:open')")
    view = page.locator("#jupyter-mux-view")
    view.get_by_role("tab", name=name, exact=True).click()
    expect(view.get_by_role("tab", name=name, exact=True)).to_have_attribute(
        "aria-selected", "true"
    )
    return view


def clipboard(page: Page) -> str:
    return page.evaluate("() => navigator.clipboard.readText()")


def test_the_keys_tab_is_whole_whatever_the_backend_says(page: Page, lab: LabServer) -> None:
    """The Keys tab sits between Usage and Connect and is never cut off: with the keys
    backend it lists them, without it (404) it says that the keys cannot be loaded."""
    view = open_tab(page, "Keys")
    tabs = view.get_by_role("tab")
    expect(tabs).to_have_text(["Workspaces", "Providers", "Usage", "Keys", "Connect"])
    if lab.api("GET", "keys").status_code == 404:
        expect(view.get_by_role("alert")).to_contain_text("The keys cannot be loaded")
    else:
        expect(view.locator(".jp-mux-section")).to_contain_text(re.compile("No keys yet|Revoke"))
    view.get_by_role("button", name="Create key…").click()
    form = view.get_by_role("form", name="Create a mux key")
    expect(form.get_by_label("Workspace", exact=True).locator("option")).to_have_text(
        ["Any workspace", "default", PINNED]
    )
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    form.get_by_label("Key name", exact=True).press("Escape")
    expect(form).to_have_count(0)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_create_see_once_copy_list_and_revoke_a_key(
    page: Page, lab: LabServer, keys_backend: KeysBackend, theme: str
) -> None:
    shot = Shots(page, f"keys-{theme}")
    set_theme(page, theme)
    name = f"{theme}-laptop"
    view = open_tab(page, "Keys")
    assert_nothing_cut_off(page, "#jupyter-mux-view")

    # The form checks every field and says what is wrong in words.
    view.get_by_role("button", name="Create key…").click()
    form = view.get_by_role("form", name="Create a mux key")
    form.get_by_label("Last day", exact=True).fill("2020-01-01")
    form.get_by_label("Budget (USD)", exact=True).fill("ten")
    form.get_by_role("button", name="Create key", exact=True).click()
    name_field = form.get_by_label("Key name", exact=True)
    expect(name_field).to_have_attribute("aria-invalid", "true")
    expect(form).to_contain_text("Give the key a name")
    expect(form).to_contain_text("The expiry is in the past")
    expect(form).to_contain_text("The budget is an amount in US dollars, like 5 or 12.50")
    expect(form.get_by_role("alert")).to_contain_text("Please correct the marked fields.")
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("form-problems")
    # Escape closes the editor; one editor at a time.
    name_field.press("Escape")
    expect(form).to_have_count(0)

    # Create: pinned to a workspace, with an expiry and a budget.
    last_day = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    view.get_by_role("button", name="Create key…").click()
    form.get_by_label("Key name", exact=True).fill(name)
    form.get_by_label("Workspace", exact=True).select_option(PINNED)
    form.get_by_label("Last day", exact=True).fill(last_day)
    form.get_by_label("Budget (USD)", exact=True).fill("5")
    form.get_by_role("button", name="Create key", exact=True).click()
    expect(form).to_have_count(0)

    # The secret, once, with Copy.
    box = view.get_by_role("region", name=f"Secret of the new key {name}")
    expect(box).to_contain_text("you will not see it again")
    secret = box.get_by_label("Secret", exact=True).inner_text().strip()
    saved = keys_backend.by_name(name)
    assert saved is not None, keys_backend.list()
    assert secret.startswith(saved["prefix"]) and len(secret) > len(saved["prefix"])
    assert (saved["workspace"], saved["budget_usd"]) == (PINNED, 5)
    assert saved["expires_at"] and "secret" not in saved
    copy = box.get_by_role("button", name=f"Copy the secret of {name}")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert clipboard(page) == secret
    assert keys_backend.works(secret)

    # Listed by its prefix, with what it is allowed; never the secret.
    card = view.locator(f'li[data-key-prefix="{saved["prefix"]}"]')
    expect(card.get_by_label("Key prefix", exact=True)).to_have_text(f"{saved['prefix']}…")
    expect(card).to_contain_text(name)
    expect(card).to_contain_text(f"Pinned to {PINNED}")
    expect(card).to_contain_text(f"Expires {last_day} 23:59")
    expect(card).to_contain_text("$0 of $5.00 spent")
    expect(card).to_contain_text("Never used")
    expect(card).not_to_contain_text(secret)
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
    shot("secret-once")
    box.get_by_role("button", name="I have copied it").click()
    expect(box).to_have_count(0)
    expect(view).not_to_contain_text(secret)

    # Revoke, after a dialog that names the key: cancel first, then confirm.
    card.get_by_role("button", name=f"Revoke key {name}").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f'Revoke the key "{name}" ({saved["prefix"]}…)?')
    shot("revoke-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(card).to_be_visible()
    card.get_by_role("button", name=f"Revoke key {name}").click()
    dialog.get_by_role("button", name="Revoke", exact=True).click()
    expect(card).to_have_count(0)
    assert keys_backend.by_name(name) is None
    assert not keys_backend.works(secret)
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("revoked")


def test_connect_snippets_carry_a_created_key(
    narrow_page: Page, lab: LabServer, keys_backend: KeysBackend
) -> None:
    """At a narrow window: the snippets show the placeholder until "Create a key for this"
    makes a key; then they carry its secret until another key is made, the tab is left or
    the view is closed."""
    page = narrow_page
    shot = Shots(page, "keys-connect")
    view = open_tab(page, "Connect")
    env = view.locator('[data-snippet="env"] pre')
    expect(env).to_contain_text(f"export OPENAI_API_KEY='{PLACEHOLDER}'")

    secrets, prefixes = [], []
    for n in range(2):
        view.get_by_role("button", name="Create a key for this").click()
        form = view.get_by_role("form", name="Create a mux key for these snippets")
        expect(env).to_contain_text(PLACEHOLDER)  # the previous key leaves the snippets
        name = form.get_by_label("Key name", exact=True).input_value()
        assert re.fullmatch(r"connect-\d{4}-\d\d-\d\d(-\d+)?", name)
        if n == 0:
            assert_nothing_cut_off(page, "#jupyter-mux-view")
            shot("form")
        form.get_by_role("button", name="Create key", exact=True).click()
        expect(form).to_have_count(0)
        saved = keys_backend.by_name(name)
        assert saved is not None, keys_backend.list()
        expect(env).to_contain_text(f"export OPENAI_API_KEY='{saved['prefix']}")
        secret = re.search(r"OPENAI_API_KEY='([^']+)'", env.inner_text()).group(1)
        assert secret.startswith(saved["prefix"]) and secret != PLACEHOLDER
        expect(env).to_contain_text(f"export ANTHROPIC_AUTH_TOKEN='{secret}'")
        anthropic = view.locator('[data-snippet="anthropic"] pre')
        expect(anthropic).to_contain_text(f'api_key="{secret}"')
        expect(view).to_contain_text("you will not see its secret again")
        for old in secrets:
            expect(view).not_to_contain_text(old)
        secrets.append(secret)
        prefixes.append(saved["prefix"])
        assert keys_backend.works(secret)

    copy = view.get_by_role("button", name=re.compile("^Copy .*environment variables"))
    copy.click()
    expect(copy).to_have_text("Copied")
    assert secrets[-1] in clipboard(page)
    expect(view).not_to_contain_text(lab.token)
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
    shot("snippets-with-key")

    # Leaving the tab forgets the secret: back to the placeholder.
    view.get_by_role("tab", name="Keys", exact=True).click()
    for prefix in prefixes:
        expect(view.locator(f'li[data-key-prefix="{prefix}"]')).to_be_visible()
    assert_nothing_cut_off(page, "#jupyter-mux-view")
    shot("keys-narrow")
    view.get_by_role("tab", name="Connect", exact=True).click()
    expect(env).to_contain_text(f"export OPENAI_API_KEY='{PLACEHOLDER}'")
    for secret in secrets:
        expect(view).not_to_contain_text(secret)
    shot("placeholder-again")

    # So does closing the view: a key made, the view closed and opened again.
    view.get_by_role("button", name="Create a key for this").click()
    view.get_by_role("button", name="Create key", exact=True).click()
    expect(env).not_to_contain_text(PLACEHOLDER)
    secret = re.search(r"OPENAI_API_KEY='([^']+)'", env.inner_text()).group(1)
    page.locator(".lm-DockPanel .lm-TabBar-tab", has_text="Model Mux").locator(
        ".lm-TabBar-tabCloseIcon"
    ).click()
    expect(view).to_have_count(0)
    view = open_tab(page, "Connect")
    expect(view.locator('[data-snippet="env"] pre')).to_contain_text(
        f"export OPENAI_API_KEY='{PLACEHOLDER}'"
    )
    expect(view).not_to_contain_text(secret)
