"""An ipywidgets control panel for the mux, for notebooks and other widget front ends.

The JupyterLab side panel is not available everywhere (classic notebook, VS Code, Voila),
but widgets are; this panel offers the everyday operations there: switch the active
workspace, choose its model, see which providers answer and add one, and see usage: spend
and tokens per day over the last 7 or 30 days, by workspace or by model, with the period's
totals. Everything goes through the management API (`MuxClient`), never the database, so
the panel, the lab UI and REST callers all see one state; the Refresh button picks up what
the others changed.

The usage charts are bqplot (https://github.com/bqplot/bqplot), imported only when a panel
is built. Why bqplot rather than matplotlib or plotly:

* it is itself a Jupyter widget library (ipywidgets-based, maintained and released
  steadily), so it renders wherever this panel's ipywidgets do (JupyterLab 4, Notebook 7,
  VS Code, Voila), and its wheel ships its prebuilt lab extension: nothing is built here
  or by the user;
* it follows JupyterLab's light and dark themes by itself: axes, ticks, grid and plot area
  are drawn with JupyterLab's CSS variables (`--jp-layout-color*`,
  `--jp-content-font-color*`), which a kernel cannot know and matplotlib's static images
  cannot follow; plotly draws with its own template whatever the theme;
* the data is widget state (`Bars.x`, `Bars.y`), so a refresh sends new numbers instead of
  a new picture, the chart keeps tooltips, and tests read exactly what the chart was given.

The few texts bqplot would colour on its own in the dark theme (titles, axis labels,
legend) are left to the panel's HTML instead, which JupyterLab styles. The series colours
are mid-tone, readable on light and dark backgrounds alike.

The handlers call a blocking client. That is fine in a kernel (a separate process from the
server) but would deadlock on the server's own event loop, which is why tests drive the
panel from a worker thread.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .client import MuxAPIError, MuxClient
from .usage_series import UsageSeries, fetch

if TYPE_CHECKING:  # bqplot is imported when a panel is built, not with this module
    import bqplot

__all__ = ["NO_MODEL", "PERIODS", "SERIES_COLOURS", "MuxPanel"]

#: The model picker's value for "no preferred model". A Dropdown treats a value of None as
#: "nothing selected", so clearing needs a real value of its own.
NO_MODEL: tuple[str, str] = ("", "")

_COLOURS = {
    "ok": "var(--jp-success-color1, #2e7d32)",
    "error": "var(--jp-error-color1, #c62828)",
    "warn": "var(--jp-warn-color1, #e65100)",
    "info": "var(--jp-ui-font-color1, inherit)",
}
_STYLE = {"description_width": "7em"}
#: The usage periods offered, in days (UTC, today included).
PERIODS = {"Last 7 days": 7, "Last 30 days": 30}
#: One colour per series (Tableau 10): mid-tones that read on light and dark backgrounds.
SERIES_COLOURS = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
]
_WIDE = widgets.Layout(width="32em")


def _explain(exc: Exception) -> str:
    """The words to show a user for a failed call: the server's own message when there is
    one (it already says what to fix), else the exception, so nothing fails silently."""
    if isinstance(exc, MuxAPIError):
        return f"{exc.message} (HTTP {exc.status})"
    return f"{type(exc).__name__}: {exc}"


class MuxPanel(widgets.VBox):
    """Workspace switcher, model picker, provider list and add-provider form in one box.

    `client` defaults to a `MuxClient()` that finds the running Jupyter server itself.
    `refresh()` reloads all state from the server; `last_feedback` is the latest
    `(kind, text)` message shown (kind is "ok", "error", "warn" or "info").
    """

    def __init__(self, client: MuxClient | None = None, **kwargs: Any) -> None:
        # A client the panel made is the panel's to close; a caller's stays the caller's.
        self._owns_client = client is None
        self.client = client if client is not None else MuxClient()
        # Server state as of the last refresh(); the observers compare against it so that a
        # selection equal to what the server already has never becomes a write.
        self._workspaces: dict[str, dict] = {}
        self._providers: list[dict] = []
        self._types: list[dict] = []
        self._active: str | None = None
        # Non-zero while code (not the user) sets widget values: setting a Dropdown's
        # options or value fires its observers, which must not turn into API writes.
        self._syncing = 0
        self.last_feedback: tuple[str, str] = ("info", "")

        self.workspace_picker = widgets.Dropdown(
            description="Active",
            tooltip="Active workspace: the one whose model answers requests to mux/v1",
            style=_STYLE,
            layout=_WIDE,
        )
        self.refresh_button = widgets.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Reload workspaces and providers from the server",
        )
        self.model_picker = widgets.Dropdown(
            description="Model",
            tooltip="Preferred model of the active workspace, as provider/model",
            style=_STYLE,
            layout=_WIDE,
        )
        self.problem = widgets.HTML(
            description="Note",
            tooltip="Why the active workspace's model may not answer, if anything is wrong",
            style=_STYLE,
        )
        self.rules_table = widgets.HTML(
            description="Rules",
            tooltip="How the active workspace routes requests: first matching rule wins",
            style=_STYLE,
        )
        # The two tables sit under headings that name them, so they carry no label of
        # their own (which would say "Providers" twice and narrow the table).
        self.usage_table = widgets.HTML(
            tooltip="Requests, errors, tokens and cost per series over the period"
        )
        # The buttons' own words say what they choose, so they carry no label (ipywidgets
        # would put it on a line of its own above them).
        self.usage_period = widgets.ToggleButtons(
            options=list(PERIODS.items()),
            value=7,
            tooltips=[
                f"Usage of the {label.lower()} (UTC days, today included)" for label in PERIODS
            ],
            style={"button_width": "auto"},
        )
        self.usage_split = widgets.ToggleButtons(
            options=[("By workspace", "workspace"), ("By model", "model")],
            value="workspace",
            tooltips=["One series per workspace", "One series per model"],
            style={"button_width": "auto"},
            layout=widgets.Layout(margin="0 0 0 2em"),  # apart from the period's buttons
        )
        self.usage_totals = widgets.HTML(
            description="Totals",
            tooltip="Requests, errors, tokens and spend over the period",
            style=_STYLE,
        )
        self.usage_note = widgets.HTML(
            tooltip="Why there is no chart, or what the spend leaves out"
        )
        self.usage_legend = widgets.HTML(tooltip="Which colour is which series")
        #: The usage last drawn (None until usage could be loaded).
        self.usage_series: UsageSeries | None = None
        self.spend_chart, self.tokens_chart = _make_chart("USD"), _make_chart("tokens")
        charts: list[widgets.Widget] = []
        # Hidden while nothing in the period has a price: a flat line at $0 says nothing.
        self.spend_box = widgets.VBox()
        if self.spend_chart is not None and self.tokens_chart is not None:
            self.spend_box.children = [widgets.HTML("Spend per day (USD)"), self.spend_chart]
            charts = [
                self.spend_box,
                widgets.HTML("Tokens per day (prompt + completion)"),
                self.tokens_chart,
                self.usage_legend,
            ]
        self.usage_charts = widgets.VBox(charts, layout=widgets.Layout(display="none"))
        self.providers_table = widgets.HTML(
            tooltip="Configured providers, whether they answered, and how many models they list"
        )
        self.add_name = widgets.Text(
            description="Name",
            placeholder="e.g. local-llama",
            tooltip="Name of the new provider: letters, digits, '.', '_' or '-'",
            style=_STYLE,
            layout=_WIDE,
        )
        self.add_type = widgets.Dropdown(
            description="Type",
            tooltip="Kind of server; choosing one fills in its usual endpoint",
            style=_STYLE,
            layout=_WIDE,
        )
        self.add_endpoint = widgets.Text(
            description="Endpoint",
            placeholder="http://host:port (with or without /v1)",
            tooltip="Base URL of the provider; leave empty for the type's default",
            style=_STYLE,
            layout=_WIDE,
        )
        self.add_key = widgets.Password(
            description="API key",
            placeholder="optional",
            tooltip="API key for the provider; stored encrypted on the server, never shown",
            style=_STYLE,
            layout=_WIDE,
        )
        self.add_button = widgets.Button(
            description="Add provider",
            icon="plus",
            button_style="primary",
            tooltip="Save the provider and discover its models",
        )
        self.feedback = widgets.HTML(
            description="Status",
            tooltip="Result of the last action",
            style=_STYLE,
        )

        self.workspace_picker.observe(self._on_activate, names="value")
        self.model_picker.observe(self._on_pick_model, names="value")
        self.add_type.observe(self._on_type_change, names="value")
        self.refresh_button.on_click(self._on_refresh_clicked)
        self.add_button.on_click(self._on_add_provider)
        self.usage_period.observe(self._on_usage_view, names="value")
        self.usage_split.observe(self._on_usage_view, names="value")

        heading = widgets.HTML
        super().__init__(
            children=[
                heading("<b>Workspace</b>"),
                widgets.HBox([self.workspace_picker, self.refresh_button]),
                self.model_picker,
                self.problem,
                self.rules_table,
                heading("<b>Providers</b>"),
                self.providers_table,
                heading("<b>Add a provider</b>"),
                self.add_name,
                self.add_type,
                self.add_endpoint,
                self.add_key,
                self.add_button,
                self.feedback,
                heading("<b>Usage</b>"),
                widgets.HBox([self.usage_period, self.usage_split]),
                self.usage_totals,
                self.usage_note,
                self.usage_charts,
                self.usage_table,
            ],
            **kwargs,
        )
        self.refresh()

    def close(self) -> None:
        """Close the widget and, if the panel made its own client, that client's
        connections, so a discarded panel leaves no sockets open in the kernel."""
        super().close()
        if self._owns_client:
            self.client.close()

    # -- state -----------------------------------------------------------------------------

    @contextmanager
    def _programmatic(self) -> Iterator[None]:
        """Mark widget updates as ours, so observers know they are not user choices."""
        self._syncing += 1
        try:
            yield
        finally:
            self._syncing -= 1

    @property
    def active(self) -> str | None:
        """The active workspace as of the last refresh."""
        return self._active

    def refresh(self) -> bool:
        """Reload workspaces and providers and redraw; False (and an error shown) if the
        server could not be reached, in which case the last known state stays on screen."""
        try:
            if not self._types:  # fixed per server version: fetched once
                self._types = self.client.provider_types()
            workspaces = self.client.workspaces()
            providers = self.client.providers()
            active = next((w["name"] for w in workspaces if w["is_active"]), None)
            rules = self.client.rules(active) if active else []
        except Exception as exc:  # shown to the user instead of lost in a log
            self._say(f"Could not load the mux state: {_explain(exc)}", "error")
            self.refresh_usage()  # says in its own place whether usage could be read
            return False
        self._workspaces = {w["name"]: w for w in workspaces}
        self._providers = sorted(providers, key=lambda p: p["name"])
        self._active = next((w["name"] for w in workspaces if w["is_active"]), None)
        with self._programmatic():
            self.workspace_picker.options = [
                (self._workspace_label(w), w["name"]) for w in workspaces
            ]
            self.workspace_picker.value = self._active
            self._render_models()
            self._render_types()
        self.providers_table.value = self._providers_html()
        self.rules_table.value = _rules_html(rules)
        self.refresh_usage()
        return True

    def refresh_usage(self) -> bool:
        """Reload the usage of the chosen period and split, and redraw its totals, charts
        and table; False (and the reason shown in words) if it could not be loaded, in
        which case the charts are hidden rather than left showing other numbers."""
        days, split = self.usage_period.value, self.usage_split.value
        try:
            series = fetch(self.client, split, days)
        except Exception as exc:  # shown to the user instead of lost in a log
            self.usage_series = None
            self.usage_charts.layout.display = "none"
            self.usage_totals.value = ""
            self.usage_table.value = ""
            self.usage_note.value = _note(f"Could not load usage: {_explain(exc)}", "error")
            return False
        self.usage_series = series
        self.usage_totals.value = _totals_html(series)
        period = next(label for label, n in PERIODS.items() if n == days).lower()
        if series.empty:
            self.usage_charts.layout.display = "none"
            self.usage_table.value = ""
            self.usage_note.value = _note(
                f"No usage in the {period} yet: requests to the mux show up here.", "info"
            )
            return True
        unpriced = ", ".join(series.unpriced)
        if series.unpriced and not series.known_spend:
            note = f"Spend is unknown: no price is known for {unpriced}; set one to count it."
        elif series.unpriced:
            note = f"Spend leaves out {unpriced}: no price is known; set one to count it."
        else:
            note = ""
        self.usage_note.value = _note(note, "warn")
        self.spend_box.layout.display = None if series.known_spend else "none"
        if self.spend_chart is None or self.tokens_chart is None:
            self.usage_note.value += _note(
                " Charts need bqplot: pip install 'jupyter-mux[notebook]'.", "info"
            )
        else:
            colours = [SERIES_COLOURS[n % len(SERIES_COLOURS)] for n in range(len(series.keys))]
            _draw(self.spend_chart, series.days, series.spend, series.keys, colours)
            _draw(self.tokens_chart, series.days, series.tokens, series.keys, colours)
            self.usage_legend.value = _legend_html(series.keys, colours)
            self.usage_charts.layout.display = None
        self.usage_table.value = _usage_html(series)
        return True

    def _workspace_label(self, workspace: dict) -> str:
        label = workspace["name"]
        if workspace.get("description"):
            label += f" — {workspace['description']}"
        return label if workspace.get("preferred_ok") else label + " (no usable model)"

    def _preferred(self, name: str | None) -> tuple[str, str]:
        workspace = self._workspaces.get(name or "")
        preferred = workspace.get("preferred") if workspace else None
        return (preferred["provider"], preferred["model"]) if preferred else NO_MODEL

    def _render_models(self) -> None:
        """Offer every listed model, grouped by provider, plus the current choice even when
        it is no longer listed (so the picker shows the truth rather than a neighbour)."""
        options: list[tuple[str, tuple[str, str]]] = [("(no model)", NO_MODEL)]
        for provider in self._providers:
            flag = "" if provider["status"] == "ok" else " (provider not answering)"
            for model in sorted(provider["models"]):
                options.append((f"{provider['name']} / {model}{flag}", (provider["name"], model)))
        current = self._preferred(self._active)
        if current not in [value for _, value in options]:
            options.append((f"{current[0]} / {current[1]} (unavailable)", current))
        self.model_picker.options = options
        self.model_picker.value = current
        self.model_picker.disabled = self._active is None
        workspace = self._workspaces.get(self._active or "")
        problem = workspace.get("problem") if workspace else None
        self.problem.value = (
            f'<span style="color:{_COLOURS["warn"]}">{html.escape(problem)}</span>'
            if problem
            else ""
        )

    def _render_types(self) -> None:
        """Offer the provider types, with one chosen (the user's, else the first), so the
        form never starts on an empty type and its endpoint is filled in from the start."""
        options = [(t["label"], t["type"]) for t in self._types]
        if list(self.add_type.options) != options:
            keep = self.add_type.value
            self.add_type.options = options
            values = [value for _, value in options]
            if values:
                self.add_type.value = keep if keep in values else values[0]
            self._on_type_change()

    def _providers_html(self) -> str:
        if not self._providers:
            return "<i>No providers yet: add one below.</i>"
        labels = {t["type"]: t["label"] for t in self._types}
        rows = []
        for p in self._providers:
            if p["status"] == "ok":
                status = f'<span style="color:{_COLOURS["ok"]}">ok</span>'
            else:
                reason = html.escape(p.get("error") or "unknown error")
                status = f'<span style="color:{_COLOURS["error"]}">error: {reason}</span>'
            name = html.escape(p["name"])
            if p.get("predefined"):
                name += ' <small style="opacity:0.7">(read-only)</small>'
            rows.append(
                [
                    name,
                    html.escape(labels.get(p["type"], p["type"])),
                    f"<code>{html.escape(p['endpoint'])}</code>",
                    status,
                    str(len(p["models"])),
                    html.escape(", ".join(p.get("used_by") or [])) or "—",
                ]
            )
        header = ["Name", "Type", "Endpoint", "Status", "Models", "Used by"]
        return _table(header, rows, wrap={3, 5})

    def _say(self, text: str, kind: str = "info") -> None:
        """Show the outcome of an action; kept in `last_feedback` for scripts and tests."""
        self.last_feedback = (kind, text)
        stamp = time.strftime("%H:%M:%S")
        self.feedback.value = (
            f'<span style="color:{_COLOURS[kind]}">{html.escape(text)}</span> '
            f'<small style="opacity:0.6">{stamp}</small>'
        )

    # -- user actions ----------------------------------------------------------------------

    def _on_activate(self, change: dict | None = None) -> None:
        """Make the workspace chosen in the dropdown the active one."""
        name = self.workspace_picker.value
        if self._syncing or not name or name == self._active:
            return
        try:
            self.client.activate(name)
        except Exception as exc:  # shown to the user instead of lost in a log
            self._say(f"Could not activate workspace {name}: {_explain(exc)}", "error")
        else:
            target = self._preferred(name)
            model = f"{target[0]}/{target[1]}" if target != NO_MODEL else "no model yet"
            self._say(f"Workspace {name} is now active ({model}).", "ok")
        # Either way, show what the server now has (on failure: the dropdown snaps back).
        self.refresh()

    def _on_pick_model(self, change: dict | None = None) -> None:
        """Save the picked model as the active workspace's preferred model."""
        target = self.model_picker.value
        name = self._active
        if self._syncing or name is None or target is None or target == self._preferred(name):
            return
        try:
            workspace = self.client.update_workspace(
                name, preferred=None if target == NO_MODEL else tuple(target)
            )
        except Exception as exc:  # shown to the user instead of lost in a log
            self._say(f"Could not change the model of {name}: {_explain(exc)}", "error")
        else:
            if target == NO_MODEL:
                self._say(f"Workspace {name} has no model now.", "warn")
            elif workspace.get("problem"):
                self._say(f"Workspace {name} saved, but: {workspace['problem']}", "warn")
            else:
                self._say(f"Workspace {name} now uses {target[0]}/{target[1]}.", "ok")
        self.refresh()

    def _on_type_change(self, change: dict | None = None) -> None:
        """Fill in the chosen type's usual endpoint, unless the user typed their own, and
        say whether the type needs a key. Touches only the form: never a write."""
        ptype = next((t for t in self._types if t["type"] == self.add_type.value), None)
        if ptype is None:
            return
        current = self.add_endpoint.value.strip()
        if not current or current in {t["default_endpoint"] for t in self._types}:
            self.add_endpoint.value = ptype["default_endpoint"]
        self.add_key.placeholder = "required" if ptype["default_auth"] == "api_key" else "optional"

    def _on_add_provider(self, _button: widgets.Button | None = None) -> None:
        """Create a provider from the form and say whether it answered."""
        name = self.add_name.value.strip()
        ptype = self.add_type.value
        if not ptype:
            self.add_key.value = ""  # not sent, but not left in the widget state either
            self._say("Choose a provider type first.", "error")
            return
        self.add_button.disabled = True
        try:
            provider = self.client.add_provider(
                name,
                ptype,
                endpoint=self.add_endpoint.value.strip() or None,
                api_key=self.add_key.value or None,
            )
        except Exception as exc:  # shown to the user instead of lost in a log
            retype = " Enter the API key again." if self.add_key.value else ""
            # A key must not linger in the browser's widget state, failed add or not.
            self.add_key.value = ""
            self._say(
                f"Could not add provider {name or '(no name)'}: {_explain(exc)}.{retype}",
                "error",
            )
            return
        finally:
            self.add_button.disabled = False
        # The key has done its job; do not leave it sitting in the browser's widget state.
        self.add_key.value = ""
        self.add_name.value = ""
        if provider["status"] == "ok":
            count = len(provider["models"])
            self._say(f"Added provider {provider['name']}: {count} model(s) found.", "ok")
        else:
            self._say(
                f"Added provider {provider['name']}, but it did not answer: "
                f"{provider.get('error') or 'unknown error'}",
                "warn",
            )
        self.refresh()

    def _on_usage_view(self, change: dict | None = None) -> None:
        """Another period or split: read usage again (a read only, never a write)."""
        self.refresh_usage()

    def _on_refresh_clicked(self, _button: widgets.Button | None = None) -> None:
        if self.refresh():
            self._say("Reloaded from the server.", "info")


_CELL = "padding:0 0.8em 0 0; text-align:left; vertical-align:top"

#: Rule kinds in words, as the lab panel says them.
RULE_KINDS = {
    "catch_all": "everything else",
    "request_type": "request type",
    "filename": "file name",
    "model": "model name",
}


def _table(header: list[str], rows: list[list[str]], wrap: set[int] | None = None) -> str:
    """An HTML table whose cells never wrap (names, numbers, endpoints stay on one line)
    except in the columns listed in `wrap` (free text such as error messages)."""

    def cell(tag: str, index: int, content: str) -> str:
        nowrap = "" if wrap and index in wrap else " white-space:nowrap;"
        return f'<{tag} style="{_CELL};{nowrap}">{content}</{tag}>'

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _rules_html(rules: list[dict]) -> str:
    rows = []
    for rule in rules:
        targets = (
            " → ".join(html.escape(f"{t['provider']}/{t['model']}") for t in rule["targets"]) or "—"
        )
        state = "ok" if rule["ok"] else "problem: " + html.escape(rule.get("problem") or "")
        kind = RULE_KINDS.get(rule["kind"], rule["kind"])
        match = html.escape(kind + (f": {rule['pattern']}" if rule["pattern"] else ""))
        rows.append([match, targets, state])
    return _table(["Matches", "Targets (then fallbacks)", "State"], rows, wrap={2})


def _cost(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"


def _note(text: str, kind: str) -> str:
    return f'<span style="color:{_COLOURS[kind]}">{html.escape(text)}</span>' if text else ""


def _totals_html(series: UsageSeries) -> str:
    t = series.totals
    tokens = t["prompt_tokens"] + t["completion_tokens"]
    if t["cost"] is not None:
        spend = _cost(t["cost"])
    elif series.known_spend:
        spend = f"{_cost(series.known_spend)} + unpriced"
    else:
        spend = "unknown"
    errors = f"{t['errors']:,} error" + ("" if t["errors"] == 1 else "s")
    requests = f"{t['requests']:,} request" + ("" if t["requests"] == 1 else "s")
    return html.escape(
        f"{requests} · {errors} · {tokens:,} tokens ({t['prompt_tokens']:,} prompt, "
        f"{t['completion_tokens']:,} completion) · spend {spend}"
    )


def _legend_html(keys: list[str], colours: list[str]) -> str:
    items = (
        f'<span style="white-space:nowrap; margin-right:1em">'
        f'<span style="display:inline-block; width:0.8em; height:0.8em; '
        f'background:{colour}; margin-right:0.3em"></span>{html.escape(key)}</span>'
        for key, colour in zip(keys, colours, strict=True)
    )
    return " ".join(items)


def _make_chart(unit: str) -> bqplot.Figure | None:
    """An empty stacked bar chart of one quantity per day, or None without bqplot."""
    try:
        import bqplot
    except ImportError:
        return None
    x, y = bqplot.OrdinalScale(), bqplot.LinearScale(min=0)
    bars = bqplot.Bars(
        x=[],
        y=[],
        scales={"x": x, "y": y},
        type="stacked",
        padding=0.25,
        tooltip=bqplot.Tooltip(
            fields=["x", "y"],
            labels=["day", unit],
            formats=["", ".4f" if unit == "USD" else ","],
        ),
    )
    axes = [
        bqplot.Axis(scale=x, grid_lines="none"),
        bqplot.Axis(
            scale=y,
            orientation="vertical",
            tick_format="$,.3~r" if unit == "USD" else ",.3~s",
            grid_lines="solid",
        ),
    ]
    return bqplot.Figure(
        marks=[bars],
        axes=axes,
        fig_margin={"top": 15, "bottom": 25, "left": 60, "right": 10},
        padding_y=0,
        layout=widgets.Layout(width="100%", max_width="44em", height="200px"),
    )


def _draw(
    chart: bqplot.Figure,
    days: list[str],
    values: list[list[float]] | list[list[int]],
    keys: list[str],
    colours: list[str],
) -> None:
    """Give the chart one stack of bars per day, a layer per series, with a day label on
    at most 8 ticks (the latest day always) so that 30 days stay legible."""
    bars = chart.marks[0]
    labels = [_day_label(day) for day in days]
    with bars.hold_sync():
        bars.x = labels
        bars.y = values
        bars.labels = keys
        bars.colors = colours
    step = max(1, math.ceil(len(days) / 8))
    chart.axes[0].tick_values = labels[::-1][::step][::-1]


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _day_label(day: str) -> str:
    """`2026-11-25` as `Nov 25`: short enough for 8 ticks, and unique within a period."""
    _, month, dom = day.split("-")
    return f"{_MONTHS[int(month) - 1]} {dom}"


def _usage_html(series: UsageSeries) -> str:
    rows = [
        [
            html.escape(r["key"]),
            f"{r['requests']:,}",
            f"{r['errors']:,}",
            f"{r['prompt_tokens']:,}",
            f"{r['completion_tokens']:,}",
            _cost(r["cost"]),
        ]
        for r in [*series.per_key, series.totals]
    ]
    first = "Workspace" if series.dimension == "workspace" else "Model"
    return _table([first, "Requests", "Errors", "Prompt tokens", "Completion tokens", "Cost"], rows)
