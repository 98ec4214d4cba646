"""The ipywidgets panel against a real Jupyter server and real llama.cpp upstreams.

The panel's client blocks, and pytest-jupyter serves on the test's own loop, so the panel is
built and driven in a worker thread (`asyncio.to_thread`) while the `api` fixture, which
runs on the loop, checks what the server ended up with. Widgets are changed the way a user
changes them (setting a value, clicking a button), so the observers under test really fire.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx
import pytest

pytest.importorskip("ipywidgets")

from jupyter_mux import usage_series
from jupyter_mux.client import MuxClient
from jupyter_mux.items import Usage
from jupyter_mux.usage import UsageEvent
from jupyter_mux.usage_series import OTHERS, fetch, from_days, from_series, period, shape
from jupyter_mux.widgets import NO_MODEL, PERIODS, MuxPanel

from .conftest import MESSAGES, UPSTREAM_KEY, bearer
from .conftest import client as openai_client

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


async def test_panel_shows_rules_and_usage(
    two_llamas, make_panel, jp_serverapp, mux_url, token, monkeypatch
):
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
    # Nothing priced: no flat spend chart at $0, but words saying why.
    assert panel.usage_charts.layout.display is None
    assert panel.spend_box.layout.display == "none"
    assert "Spend is unknown: no price is known for wa" in panel.usage_note.value
    # Without bqplot (an install without the notebook extra): the table, and why no chart.
    monkeypatch.setitem(sys.modules, "bqplot", None)
    bare = await make_panel()
    assert bare.spend_chart is None and bare.tokens_chart is None
    assert "Charts need bqplot" in bare.usage_note.value
    assert bare.usage_table.value == panel.usage_table.value


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


# -- usage charts: the shaping (pure) ------------------------------------------------------


def row(key: str, prompt: int, completion: int, cost: float | None, requests: int = 1, errors=0):
    return {
        "key": key,
        "requests": requests,
        "errors": errors,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost": cost,
    }


def test_period_is_the_last_days_up_to_today():
    days, since, until = period(7, date(2027, 1, 2))
    assert days == [
        "2026-12-27",
        "2026-12-28",
        "2026-12-29",
        "2026-12-30",
        "2026-12-31",
        "2027-01-01",
        "2027-01-02",
    ]
    assert (since, until) == ("2026-12-27", "2027-01-03")  # until is exclusive
    assert len(period(30, date(2027, 1, 2))[0]) == 30
    with pytest.raises(ValueError):
        period(0, date(2027, 1, 2))


def test_shape_stacks_series_day_by_day():
    days = ["2026-11-29", "2026-11-30", "2026-12-01"]
    per_day = {
        "2026-11-30": {"rows": [row("tiny-a", 10, 5, None), row("gpt", 100, 20, 0.5, 2)]},
        "2026-12-01": {"rows": [row("tiny-a", 4, 1, None, errors=1), row("", 0, 0, 0.0)]},
        "2026-11-01": {"rows": [row("old", 999, 999, 9.0)]},  # outside the period: ignored
    }
    series = shape("model", days, from_days(per_day))
    assert series.days == days
    assert series.keys == ["gpt", "tiny-a", "(no model)"]  # most tokens first
    assert series.tokens == [[0, 120, 0], [0, 15, 5], [0, 0, 0]]
    assert series.spend == [[0, 0.5, 0], [0, 0, 0], [0, 0, 0]]  # unknown prices drawn as 0
    assert series.unpriced == ["tiny-a"]  # ... and named
    assert series.per_key[1] == row("tiny-a", 14, 6, None, requests=2, errors=1)
    assert series.totals == row("total", 114, 26, None, requests=5, errors=1)
    assert series.known_spend == pytest.approx(0.5)
    assert not series.empty
    assert shape("workspace", days, []).empty


def test_shape_is_the_same_from_days_or_from_series():
    """Per-day answers grouped by series, or per-series answers grouped by day: one grid."""
    days = ["2026-11-30", "2026-12-01"]
    by_day = {
        "2026-11-30": {"rows": [row("wa", 1, 2, 0.1)]},
        "2026-12-01": {"rows": [row("wa", 3, 4, 0.2), row("wb", 5, 6, None)]},
    }
    by_series = {
        "wa": {"rows": [row("2026-11-30", 1, 2, 0.1), row("2026-12-01", 3, 4, 0.2)]},
        "wb": {"rows": [row("2026-12-01", 5, 6, None)]},
    }
    one = shape("workspace", days, from_days(by_day))
    assert one == shape("workspace", days, from_series(by_series))
    assert one.keys == ["wb", "wa"] and one.tokens == [[0, 11], [3, 7]]
    assert one.spend == [[0, 0], [pytest.approx(0.1), pytest.approx(0.2)]]


def test_shape_folds_the_smallest_series():
    days = ["2026-12-01"]
    rows = [row(f"m{n}", n, 0, 0.01 * n) for n in range(1, 11)]
    series = shape("model", days, [(days[0], r) for r in rows], max_series=4)
    assert series.keys == ["m10", "m9", "m8", OTHERS]
    assert series.tokens == [[10], [9], [8], [sum(range(1, 8))]]
    assert series.per_key[-1]["requests"] == 7
    assert series.spend[-1] == [pytest.approx(0.01 * sum(range(1, 8)))]
    assert series.totals["requests"] == 10


class CountingClient:
    """Answers usage queries from a fixed list of (day, workspace, model, row) records, as
    the server would, and counts them: the chart's cost in requests."""

    def __init__(self, records: list[tuple[str, str, str, dict]]) -> None:
        self.records = records
        self.calls: list[dict] = []

    def usage(self, group_by="workspace", *, since=None, until=None, workspace=None):
        self.calls.append({"group_by": group_by, "since": since, "until": until})
        groups: dict[str, list[dict]] = {}
        for day, ws, model, r in self.records:
            if (since and day < since) or (until and day >= until) or (workspace not in (None, ws)):
                continue
            key = {"day": day, "workspace": ws, "model": model}[group_by]
            groups.setdefault(key, []).append(r)
        rows = [usage_series.add_rows(k, rs) for k, rs in sorted(groups.items())]
        return {"rows": rows, "totals": usage_series.add_rows("total", rows)}


def test_fetch_asks_little():
    today = date(2026, 12, 1)
    idle = CountingClient([])
    assert fetch(idle, "model", 30, today).empty and len(idle.calls) == 1
    days = [(today - timedelta(days=n)).isoformat() for n in range(5)]
    records = [(d, ws, m, row("", 1, 1, 0.1)) for d in days for ws, m in (("wa", "a"), ("wb", "b"))]
    records.append(("2026-10-01", "wa", "a", row("", 50, 50, 1.0)))  # before the period
    by_ws = CountingClient(records)
    series = fetch(by_ws, "workspace", 7, today)
    assert len(by_ws.calls) == 2 + 2  # day, workspace, then one per workspace
    assert series.keys == ["wa", "wb"] and series.tokens[0] == [0, 0, 2, 2, 2, 2, 2]
    by_model = CountingClient(records)
    assert fetch(by_model, "model", 7, today).tokens == series.tokens
    assert len(by_model.calls) == 1 + 5  # day, then one per day with usage
    one_day = CountingClient([r for r in records if r[0] == days[0]])
    fetch(one_day, "workspace", 30, today)
    assert len(one_day.calls) == 2 + 1  # fewer days than workspaces: per day
    # A refused request may name a workspace the `workspace=` filter would refuse: per day.
    odd = CountingClient([*records, (days[0], "no such/ws", "", row("", 0, 0, 0.0))])
    assert "no such/ws" in fetch(odd, "workspace", 7, today).keys
    assert len(odd.calls) == 2 + 5


# -- usage charts: the panel against a real server -----------------------------------------


def bars(chart: Any) -> Any:
    (mark,) = chart.marks
    return mark


async def test_panel_charts_usage_over_time(
    two_llamas, make_panel, jp_serverapp, server_url, mux_url, token
):
    api = two_llamas
    recorder = jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder
    await api.ok(
        "PUT",
        "providers/llama-a/prices",
        {"model": "tiny-a", "prompt_per_million": 2, "completion_per_million": 10},
    )
    oai = openai_client(mux_url, token)
    for _ in range(2):
        await oai.chat.completions.create(model="x", messages=MESSAGES, max_tokens=3)
    await openai_client(server_url + "mux/w/wb/v1", token).chat.completions.create(
        model="x", messages=MESSAGES, max_tokens=2
    )
    await api.ok("POST", "workspaces", {"name": "wc"}, 201)  # no model: refused, an error
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            server_url + "mux/w/wc/v1/chat/completions",
            headers=bearer(token),
            json={"messages": MESSAGES},
        )
    assert refused.status_code == 409
    # Older usage: two days ago (in both periods) and ten days ago (in the 30 days only).
    now = datetime.now(timezone.utc)
    for days_ago, tokens in ((2, (100, 50)), (10, (7, 3))):
        recorder.record(
            UsageEvent(
                workspace="wb",
                rule="catch_all",
                streamed=False,
                ts=now - timedelta(days=days_ago),
                provider="llama-b",
                model="tiny-b",
                status=200,
                usage=Usage(prompt_tokens=tokens[0], completion_tokens=tokens[1]),
            )
        )
    await recorder.flush()

    panel = await make_panel()
    today = now.date()
    days = period(7, today)[0]
    spend, tokens = bars(panel.spend_chart), bars(panel.tokens_chart)
    series = panel.usage_series
    assert series is not None and series.dimension == "workspace" and series.days == days
    # What the charts were given is what the panel computed ...
    labels = [date.fromisoformat(d).strftime("%b %d") for d in days]  # "Nov 25"
    assert list(tokens.x) == labels and list(spend.x) == labels
    assert panel.tokens_chart.axes[0].tick_values.tolist() == labels  # 7 days: every one
    assert tokens.y.tolist() == series.tokens and spend.y.tolist() == series.spend
    assert list(tokens.labels) == series.keys and tokens.type == "stacked"
    assert panel.usage_charts.layout.display is None  # shown
    assert panel.spend_box.layout.display is None  # tiny-a has a price: some spend to show

    # ... and that is what the server counted, day by day and series by series.
    async def by(group: str, since: date, until: date | None = None, **extra: str) -> dict:
        query = f"usage?group_by={group}&since={since.isoformat()}"
        query += f"&until={(until or since + timedelta(days=1)).isoformat()}"
        query += "".join(f"&{k}={v}" for k, v in extra.items())
        answer = await api.ok("GET", query)
        return {r["key"]: r for r in answer["rows"]}

    def grid(s: Any) -> dict[str, list[int]]:
        return dict(zip(s.keys, s.tokens, strict=True))

    for day in (today, today - timedelta(days=2)):
        counted = await by("workspace", day)
        column = {k: v[days.index(day.isoformat())] for k, v in grid(series).items()}
        assert {k: v for k, v in column.items() if v} == {
            k: r["prompt_tokens"] + r["completion_tokens"]
            for k, r in counted.items()
            if r["prompt_tokens"] + r["completion_tokens"]
        }
    assert grid(series)["wb"][days.index((today - timedelta(days=2)).isoformat())] == 150
    assert set(series.keys) == {"wa", "wb", "wc"}
    assert grid(series)["wc"] == [0] * 7  # refused: a request and an error, no tokens
    period_rows = await by("workspace", date.fromisoformat(days[0]), today + timedelta(days=1))
    wa = period_rows["wa"]
    assert wa["cost"] and sum(series.spend[series.keys.index("wa")]) == pytest.approx(wa["cost"])
    # Totals in words: requests, errors, tokens, spend (a lower bound: tiny-b has no price).
    totals = series.totals
    assert (totals["requests"], totals["errors"]) == (5, 1)
    assert "5 requests · 1 error · " in panel.usage_totals.value
    assert f"{totals['prompt_tokens'] + totals['completion_tokens']:,} tokens" in (
        panel.usage_totals.value
    )
    assert "+ unpriced" in panel.usage_totals.value
    assert "tiny-b" not in panel.usage_note.value and "wb" in panel.usage_note.value
    assert "wa" in panel.usage_legend.value and "wb" in panel.usage_legend.value
    assert "Workspace" in panel.usage_table.value and "unknown" in panel.usage_table.value

    def choose(widget: Any, value: Any) -> None:
        widget.value = value

    await in_thread(choose, panel.usage_split, "model")
    series = panel.usage_series
    assert series.dimension == "model" and bars(panel.tokens_chart).y.tolist() == series.tokens
    counted = await by("model", date.fromisoformat(days[0]), today + timedelta(days=1))
    shown = {k: r["requests"] for k, r in zip(series.keys, series.per_key, strict=True)}
    assert shown.pop("(no model)") == 1  # the refusal: recorded without a model
    assert {k: r["requests"] for k, r in counted.items() if k} == shown
    assert grid(series)["tiny-b"][days.index((today - timedelta(days=2)).isoformat())] == 150
    assert series.unpriced == ["tiny-b"] and "tiny-b" in panel.usage_note.value
    assert "Model" in panel.usage_table.value

    await in_thread(choose, panel.usage_period, PERIODS["Last 30 days"])
    series = panel.usage_series
    month = [date.fromisoformat(d).strftime("%b %d") for d in period(30, today)[0]]
    assert list(bars(panel.tokens_chart).x) == month
    ticks = panel.tokens_chart.axes[0].tick_values.tolist()
    assert len(ticks) <= 8 and ticks[-1] == month[-1]  # legible, today labelled
    assert sum(grid(series)["tiny-b"]) == 150 + 10 + sum(
        r["prompt_tokens"] + r["completion_tokens"] for r in [(await by("model", today))["tiny-b"]]
    )
    assert series.totals["requests"] == 6
    assert panel.client.writes == []  # looking at usage never writes


async def test_panel_usage_in_words_when_there_is_none(two_llamas, make_panel, free_port, token):
    panel = await make_panel()
    assert panel.usage_series is not None and panel.usage_series.empty
    assert "No usage in the last 7 days yet" in panel.usage_note.value
    assert panel.usage_charts.layout.display == "none"

    def unreachable() -> MuxPanel:
        with MuxClient(url=f"http://127.0.0.1:{free_port}/", token=token) as mux:
            return MuxPanel(mux)

    down = await in_thread(unreachable)
    assert down.usage_series is None and down.usage_charts.layout.display == "none"
    assert "Could not load usage" in down.usage_note.value
    assert down.last_feedback[0] == "error"
    assert "Traceback" not in "".join(shown_texts(down))
