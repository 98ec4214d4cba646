"""The lab panel under a real JupyterHub. The usage tab (issue 15): a Hub admin sees every
user's usage, by user and by group, as charts and a table; a user sees their budgets and
only their own usage. The workspaces tab: a workspace the admin shares is marked, and a
user activates it but has no control that would change it.

The Hub is tests/test_hub_policy.py's (its policies, group `staff` with alice, a priced
model on the shared provider); the admin's and bob's own servers run JupyterLab in remote
mode with this checkout's lab extension (linked into each user's Jupyter data directory).
Debian's Chromium signs in through the Hub's login form (DummyAuthenticator: any
password), as a person would, and opens `/user/<name>/lab`. Screenshots in
test-artifacts/ui/."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

from .test_hub_policy import (  # noqa: F401 (policed: a fixture, found by name)
    CHAT,
    policed,
    prepare_users,
    settled,
)
from .test_hub_service import ALICE_MODEL, BOB_MODEL, START_TIMEOUT, Hub, api
from .ui.browser import (  # noqa: F401 (fixtures, found by name)
    Shots,
    assert_buttons_look_like_jupyterlab,
    assert_nothing_cut_off,
    browser,
    close_clients,
    expect,
    jp_asyncio_loop,
    jp_server_cleanup,
    sync_api,
)
from .ui.lab import CHROMIUM, installed_extension

pytest.importorskip("jupyterhub", reason="the Hub service needs jupyterhub (the hub extra)")
pytestmark = [
    pytest.mark.skipif(
        __import__("shutil").which("configurable-http-proxy") is None,
        reason="configurable-http-proxy is not on PATH: npm install -g configurable-http-proxy",
    ),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (apt-get install chromium)"
    ),
    pytest.mark.skipif(
        installed_extension() is None,
        reason="the lab extension is not built: pip install -e . (or jlpm build in labextension/)",
    ),
]

# Requests each user makes before the browser looks: alice is in group staff, bob and
# carol in none (carol's 0.01 USD a day allows one).
REQUESTS = {"alice": 2, "bob": 1, "carol": 1}


@pytest.fixture(scope="module")
def hub(policed: tuple[Hub, str, dict]) -> Hub:
    return policed[0]


def _wait_for(what: str, check: Any) -> Any:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _prepare_home(hub: Hub, user: str) -> None:
    """The user's home (the spawner's `home/<user>`): this checkout's lab extension in
    their Jupyter data directory (it wins over the installed copy), no news prompt, and
    the app exposed to the page."""
    home = hub.service_config.parent / "home" / user
    extensions = home / ".local" / "share" / "jupyter" / "labextensions"
    extensions.mkdir(parents=True, exist_ok=True)
    extension = installed_extension()
    assert extension is not None
    (extensions / "jupyter-mux").symlink_to(extension)
    config = home / ".jupyter"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"LabApp": {"expose_app_in_browser": True}})
    )


@pytest.fixture(scope="module")
def servers(hub: Hub) -> Iterator[list[str]]:
    """The admin's and bob's own servers, started through the Hub's API, in remote mode."""
    users = ["admin", "bob"]
    for user in users:
        _prepare_home(hub, user)
        started = hub.hub_api("POST", f"users/{user}/server")
        assert started.status_code in (201, 202), started.text
    for user in users:

        def ready(user: str = user) -> bool:
            server = hub.hub_api("GET", f"users/{user}").json().get("servers", {}).get("")
            return bool(server and server.get("ready"))

        _wait_for(f"{user}'s server", ready)
    try:
        yield users
    finally:
        for user in users:
            hub.hub_api("DELETE", f"users/{user}/server")


@pytest.fixture(scope="module")
def usage(hub: Hub) -> dict[str, dict[str, Any]]:
    """Each user's default workspace on a model their policy allows, the admin's prices on
    the shared provider, `REQUESTS` made; the admin's usage by user once it counts them."""
    models = {"alice": BOB_MODEL, "bob": ALICE_MODEL, "carol": ALICE_MODEL}
    tokens = prepare_users(hub, models)
    for user in models:
        for _ in range(REQUESTS[user]):
            served = api(hub, tokens[user], "POST", "mux/v1/chat/completions", json=CHAT)
            assert served.status_code == 200, served.text

    def counted() -> dict[str, dict[str, Any]] | None:
        answer = api(hub, tokens["admin"], "GET", "mux/api/admin/usage?group_by=user")
        assert answer.status_code == 200, answer.text
        rows = {r["key"]: r for r in answer.json()["rows"]}
        done = all(rows.get(u, {}).get("requests") == n for u, n in REQUESTS.items())
        return rows if done else None

    return _wait_for("the usage rows", counted)  # written once a second


def sign_in(browser: Browser, hub: Hub, user: str) -> Page:
    """A new browser signed in through the Hub's login form, on the user's JupyterLab."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.get_by_label("Username:").fill(user)
    page.get_by_label("Password:").fill("any password")
    page.locator("#login_submit").click()
    expect(page).not_to_have_url(re.compile(r"/hub/login"))
    # The server sends the browser through the Hub's OAuth and back.
    page.goto(f"{hub.url}/user/{user}/lab")
    expect(page.locator("#jp-main-statusbar")).to_be_visible(timeout=90_000)
    return page


def open_view(page: Page, tab: str) -> Any:
    """The sidebar, then the main view on `tab`."""
    page.locator('.jp-SideBar [data-id="jupyter-mux-panel"]').click()
    page.locator("#jupyter-mux-panel").get_by_role("button", name="Open Model Mux").click()
    view = page.locator("#jupyter-mux-view")
    view.get_by_role("tab", name=tab).click()
    return view


def test_a_hub_admin_sees_all_users_usage_by_user_and_group(
    browser: Browser, hub: Hub, servers: list[str], usage: dict[str, dict[str, Any]]
) -> None:
    page = sign_in(browser, hub, "admin")
    shot = Shots(page, "hub-admin")
    try:
        view = open_view(page, "Usage")
        mine = view.get_by_role("button", name="Mine", exact=True)
        everyone = view.get_by_role("button", name="All users", exact=True)
        expect(mine).to_have_attribute("aria-pressed", "true")
        # The admin made no request: their own usage is empty.
        expect(view.get_by_text("No requests in this period yet.")).to_be_visible()
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
        shot("mine")

        everyone.click()
        expect(everyone).to_have_attribute("aria-pressed", "true")
        by = view.get_by_label("By", exact=True)
        expect(by.locator("option")).to_have_text(
            ["User", "Group", "Provider", "Model", "Day", "Workspace"]
        )
        expect(by).to_have_value("user")
        table = view.get_by_role("table", name="Usage by user")
        for user, n in REQUESTS.items():
            expect(table.locator(f'tr[data-usage-key="{user}"] td').first).to_have_text(str(n))
        expect(table.locator("tfoot td").first).to_have_text(str(sum(REQUESTS.values())))
        expect(view.get_by_role("img", name="Spend over time by user")).to_be_visible()
        expect(view.get_by_role("img", name="Tokens over time by user")).to_be_visible()
        # Spend: every token is priced (a cent each).
        spend = sum(row["cost"] for row in usage.values())
        assert spend > 0.01
        expect(view.get_by_role("definition").last).to_have_text(f"${spend:.2f}")
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        shot("all-by-user")

        by.select_option("group")
        groups = view.get_by_role("table", name="Usage by group")
        expect(groups.locator('tr[data-usage-key="staff"] td').first).to_have_text(
            str(REQUESTS["alice"])
        )
        expect(groups.locator('tr[data-usage-key="(no group)"] td').first).to_have_text(
            str(REQUESTS["bob"] + REQUESTS["carol"])
        )
        expect(view.get_by_role("img", name="Tokens over time by group")).to_be_visible()
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        shot("all-by-group")

        # Back to their own usage: the breakdowns of one's own usage again.
        mine.click()
        expect(by.locator("option")).to_have_text(["Workspace", "Model"])
        expect(view.get_by_text("No requests in this period yet.")).to_be_visible()
    finally:
        page.context.close()


def test_a_user_sees_their_budgets_and_only_their_own_usage(
    browser: Browser, hub: Hub, servers: list[str], usage: dict[str, dict[str, Any]]
) -> None:
    page = sign_in(browser, hub, "bob")
    shot = Shots(page, "hub-user")
    try:
        view = open_view(page, "Usage")
        budgets = view.get_by_role("list", name="Budgets")
        budget = budgets.locator('li[data-budget="user bob usd_per_day"]')
        expect(budget).to_contain_text("Your spend today")
        # The default policy: 1 USD a day, of which bob's one request spent some.
        spent = settled(hub, hub.token_for("bob"))["budgets"][0]["spent_usd"]
        assert 0 < spent < 1 and spent == pytest.approx(usage["bob"]["cost"], abs=1e-5)
        expect(budget).to_contain_text(f"${spent:.2f} of $1.00")
        expect(budget.locator("[role=meter]")).to_have_attribute(
            "aria-valuenow", re.compile(r"^[1-9]\d?$")
        )
        expect(budget).to_contain_text("resets ")
        expect(budgets.locator("li")).to_have_count(1)
        # Only his own usage, and no way to everyone's.
        table = view.get_by_role("table", name="Usage by workspace")
        expect(table.locator('tr[data-usage-key="default"] td').first).to_have_text("1")
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(view.get_by_role("button", name="All users")).to_have_count(0)
        expect(view.get_by_role("group", name="Whose usage")).to_have_count(0)
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        shot("budgets")
    finally:
        page.context.close()


MODEL_DENIED = "not allowed for you by the Hub's admin"
PROVIDERS_LOCKED = (
    "The Hub's admin provides the models here: adding, changing or refreshing providers is "
    "not allowed for you."
)


def test_a_users_providers_keys_and_connect_tabs_work_in_remote_mode(
    browser: Browser, hub: Hub, servers: list[str], usage: dict[str, dict[str, Any]]
) -> None:
    """bob's panel, tab by tab, through his remote-mode server: the shared provider with
    no control his policy refuses (no own providers: adding, changing and refreshing are
    disabled, saying why) and the model it does not allow marked, there and in the
    workspace's model picker; a key made and revoked in the Keys tab that works through his
    server meanwhile; Connect's snippets on his server's /mux. No mux API call is refused."""
    page = sign_in(browser, hub, "bob")
    shot = Shots(page, "hub-tabs")
    refused: list[str] = []
    page.on(
        "response",
        lambda r: (
            refused.append(f"{r.request.method} {r.url}: {r.status}")
            if "/mux/api/" in r.url and r.status >= 400 and not r.url.endswith("/mux/api/me")
            else None
        ),
    )
    server = f"{hub.url}/user/bob/"
    try:
        view = open_view(page, "Providers")
        card = view.locator('li[data-provider="ollama"]')
        expect(card).to_contain_text("read-only")
        expect(card.get_by_role("list", name="Models of ollama")).to_contain_text(ALICE_MODEL)
        expect(view.locator("#jp-mux-providers-locked")).to_have_text(PROVIDERS_LOCKED)
        for button in (
            view.get_by_role("button", name="Add provider…"),
            card.get_by_role("button", name="Refresh models of ollama"),
        ):
            expect(button).to_be_disabled()
            expect(button).to_have_accessible_description(PROVIDERS_LOCKED)
        expect(card.get_by_role("button", name="Edit provider ollama")).to_have_count(0)
        # bob's policy allows one model of it: the other is struck out, saying why.
        denied = card.locator("li.jp-mux-model-denied")
        expect(denied).to_have_text(BOB_MODEL)
        expect(denied).to_have_attribute("title", MODEL_DENIED)
        expect(card.get_by_role("list", name="Models of ollama").locator("li")).to_have_count(2)
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        shot("providers")

        # The workspace's model picker offers it disabled, the allowed one enabled.
        view.get_by_role("tab", name="Workspaces").click()
        ws_card = view.locator('li[data-workspace="default"]')
        ws_card.get_by_role("button", name="Change model of workspace default").click()
        picker = ws_card.get_by_label("Model for workspace default", exact=True)
        option = picker.locator(
            f"option[value='{json.dumps(['ollama', BOB_MODEL], separators=(',', ':'))}']"
        )
        expect(option).to_be_disabled()
        expect(option).to_have_text(f"ollama/{BOB_MODEL} ({MODEL_DENIED})")
        expect(
            picker.locator(
                f"option[value='{json.dumps(['ollama', ALICE_MODEL], separators=(',', ':'))}']"
            )
        ).to_be_enabled()
        ws_card.get_by_role("button", name="Close", exact=True).click()

        view.get_by_role("tab", name="Keys").click()
        view.get_by_role("button", name="Create key…").click()
        form = view.get_by_role("form", name="Create a mux key")
        form.get_by_label("Key name", exact=True).fill("bobs-laptop")
        form.get_by_role("button", name="Create key", exact=True).click()
        box = view.get_by_role("region", name="Secret of the new key bobs-laptop")
        secret = box.get_by_label("Secret", exact=True).inner_text().strip()
        ask = functools.partial(
            httpx.post,
            server + "mux/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        answer = ask()
        assert answer.status_code == 200, answer.text
        box.get_by_role("button", name="I have copied it").click()
        listed = api(hub, hub.token_for("bob"), "GET", "mux/api/keys").json()
        assert [k["name"] for k in listed] == ["bobs-laptop"]
        key_card = view.locator(f'li[data-key-prefix="{listed[0]["prefix"]}"]')
        expect(key_card).to_contain_text("bobs-laptop")
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        shot("keys")
        key_card.get_by_role("button", name="Revoke key bobs-laptop").click()
        page.locator(".jp-Dialog").get_by_role("button", name="Revoke", exact=True).click()
        expect(key_card).to_have_count(0)
        again = ask()
        assert again.status_code == 401, again.text

        view.get_by_role("tab", name="Connect").click()
        expect(view.get_by_label("Mux URL", exact=True)).to_have_text(server + "mux/v1")
        env = view.locator('[data-snippet="env"] pre')
        expect(env).to_contain_text(f"export OPENAI_BASE_URL='{server}mux/v1'")
        expect(env).to_contain_text(f"export ANTHROPIC_BASE_URL='{server}mux'")
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        shot("connect")
        assert not refused, refused
    finally:
        page.context.close()


SHARED = "team"
SHARED_TEXT = "Shared by the Hub's admin: you can use and activate it, not change it"


def marker(scope: Any, workspace: str) -> Any:
    """The "shared" marker of a workspace in a list of them (the tab's or the sidebar's)."""
    return scope.locator(f'li[data-workspace="{workspace}"] .jp-mux-badge-shared')


def test_a_user_activates_a_shared_workspace_and_cannot_change_it(
    browser: Browser, hub: Hub, servers: list[str]
) -> None:
    """The admin shares a workspace; bob's panel marks it wherever it lists workspaces, shows
    its rules read-only, offers no control that would change it (none of the panel's
    requests is refused), and activates it: his server's next request answers from it.
    Last in the module: bob's request adds a workspace to his usage."""
    admin, bob = hub.token_for("admin"), hub.token_for("bob")
    shared = {"name": SHARED, "preferred": {"provider": "ollama", "model": ALICE_MODEL}}
    made = api(hub, admin, "POST", "mux/api/admin/workspaces", json=shared)
    assert made.status_code == 201, made.text
    page = None
    try:
        page = sign_in(browser, hub, "bob")
        shot = Shots(page, "hub-shared")
        # Any write to the shared workspace the panel sends, and any mux API answer refused.
        unwanted: list[str] = []

        def watch(response: Any) -> None:
            request = response.request
            writes = request.method != "GET" and f"/mux/api/workspaces/{SHARED}" in request.url
            if writes or (response.status == 403 and "/mux/api/" in request.url):
                unwanted.append(f"{request.method} {request.url}: {response.status}")

        page.on("response", watch)
        view = open_view(page, "Workspaces")
        card = view.locator(f'li[data-workspace="{SHARED}"]')
        badge = marker(view, SHARED)
        expect(badge).to_have_text("shared")
        expect(badge).to_have_attribute("title", SHARED_TEXT)
        expect(card).to_contain_text(f"ollama/{ALICE_MODEL}")
        expect(marker(view, "default")).to_have_count(0)
        for name in ("Change model of", "Rename", "Delete"):
            button = card.get_by_role("button", name=f"{name} workspace {SHARED}")
            expect(button).to_be_disabled()
            expect(button).to_have_accessible_description(SHARED_TEXT)
        expect(card.get_by_text(SHARED_TEXT, exact=True)).to_be_visible()
        # Its rules, shown but not editable.
        card.get_by_role("button", name=f"Rules of workspace {SHARED}").click()
        editor = card.get_by_role("region", name=f"Rules of {SHARED}")
        rules = editor.get_by_role("list", name=f"Rules of workspace {SHARED}").locator(
            ":scope > li"
        )
        expect(rules).to_have_count(1)
        expect(rules.nth(0)).to_contain_text(f"ollama/{ALICE_MODEL}")
        expect(editor).to_contain_text(SHARED_TEXT)
        expect(editor.get_by_label("Add a model to rule 1", exact=True)).to_be_disabled()
        expect(
            editor.get_by_role("button", name=f"Remove ollama/{ALICE_MODEL} from rule 1")
        ).to_be_disabled()
        for role, name in (
            ("button", "Save rules of workspace"),
            ("form", "New rule for workspace"),
        ):
            expect(editor.get_by_role(role, name=f"{name} {SHARED}")).to_have_count(0)
        # The sidebar marks it too.
        sidebar = page.locator("#jupyter-mux-panel")
        expect(marker(sidebar, SHARED)).to_be_visible()
        expect(marker(sidebar, "default")).to_have_count(0)
        assert_nothing_cut_off(page, "#jupyter-mux-view")
        assert_nothing_cut_off(page, "#jupyter-mux-panel")
        assert_buttons_look_like_jupyterlab(page, "#jupyter-mux-view")
        shot("workspaces")
        editor.get_by_role("button", name="Close", exact=True).click()
        expect(editor).to_have_count(0)

        # bob activates it: his server's next request answers from it.
        card.get_by_role("button", name=f"Activate workspace {SHARED}").click()
        expect(card).to_have_attribute("aria-current", "true")
        expect(page.locator(".jp-mux-statusbar-text")).to_have_text(
            f"{SHARED} → ollama/{ALICE_MODEL}"
        )
        expect(card.get_by_role("button", name=f"Rename workspace {SHARED}")).to_be_disabled()
        assert api(hub, bob, "GET", "mux/api/active").json() == {"name": SHARED}
        answer = httpx.post(
            f"{hub.url}/user/bob/mux/v1/chat/completions",
            json=CHAT,
            headers={"Authorization": f"token {bob}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Mux-Workspace"] == SHARED
        assert answer.headers["X-Mux-Model"] == ALICE_MODEL

        # The switcher marks it.
        page.locator(".jp-mux-statusbar").click()
        dialog = page.locator(".jp-mux-switcher-dialog")
        item = dialog.locator("li").filter(
            has=page.get_by_role("button", name=f"Switch to workspace {SHARED}")
        )
        expect(item.locator(".jp-mux-badge-shared")).to_have_attribute("title", SHARED_TEXT)
        expect(dialog.locator(".jp-mux-badge-shared")).to_have_count(1)
        shot("switcher")
        page.keyboard.press("Escape")
        expect(dialog).to_have_count(0)
        assert not unwanted, unwanted

        # The admin deletes it: gone from bob's panel, which is on his default again.
        gone = api(hub, admin, "DELETE", f"mux/api/admin/workspaces/{SHARED}")
        assert gone.status_code == 204, gone.text
        expect(card).to_have_count(0)
        expect(view.locator('li[data-workspace="default"]')).to_have_attribute(
            "aria-current", "true"
        )
    finally:
        if page is not None:
            page.context.close()
        api(hub, admin, "DELETE", f"mux/api/admin/workspaces/{SHARED}")  # 404 once deleted
    assert api(hub, bob, "GET", "mux/api/active").json() == {"name": "default"}
