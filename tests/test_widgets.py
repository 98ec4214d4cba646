"""The ipywidgets panel against a real Jupyter server and real llama.cpp upstreams.

The panel's client blocks, and pytest-jupyter serves on the test's own loop, so the panel is
built and driven in a worker thread (`asyncio.to_thread`) while the `api` fixture, which
runs on the loop, checks what the server ended up with. Widgets are changed the way a user
changes them (setting a value, clicking a button), so the observers under test really fire.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

pytest.importorskip("ipywidgets")

from jupyter_mux.client import MuxClient
from jupyter_mux.widgets import NO_MODEL, MuxPanel

from .conftest import UPSTREAM_KEY

T = TypeVar("T")

WRITES = (
    "add_provider",
    "update_provider",
    "delete_provider",
    "refresh_provider",
    "create_workspace",
    "update_workspace",
    "delete_workspace",
    "activate",
)


class RecordingClient(MuxClient):
    """A real client (real HTTP) that also notes each write it makes, so a test can prove
    that redrawing the panel never writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[str] = []


def _recorded(name: str) -> Callable[..., Any]:
    def method(self: RecordingClient, *args: Any, **kwargs: Any) -> Any:
        self.writes.append(name)
        return getattr(MuxClient, name)(self, *args, **kwargs)

    return method


for _name in WRITES:
    setattr(RecordingClient, _name, _recorded(_name))


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


@pytest.fixture
def make_panel(server_url: str, token: str) -> Iterator[Callable[[], Any]]:
    """Build a panel in a worker thread: `await make_panel()`; its client is closed after."""
    clients: list[MuxClient] = []

    async def make() -> MuxPanel:
        clients.append(RecordingClient(url=server_url, token=token))
        return await in_thread(MuxPanel, clients[-1])

    yield make
    for client in clients:
        client.close()


def controls(panel: MuxPanel) -> list[Any]:
    """What a user reads or sets; each has a label."""
    return [
        panel.workspace_picker,
        panel.refresh_button,
        panel.model_picker,
        panel.add_name,
        panel.add_type,
        panel.add_endpoint,
        panel.add_key,
        panel.add_button,
        panel.feedback,
    ]


def shown_texts(widget: Any) -> list[str]:
    """Every label, heading, option and table the panel puts on screen, depth first."""
    texts = [widget.description] if getattr(widget, "description", "") else []
    if getattr(widget, "value", None) and isinstance(widget.value, str):
        texts.append(widget.value)
    texts += [label for label, _ in getattr(widget, "options", ())]
    for child in getattr(widget, "children", ()):
        texts += shown_texts(child)
    return texts


def needs_an_emoji_font(text: str) -> list[str]:
    """Characters from U+2600 up (symbols, dingbats, emoji): boxes without an emoji font."""
    return [ch for ch in text if ord(ch) >= 0x2600]


def cell_style(table: str, content: str) -> str:
    match = re.search(rf'<td style="([^"]*)">{re.escape(content)}', table)
    assert match, (content, table)
    return match.group(1)


async def test_panel_shows_workspaces_and_providers(two_llamas, make_panel, free_port):
    api = two_llamas
    await api.ok(
        "POST",
        "providers",
        {"name": "down", "type": "llamacpp", "endpoint": f"http://127.0.0.1:{free_port}"},
        201,
    )
    panel = await make_panel()

    assert panel.workspace_picker.value == "wa"
    assert [value for _, value in panel.workspace_picker.options] == ["default", "wa", "wb"]
    assert panel.active == "wa"
    assert panel.model_picker.value == ("llama-a", "tiny-a")
    offered = dict((value, label) for label, value in panel.model_picker.options)
    assert set(offered) == {NO_MODEL, ("llama-a", "tiny-a"), ("llama-b", "tiny-b")}
    assert "llama-b" in offered[("llama-b", "tiny-b")]

    table = panel.providers_table.value
    for word in ("llama-a", "llama-b", "down", "llama.cpp", "ok", "connection refused"):
        assert word.lower() in table.lower(), word
    assert "<td" in table and ">1</td>" in table  # each llama lists one model

    for control in controls(panel):
        assert control.description, control
        assert control.tooltip, control
    assert panel.providers_table.tooltip and panel.usage_table.tooltip
    assert panel.client.writes == []


async def test_panel_reads_cleanly(two_llamas, make_panel, mux_config, jp_serverapp):
    """Each heading once, words rather than identifiers, no emoji, names on one line."""
    panel = await make_panel()
    texts = shown_texts(panel)
    headings = [t for t in texts if t.startswith("<b>")]
    assert headings == [
        "<b>Workspace</b>",
        "<b>Providers</b>",
        "<b>Add a provider</b>",
        "<b>Usage</b>",
    ]
    labels = [re.sub(r"<[^>]+>", "", t) for t in headings] + [
        w.description
        for w in panel.children + panel.children[1].children
        if getattr(w, "description", "")
    ]
    assert len(labels) == len(set(labels)), labels  # "Providers" (or any label) once
    assert needs_an_emoji_font("".join(texts)) == []
    assert "catch_all" not in panel.rules_table.value
    assert "everything else" in panel.rules_table.value
    assert "white-space:nowrap" in cell_style(panel.providers_table.value, "llama-a")
    # The type dropdown starts on a type, its endpoint filled in, ready to add.
    types = await two_llamas.ok("GET", "provider-types")
    assert panel.add_type.value == types[0]["type"]
    assert panel.add_endpoint.value == types[0]["default_endpoint"]


async def test_selecting_a_workspace_activates_it(two_llamas, make_panel):
    api = two_llamas
    panel = await make_panel()

    def choose() -> None:
        panel.workspace_picker.value = "wb"

    await in_thread(choose)
    assert await api.ok("GET", "active") == {"name": "wb"}
    assert panel.active == "wb"
    assert panel.model_picker.value == ("llama-b", "tiny-b")
    assert panel.last_feedback[0] == "ok" and "wb" in panel.last_feedback[1]
    assert panel.client.writes == ["activate"]


async def test_activating_a_workspace_deleted_elsewhere_reports_and_snaps_back(
    two_llamas, make_panel
):
    api = two_llamas
    panel = await make_panel()
    await api.ok("DELETE", "workspaces/wb", status=204)
    code, _ = await api("GET", "workspaces/wb")
    assert code == 404

    def choose() -> None:
        panel.workspace_picker.value = "wb"

    await in_thread(choose)
    kind, text = panel.last_feedback
    assert kind == "error" and "404" in text, text
    assert panel.workspace_picker.value == "wa"
    assert "wb" not in [value for _, value in panel.workspace_picker.options]
    assert await api.ok("GET", "active") == {"name": "wa"}


async def test_picking_a_model_patches_preferred(two_llamas, make_panel):
    api = two_llamas
    panel = await make_panel()

    def pick(target: tuple[str, str]) -> None:
        panel.model_picker.value = target

    await in_thread(pick, ("llama-b", "tiny-b"))
    wa = await api.ok("GET", "workspaces/wa")
    assert wa["preferred"] == {"provider": "llama-b", "model": "tiny-b"}
    assert wa["preferred_ok"] is True
    wb = await api.ok("GET", "workspaces/wb")
    assert wb["preferred"] == {"provider": "llama-b", "model": "tiny-b"}
    assert panel.last_feedback[0] == "ok" and "llama-b/tiny-b" in panel.last_feedback[1]

    await in_thread(pick, NO_MODEL)
    wa = await api.ok("GET", "workspaces/wa")
    assert wa["preferred"] is None and wa["problem"]
    assert panel.model_picker.value == NO_MODEL
    assert panel.problem.value  # the server's explanation is on screen
    assert panel.client.writes == ["update_workspace", "update_workspace"]


async def test_add_provider_form(two_llamas, make_panel, llama_a, llama_keyed):
    api = two_llamas
    panel = await make_panel()
    defaults = {t["type"]: t["default_endpoint"] for t in await api.ok("GET", "provider-types")}

    def choose_type(ptype: str) -> None:
        panel.add_type.value = ptype

    await in_thread(choose_type, "vllm")
    assert panel.add_endpoint.value == defaults["vllm"]
    await in_thread(choose_type, "llamacpp")
    assert panel.add_endpoint.value == defaults["llamacpp"]

    def fill_and_add(name: str, endpoint: str, key: str = "") -> None:
        panel.add_name.value = name
        panel.add_endpoint.value = endpoint
        panel.add_key.value = key
        panel.add_button.click()

    await in_thread(fill_and_add, "llama-c", llama_a.endpoint)
    kind, text = panel.last_feedback
    assert kind == "ok" and "llama-c" in text, text
    added = await api.ok("GET", "providers/llama-c")
    assert (added["type"], added["status"], added["models"]) == ("llamacpp", "ok", ["tiny-a"])
    assert "llama-c" in panel.providers_table.value
    assert ("llama-c", "tiny-a") in [value for _, value in panel.model_picker.options]
    assert panel.add_name.value == ""

    # A typed endpoint survives a type change: only defaults are replaced.
    def retype() -> None:
        panel.add_endpoint.value = llama_keyed.endpoint
        panel.add_type.value = "vllm"
        panel.add_type.value = "llamacpp"

    await in_thread(retype)
    assert panel.add_endpoint.value == llama_keyed.endpoint
    await in_thread(fill_and_add, "keyed", llama_keyed.endpoint, UPSTREAM_KEY)
    keyed = await api.ok("GET", "providers/keyed")
    assert keyed["status"] == "ok" and keyed["has_api_key"] is True, keyed
    assert panel.add_key.value == ""  # the key does not linger in the widget
    assert UPSTREAM_KEY not in panel.feedback.value + panel.providers_table.value

    await in_thread(fill_and_add, "llama-a", llama_a.endpoint, UPSTREAM_KEY)
    assert panel.add_key.value == ""  # cleared after a failed add too
    assert "Enter the API key again" in panel.last_feedback[1]
    assert UPSTREAM_KEY not in panel.feedback.value
    code, error = await api(
        "POST", "providers", {"name": "llama-a", "type": "llamacpp", "endpoint": llama_a.endpoint}
    )
    assert code == 409
    kind, text = panel.last_feedback
    assert kind == "error" and error["message"] in text and "409" in text, text
    assert "llama-a" in panel.feedback.value
    assert panel.add_name.value == "llama-a"  # kept, so the user can fix it
    names = sorted(p["name"] for p in await api.ok("GET", "providers"))
    assert names == ["keyed", "llama-a", "llama-b", "llama-c"]
    assert panel.client.writes == ["add_provider", "add_provider", "add_provider"]


async def test_rest_changes_show_after_refresh(two_llamas, make_panel, llama_b):
    api = two_llamas
    panel = await make_panel()
    await api.ok("POST", "workspaces", {"name": "wc", "description": "from REST"}, 201)
    await api.ok(
        "POST",
        "providers",
        {"name": "rest-p", "type": "llamacpp", "endpoint": llama_b.endpoint},
        201,
    )
    await api.ok("PATCH", "workspaces/wb", {"preferred": {"provider": "rest-p", "model": "tiny-b"}})
    await api.ok("PUT", "active", {"name": "wb"})
    assert panel.workspace_picker.value == "wa"  # nothing moves until a refresh

    assert await in_thread(panel.refresh) is True
    assert panel.workspace_picker.value == "wb"
    labels = dict((value, label) for label, value in panel.workspace_picker.options)
    assert "from REST" in labels["wc"] and "no usable model" in labels["wc"]  # none chosen
    assert panel.model_picker.value == ("rest-p", "tiny-b")
    assert "rest-p" in panel.providers_table.value

    await in_thread(panel.refresh_button.click)
    assert panel.last_feedback[0] == "info"
    assert panel.client.writes == []


async def test_refresh_makes_no_writes(two_llamas, make_panel, llama_b):
    api = two_llamas
    panel = await make_panel()
    # Change, behind the panel's back, what its dropdowns show and offer: new options make
    # ipywidgets reset each selection to the first entry before refresh() sets the real
    # one, so a leaky observer would write one of those values back.
    await api.ok("POST", "workspaces", {"name": "wz"}, 201)
    await api.ok(
        "POST",
        "providers",
        {"name": "extra", "type": "llamacpp", "endpoint": llama_b.endpoint},
        201,
    )
    await api.ok("PUT", "active", {"name": "wb"})
    await api.ok(
        "PATCH", "workspaces/wb", {"preferred": {"provider": "llama-a", "model": "tiny-a"}}
    )
    await api.ok("PUT", "active", {"name": "default"})
    await api.ok("PUT", "active", {"name": "wb"})

    for _ in range(3):
        assert await in_thread(panel.refresh) is True
    assert panel.client.writes == []
    assert await api.ok("GET", "active") == {"name": "wb"}
    wb = await api.ok("GET", "workspaces/wb")
    assert wb["preferred"] == {"provider": "llama-a", "model": "tiny-a"}
    assert panel.model_picker.value == ("llama-a", "tiny-a")
    assert panel.last_feedback[0] != "error"

    # Selecting what is already active is not a write either.
    def reselect() -> None:
        panel.workspace_picker.value = "wb"
        panel.model_picker.value = ("llama-a", "tiny-a")

    await in_thread(reselect)
    assert panel.client.writes == []


async def test_panel_shows_rules_and_usage(two_llamas, make_panel, jp_serverapp, mux_url, token):
    from .conftest import client

    await two_llamas.ok(
        "PUT",
        "workspaces/wa/rules",
        [
            {
                "kind": "model",
                "pattern": "fast*",
                "targets": [{"provider": "llama-b", "model": "tiny-b"}],
            },
            {
                "kind": "catch_all",
                "targets": [
                    {"provider": "llama-a", "model": "tiny-a"},
                    {"provider": "llama-b", "model": "tiny-b"},
                ],
            },
        ],
    )
    await client(mux_url, token).chat.completions.create(
        model="x", messages=[{"role": "user", "content": "hi"}], max_tokens=2
    )
    await jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush()
    panel = await make_panel()
    assert "model name: fast*" in panel.rules_table.value
    assert "llama-a/tiny-a → llama-b/tiny-b" in panel.rules_table.value
    assert "<td" in panel.usage_table.value and "wa" in panel.usage_table.value
    assert "unknown" in panel.usage_table.value  # llama.cpp publishes no price


async def test_client_rules_usage_and_sharing(two_llamas, server_url, token):
    def scenario() -> tuple[list, dict, dict]:
        with MuxClient(url=server_url, token=token) as mux:
            rules = mux.set_rules(
                "wb",
                [
                    {
                        "kind": "request_type",
                        "pattern": "fim",
                        "targets": [{"provider": "llama-a", "model": "tiny-a"}],
                    },
                    *mux.rules("wb"),
                ],
            )
            copy = mux.import_workspace(mux.export_workspace("wb"), name="wb-copy")
            return rules, copy, mux.usage(group_by="model")

    rules, copy, usage = await in_thread(scenario)
    assert [r["kind"] for r in rules] == ["request_type", "catch_all"]
    assert copy["name"] == "wb-copy" and copy["preferred"]["model"] == "tiny-b"
    assert usage["totals"]["requests"] == 0
