"""The Hub service's organisation in the database: the admin's policies, what the Hub said
of each member, the budgets' counters with the holds of requests in flight, and usage
across all users. Every method is one transaction and blocks (callers use the store's
executor).

Budgets must hold across replicas of the service sharing one PostgreSQL. A counter row per
budget and period carries `spent` and `held` in integer micro-USD; a hold locks the
counters it takes from (`SELECT ... FOR UPDATE`, in a fixed order so two holds cannot
deadlock), checks them and adds to `held` in one transaction. Settling deletes the hold row
and moves its takes from `held` to `spent`: only the transaction that deletes the row
counts it, so a request's spend is counted exactly once, even when its hold had lapsed and
was reclaimed meanwhile. SQLite serves one process (the store thread serializes its writes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .store import usage_totals_query, usage_window
from .tables import (
    BudgetRow,
    HoldRow,
    MemberRow,
    ModelRow,
    PolicyRow,
    ProviderRow,
    Setting,
    UsageRow,
)

POLICY_REVISION_KEY = "policy_revision"


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    scope: str  # default | group | user
    name: str  # "" for default
    body: dict[str, Any]
    source: str  # config | api
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Member:
    owner: str
    groups: tuple[str, ...]
    admin: bool
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Take:
    """What a hold takes from one counter: `limit` is the budget at the time, in micro-USD."""

    scope: str
    period: str
    limit: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """The counter that had nothing left, as it stood."""

    scope: str
    period: str
    limit: int
    spent: int
    held: int


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal


class Org:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- policies ---------------------------------------------------------------------------

    def policy_revision(self) -> str:
        with self.engine.connect() as conn:
            return _setting(conn, POLICY_REVISION_KEY) or "0"

    def policies(self) -> list[PolicyRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(PolicyRow).order_by(PolicyRow.scope, PolicyRow.name))
            return [
                PolicyRecord(r.scope, r.name, json.loads(r.body), r.source, r.updated_at)
                for r in rows
            ]

    def seed_policies(self, entries: Iterable[PolicyRecord]) -> None:
        """The configuration's policies, as configured: a scope the file names is the file's
        (rewritten, read-only over the API); one it no longer names is gone, whoever's it
        was when the admin took it into the file. Policies made over the API stay."""
        entries = list(entries)
        named = {(e.scope, e.name) for e in entries}
        with self.engine.begin() as conn:
            for row in conn.execute(select(PolicyRow.scope, PolicyRow.name, PolicyRow.source)):
                if row.source == "config" and (row.scope, row.name) not in named:
                    conn.execute(_policy_where(delete(PolicyRow), row.scope, row.name))
            for entry in entries:
                conn.execute(_policy_where(delete(PolicyRow), entry.scope, entry.name))
                conn.execute(insert(PolicyRow).values(**_policy_values(entry)))
            _bump(conn)

    def put_policy(self, entry: PolicyRecord) -> bool:
        """Write an API policy; False when the scope is the configuration's."""
        with self.engine.begin() as conn:
            source = conn.execute(
                _policy_where(select(PolicyRow.source), entry.scope, entry.name).with_for_update()
            ).scalar_one_or_none()
            if source == "config":
                return False
            # Made meanwhile by another replica: then it is updated below.
            if source is not None or not _insert_new(conn, PolicyRow, _policy_values(entry)):
                conn.execute(
                    _policy_where(update(PolicyRow), entry.scope, entry.name).values(
                        body=json.dumps(entry.body), updated_at=entry.updated_at
                    )
                )
            _bump(conn)
            return True

    def delete_policy(self, scope: str, name: str) -> str | None:
        """Delete an API policy; the source of what was there (None: nothing)."""
        with self.engine.begin() as conn:
            source = conn.execute(
                _policy_where(select(PolicyRow.source), scope, name).with_for_update()
            ).scalar_one_or_none()
            if source == "api":
                conn.execute(_policy_where(delete(PolicyRow), scope, name))
                _bump(conn)
            return source

    # -- members ----------------------------------------------------------------------------

    def see_member(self, member: Member) -> None:
        values = {
            "groups_json": json.dumps(sorted(member.groups)),
            "admin": member.admin,
            "seen_at": member.seen_at,
        }
        with self.engine.begin() as conn:
            done = conn.execute(
                update(MemberRow).where(MemberRow.owner == member.owner).values(**values)
            )
            # Another replica may see them first: then update what it wrote.
            if done.rowcount == 0 and not _insert_new(
                conn, MemberRow, {"owner": member.owner, **values}
            ):
                conn.execute(
                    update(MemberRow).where(MemberRow.owner == member.owner).values(**values)
                )

    def member(self, owner: str) -> Member | None:
        found = self._members(MemberRow.owner == owner)
        return found[0] if found else None

    def members(self) -> list[Member]:
        return self._members(None)

    def _members(self, where: Any) -> list[Member]:
        query = select(MemberRow).order_by(MemberRow.owner)
        if where is not None:
            query = query.where(where)
        with self.engine.connect() as conn:
            return [
                Member(r.owner, tuple(json.loads(r.groups_json)), r.admin, r.seen_at)
                for r in conn.execute(query)
            ]

    # -- budgets ----------------------------------------------------------------------------

    def hold(
        self, hold_id: str, takes: list[Take], amount: int, expires_at: datetime
    ) -> Refusal | None:
        """Take up to `amount` from every counter, each capped at what it has left; refuse,
        taking nothing, when a counter has nothing left."""
        takes = sorted(takes, key=lambda t: (t.scope, t.period))
        try:
            with self.engine.begin() as conn:
                held: list[list[Any]] = []
                for take in takes:
                    _ensure_counter(conn, take.scope, take.period)
                    row = conn.execute(
                        _counter(
                            select(BudgetRow.spent, BudgetRow.held), take.scope, take.period
                        ).with_for_update()
                    ).one()
                    left = take.limit - row.spent - row.held
                    if row.spent >= take.limit or left <= 0:
                        raise _Refused(
                            Refusal(take.scope, take.period, take.limit, row.spent, row.held)
                        )
                    part = min(amount, left)
                    conn.execute(
                        _counter(update(BudgetRow), take.scope, take.period).values(
                            held=BudgetRow.held + part
                        )
                    )
                    held.append([take.scope, take.period, part])
                conn.execute(
                    insert(HoldRow).values(
                        id=hold_id, takes_json=json.dumps(held), expires_at=expires_at
                    )
                )
        except _Refused as refused:  # the transaction rolled back: nothing taken
            return refused.refusal
        return None

    def settle(self, spends: list[tuple[str, int]]) -> None:
        """Each finished request's spend (hold id, micro-USD), counted against every counter
        its hold took from, once: only the transaction that deletes the hold row counts it."""
        with self.engine.begin() as conn:
            for hold_id, spent in spends:
                row = conn.execute(
                    select(HoldRow.takes_json, HoldRow.lapsed)
                    .where(HoldRow.id == hold_id)
                    .with_for_update()
                ).one_or_none()
                if row is None:
                    continue
                if not conn.execute(delete(HoldRow).where(HoldRow.id == hold_id)).rowcount:
                    continue
                for scope, period, part in json.loads(row.takes_json):
                    conn.execute(
                        _counter(update(BudgetRow), scope, period).values(
                            spent=BudgetRow.spent + spent,
                            held=BudgetRow.held - (0 if row.lapsed else part),
                        )
                    )

    def reclaim(self, now: datetime, forget_before: datetime) -> int:
        """Release what the holds of requests past `expires_at` hold (their replica died, or
        they outran every timeout); a lapsed hold is kept, so that a spend that still comes
        is counted, until `forget_before`."""
        with self.engine.begin() as conn:
            conn.execute(delete(HoldRow).where(HoldRow.lapsed, HoldRow.expires_at < forget_before))
            rows = conn.execute(
                select(HoldRow.id, HoldRow.takes_json)
                .where(HoldRow.expires_at < now, HoldRow.lapsed == False)  # noqa: E712
                .with_for_update()
            ).all()
            for hold_id, takes_json in rows:
                conn.execute(update(HoldRow).where(HoldRow.id == hold_id).values(lapsed=True))
                for scope, period, part in json.loads(takes_json):
                    conn.execute(
                        _counter(update(BudgetRow), scope, period).values(
                            held=BudgetRow.held - part
                        )
                    )
            return len(rows)

    def counters(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        """(spent, held) of each (scope, period) asked for; counters never used are absent."""
        keys = list(keys)
        if not keys:
            return {}
        scopes = {scope for scope, _ in keys}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(BudgetRow.scope, BudgetRow.period, BudgetRow.spent, BudgetRow.held).where(
                    BudgetRow.scope.in_(scopes)  # type: ignore[attr-defined]
                )
            )
            wanted = set(keys)
            return {
                (r.scope, r.period): (r.spent, r.held)
                for r in rows
                if (r.scope, r.period) in wanted
            }

    # -- usage of everybody -----------------------------------------------------------------

    def model_infos(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(owner, provider, model, metadata) of every stored model: the admin's usage
        report prices each user's parts with their own providers' prices."""
        query = select(ProviderRow.owner, ProviderRow.name, ModelRow.model_id, ModelRow.info_json)
        query = query.join(ModelRow, ModelRow.provider_id == ProviderRow.id)
        with self.engine.connect() as conn:
            return [(o, p, m, json.loads(info)) for o, p, m, info in conn.execute(query)]

    def usage_by_owner(
        self,
        group_by: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        owner: str | None = None,
        owners: Iterable[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        """(key, owner, provider, model, requests, errors, prompt, completion) per group
        and owner: the caller prices each part and maps owners to groups."""
        if group_by == "day":
            key: Any = func.date(UsageRow.ts)
        elif group_by in ("user", "group"):
            key = UsageRow.owner
        else:
            key = getattr(UsageRow, group_by)
        query = usage_totals_query(key, UsageRow.owner).where(UsageRow.owner != "")
        query = usage_window(query, since, until)
        if owner is not None:
            query = query.where(UsageRow.owner == owner)
        if owners is not None:
            query = query.where(UsageRow.owner.in_(list(owners)))  # type: ignore[attr-defined]
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


def _setting(conn: Connection, key: str) -> str | None:
    return conn.execute(select(Setting.value).where(Setting.key == key)).scalar_one_or_none()


def _bump(conn: Connection) -> None:
    """A policy changed: every replica reloads its policies at its next sync."""
    if _insert_new(conn, Setting, {"key": POLICY_REVISION_KEY, "value": "1"}):
        return
    conn.execute(
        update(Setting)
        .where(Setting.key == POLICY_REVISION_KEY)
        .values(value=str(int(_setting(conn, POLICY_REVISION_KEY) or 0) + 1))
    )


def _policy_where(statement: Any, scope: str, name: str) -> Any:
    return statement.where(PolicyRow.scope == scope, PolicyRow.name == name)


def _policy_values(entry: PolicyRecord) -> dict[str, Any]:
    return {
        "scope": entry.scope,
        "name": entry.name,
        "body": json.dumps(entry.body),
        "source": entry.source,
        "updated_at": entry.updated_at,
    }


def _ensure_counter(conn: Connection, scope: str, period: str) -> None:
    if conn.execute(_counter(select(BudgetRow.scope), scope, period)).first() is None:
        _insert_new(conn, BudgetRow, {"scope": scope, "period": period, "spent": 0, "held": 0})


def _insert_new(conn: Connection, table: Any, values: dict[str, Any]) -> bool:
    """Insert unless the primary key exists (another replica's row, made meanwhile):
    whether this inserted. One statement on both databases, no savepoint."""
    if conn.dialect.name == "postgresql":
        statement: Any = postgresql_insert(table)
    else:
        statement = sqlite_insert(table)
    return bool(conn.execute(statement.values(**values).on_conflict_do_nothing()).rowcount)


def _counter(statement: Any, scope: str, period: str) -> Any:
    return statement.where(BudgetRow.scope == scope, BudgetRow.period == period)
