"""How the admin's policies combine for one user, and the budgets, periods and estimates
that follow: pure functions, so every rule here is tested without a Hub or a database.

A field is decided by the most specific policy that sets it: the user's own, else their
groups' (the most generous of them: the highest budget, every model any of them allows, and
own providers if any allows them), else `default`, else no limit. Group totals
(`group_usd_per_*`) are budgets of their own, held by every member's request beside the
user's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase
from typing import Any

MICRO = 1_000_000  # budgets are counted in micro-USD
USER_BUDGETS = ("usd_per_day", "usd_per_month")
GROUP_BUDGETS = ("group_usd_per_day", "group_usd_per_month")
Entries = Mapping[tuple[str, str], Mapping[str, Any]]  # (scope, name) -> Policy fields


@dataclass(frozen=True, slots=True)
class Budget:
    """One limit a request is held against."""

    label: str  # "user alice usd_per_day": what a 429 and the API call it
    scope: str  # user:alice | group:staff
    period: str  # 2026-12-01 | 2026-12
    limit_usd: float
    resets_at: datetime

    @property
    def limit(self) -> int:
        return to_micro(self.limit_usd)


@dataclass(frozen=True, slots=True)
class Effective:
    usd_per_day: float | None
    usd_per_month: float | None
    allowed_models: tuple[str, ...] | None  # None: every model
    user_providers: bool
    # (group, field, USD) for each group total that applies
    group_budgets: tuple[tuple[str, str, float], ...] = ()

    def allows(self, provider: str, model: str) -> bool:
        if self.allowed_models is None:
            return True
        name = f"{provider}/{model}"
        return any(fnmatchcase(name, glob) for glob in self.allowed_models)

    def budgets(self, user: str, now: datetime) -> list[Budget]:
        found = []
        for field, value in zip(USER_BUDGETS, (self.usd_per_day, self.usd_per_month), strict=True):
            if value is not None:
                found.append(_budget(f"user {user} {field}", f"user:{user}", field, value, now))
        for group, field, value in self.group_budgets:
            found.append(_budget(f"group {group} {field}", f"group:{group}", field, value, now))
        return found


def resolve(
    entries: Entries, user: str, groups: Iterable[str], *, user_providers: bool
) -> Effective:
    """`user_providers` is the service's own setting, for when no policy decides."""
    groups = sorted(set(groups))
    own = entries.get(("user", user), {})
    theirs = [entries[("group", g)] for g in groups if ("group", g) in entries]
    default = entries.get(("default", ""), {})

    def pick(field: str, combine: Any) -> Any:
        if own.get(field) is not None:
            return own[field]
        values = [p[field] for p in theirs if p.get(field) is not None]
        if values:
            return combine(values)
        return default.get(field)

    def union(lists: list[list[str]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(glob for globs in lists for glob in globs))

    allowed = pick("allowed_models", union)
    providers = pick("user_providers", any)
    return Effective(
        usd_per_day=pick("usd_per_day", max),
        usd_per_month=pick("usd_per_month", max),
        allowed_models=None if allowed is None else tuple(allowed),
        user_providers=user_providers if providers is None else bool(providers),
        group_budgets=tuple(
            (g, field.removeprefix("group_"), float(p[field]))
            for g in groups
            if (p := entries.get(("group", g))) is not None
            for field in GROUP_BUDGETS
            if p.get(field) is not None
        ),
    )


def _budget(label: str, scope: str, field: str, usd: float, now: datetime) -> Budget:
    now = now.astimezone(timezone.utc)
    if field.endswith("day"):
        period = now.strftime("%Y-%m-%d")
        resets = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
    else:
        period = now.strftime("%Y-%m")
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        resets = datetime(year, month, 1, tzinfo=timezone.utc)
    return Budget(label, scope, period, float(usd), resets)


def to_micro(usd: float) -> int:
    """Rounded up: a spend is never counted as less than it was."""
    return math.ceil(round(usd * MICRO, 6))


def estimate(
    body: Mapping[str, Any],
    size: int,
    prices: Iterable[tuple[float, float] | None],
    *,
    output_tokens: int,
) -> float:
    """The most a request may cost, to hold against budgets while it runs: its prompt at
    one token per 3 bytes of the request (a generous count: text averages about 4), and
    its output at its own cap (`max_tokens`, `max_completion_tokens`, `max_output_tokens`)
    or `output_tokens`, at the dearest price among the targets that may serve it. A model
    without a price holds nothing (and costs nothing)."""
    cap = next(
        (
            body[k]
            for k in ("max_completion_tokens", "max_tokens", "max_output_tokens")
            if isinstance(body.get(k), int) and body[k] > 0
        ),
        output_tokens,
    )
    prompt_tokens = size // 3 + 1
    return max(
        (prompt_tokens * p + cap * c for p, c in (unit for unit in prices if unit)),
        default=0.0,
    )
