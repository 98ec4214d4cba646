"""Find what is cut off horizontally in a part of the page (overflow.js): elements that
stick out of it, elements whose content is wider than their box, and form controls whose
text (the chosen option, the value or the placeholder) is wider than the room they give it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

FIND = (Path(__file__).parent / "overflow.js").read_text()


def overflowing(page: Page, selector: str) -> list[str]:
    """What is cut off horizontally inside the (visible) element `selector`, in words."""
    return page.locator(selector).evaluate(FIND)
