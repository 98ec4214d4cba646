"""What every browser test module shares: the Chromium fixture, the fixtures that keep
pytest-jupyter's in-process machinery out of the way, screenshots, themes, and the checks
on how the panel looks. A module imports the fixtures it uses by name (pytest finds them
in the module's namespace)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .lab import CHROMIUM, CHROMIUM_ARGS, ROOT
from .overflow import overflowing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=30_000)

SHOTS = ROOT / "test-artifacts" / "ui"
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


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


class Shots:
    """Numbered screenshots of a test's steps."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page, self.prefix, self.n = page, prefix, 0
        SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(SHOTS / f"{self.prefix}-{self.n:02d}-{step}.png"))


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(
        "theme => window.jupyterapp.commands.execute('apputils:change-theme', {theme})",
        THEMES[theme],
    )
    light = "true" if theme == "light" else "false"
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", light)


def assert_nothing_cut_off(page: Page, selector: str) -> None:
    problems = overflowing(page, selector)
    assert not problems, f"cut off in {selector}:\n" + "\n".join(problems)


def assert_buttons_look_like_jupyterlab(page: Page, selector: str) -> None:
    """Every button is drawn by JupyterLab's styles (or is a plain in-row action), and only
    a disabled one is faded."""
    buttons = page.locator(selector).evaluate(
        """root => [...root.querySelectorAll('button.jp-mux-button')].map(b => ({
            text: b.textContent,
            styled: b.classList.contains('jp-mod-styled') ||
                b.classList.contains('jp-mux-button-plain'),
            disabled: b.disabled,
            opacity: Number(getComputedStyle(b).opacity)
        }))"""
    )
    assert buttons
    for button in buttons:
        assert button["styled"], button
        assert (button["opacity"] < 1) == button["disabled"], button
