"""Usage over time, shaped for charts: the mux's usage rows turned into one series per
workspace or per model, a value per day.

The usage API groups by one thing at a time (`group_by=day|workspace|model`, with a
`workspace=` filter but no model filter), so the day-by-series grid is put together from a
few queries (`fetch`), as few as the data allows:

* `group_by=day` over the period: which days have any usage. With none, that is all.
* by workspace: `group_by=workspace` for the period's workspaces, then either one
  `group_by=day&workspace=` query per workspace or one `group_by=workspace` query per day
  with usage, whichever is fewer;
* by model: one `group_by=model` query per day with usage.

So a refresh costs 1 request on an idle period and at most 2 + min(workspaces, days) (by
workspace) or 1 + days with usage (by model). Days are UTC, as the server cuts them.

Everything but `fetch` is pure (rows in, series out) and unit-tested on its own; the widget
only draws what `shape` returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol

__all__ = [
    "DIMENSIONS",
    "MAX_SERIES",
    "NO_MODEL_KEY",
    "OTHERS",
    "UsageSeries",
    "add_rows",
    "fetch",
    "from_days",
    "from_series",
    "period",
    "shape",
]

Row = dict[str, Any]
#: What a chart can be split by, as the usage API names it.
DIMENSIONS = ("workspace", "model")
#: Series drawn at most; smaller ones are folded into `OTHERS`, so the legend stays short
#: and the colours distinct.
MAX_SERIES = 8
#: The series holding the folded ones. Parentheses are not allowed in workspace names, so
#: it cannot collide with a real one.
OTHERS = "(others)"
#: A request refused before it reached a model (no usable model, an unknown workspace) is
#: recorded with an empty model.
NO_MODEL_KEY = "(no model)"

_COUNTS = ("requests", "errors", "prompt_tokens", "completion_tokens")
# A name the `workspace=` filter accepts (docs/api.md): others are asked for per day.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def empty_row(key: str) -> Row:
    return {"key": key, **dict.fromkeys(_COUNTS, 0), "cost": 0.0}


def add_rows(key: str, rows: Iterable[Row]) -> Row:
    """The sum of usage rows under `key`; `cost` is None as soon as one part's is (a price
    unknown), as the server sums it."""
    total = empty_row(key)
    for row in rows:
        for name in _COUNTS:
            total[name] += row.get(name) or 0
        cost = row.get("cost")
        total["cost"] = None if total["cost"] is None or cost is None else total["cost"] + cost
    return total


def period(days: int, today: date) -> tuple[list[str], str, str]:
    """The last `days` days up to and including `today`, oldest first, as ISO dates, and
    the `since` and (exclusive) `until` that select them."""
    if days < 1:
        raise ValueError("a period has at least one day")
    span = [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]
    return span, span[0], (today + timedelta(days=1)).isoformat()


def from_days(per_day: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Row]]:
    """(day, row) pairs from usage answers grouped by the series' dimension, one per day."""
    return [(day, row) for day, usage in per_day.items() for row in usage["rows"]]


def from_series(per_series: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, Row]]:
    """(day, row) pairs from `group_by=day` answers, one per series (keyed by its name)."""
    return [
        (row["key"], {**row, "key": key})
        for key, usage in per_series.items()
        for row in usage["rows"]
    ]


@dataclass(frozen=True)
class UsageSeries:
    """A period's usage, day by day, one series per workspace or model.

    `tokens[i][d]` and `spend[i][d]` belong to `keys[i]` on `days[d]`. Spend counts what
    has a price; `unpriced` names the series with tokens on a model whose price is unknown
    (their spend is left out, so the chart shows a lower bound, and says so).
    """

    dimension: str
    days: list[str]
    keys: list[str] = field(default_factory=list)
    tokens: list[list[int]] = field(default_factory=list)
    spend: list[list[float]] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    #: The period's sums per series, in `keys` order.
    per_key: list[Row] = field(default_factory=list)
    #: The period's sums, `cost` None when any part has no price.
    totals: Row = field(default_factory=lambda: empty_row("total"))

    @property
    def empty(self) -> bool:
        return not self.totals["requests"]

    @property
    def known_spend(self) -> float:
        """What the priced part of the period cost, in USD."""
        return sum(sum(row) for row in self.spend)


def shape(
    dimension: str,
    days: list[str],
    cells: Iterable[tuple[str, Row]],
    max_series: int = MAX_SERIES,
) -> UsageSeries:
    """Usage rows, each of one series on one day, into series over `days`.

    Series are ordered by tokens, then requests (biggest first, so colours go to what
    matters), then name; beyond `max_series`, the smallest are summed into `OTHERS`. Rows
    of days outside `days` are ignored.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {DIMENSIONS}, not {dimension!r}")
    index = {day: n for n, day in enumerate(days)}
    grid: dict[str, list[list[Row]]] = {}
    for day, row in cells:
        if day not in index:
            continue
        key = row["key"] or (NO_MODEL_KEY if dimension == "model" else "(none)")
        grid.setdefault(key, [[] for _ in days])[index[day]].append(row)
    sums = {key: add_rows(key, (r for rs in per_day for r in rs)) for key, per_day in grid.items()}

    def size(key: str) -> tuple[int, int, str]:
        row = sums[key]
        return (-(row["prompt_tokens"] + row["completion_tokens"]), -row["requests"], key)

    ranked = sorted(grid, key=size)
    if len(ranked) > max_series:
        kept, folded = ranked[: max_series - 1], ranked[max_series - 1 :]
        grid[OTHERS] = [[r for key in folded for r in grid[key][d]] for d in range(len(days))]
        sums[OTHERS] = add_rows(OTHERS, (sums[key] for key in folded))
        ranked = [*kept, OTHERS]

    keys, tokens, spend, unpriced = [], [], [], []
    for key in ranked:
        cells_by_day = [add_rows(key, rows) for rows in grid[key]]
        keys.append(key)
        tokens.append([c["prompt_tokens"] + c["completion_tokens"] for c in cells_by_day])
        spend.append([c["cost"] or 0.0 for c in cells_by_day])
        if any(c["cost"] is None for c in cells_by_day):
            unpriced.append(key)
    per_key = [sums[key] for key in keys]
    return UsageSeries(
        dimension=dimension,
        days=list(days),
        keys=keys,
        tokens=tokens,
        spend=spend,
        unpriced=unpriced,
        per_key=per_key,
        totals=add_rows("total", per_key),
    )


class _Client(Protocol):
    def usage(
        self,
        group_by: str = ...,
        *,
        since: str | None = ...,
        until: str | None = ...,
        workspace: str | None = ...,
    ) -> dict[str, Any]: ...


def fetch(client: _Client, dimension: str, days: int, today: date | None = None) -> UsageSeries:
    """The last `days` days of usage (UTC) split by `dimension`, in as few requests as the
    data allows (see the module's docstring). Errors are the client's, for the caller to
    put in words."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {DIMENSIONS}, not {dimension!r}")
    span, since, until = period(days, today or datetime.now(timezone.utc).date())
    by_day = client.usage(group_by="day", since=since, until=until)
    active = [row["key"] for row in by_day["rows"] if row["requests"] and row["key"] in span]
    if not active:
        return shape(dimension, span, [])
    if dimension == "workspace":
        by_workspace = client.usage(group_by="workspace", since=since, until=until)
        names = [row["key"] for row in by_workspace["rows"]]
        if len(names) < len(active) and all(_NAME.match(name) for name in names):
            per_series = {
                name: client.usage(group_by="day", since=since, until=until, workspace=name)
                for name in names
            }
            return shape(dimension, span, from_series(per_series))
    per_day = {
        day: client.usage(
            group_by=dimension,
            since=day,
            until=(date.fromisoformat(day) + timedelta(days=1)).isoformat(),
        )
        for day in active
    }
    return shape(dimension, span, from_days(per_day))
