"""The admin's policy, enforced on every mux request of the Hub service: which models a
user may be served by, and budgets that hold.

Policies live in the database (the configuration's seeded at start, the admin API's added)
and in memory here, reloaded when any replica changes them; checking models costs a
dictionary lookup. A request of a user under a budget takes a hold on each of their budgets
before it is sent (one transaction, see store/org.py): its worst-case cost, capped at what
is left, so parallel requests cannot spend what others hold. When it ends, the recorder
hands its spend here, settled at once off the request path (those that end together in one
transaction); a hold never settled (its replica died) lapses after `hold_seconds`.

How far a budget can be overshot: each request in flight when the budget runs out may spend
more than it held by whatever its cost exceeds the hold: only where its hold was capped by
what was left, or its prompt ran over the estimate (policy.estimate). Requests with
`max_tokens` on models with a price never exceed their hold by more than the prompt's error.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from jupyter_server.auth.identity import User
from sqlalchemy.exc import SQLAlchemyError

from ..errors import MuxError, NotFound
from ..models import UsageRowOut
from ..routing import Rule, WorkspaceRoute
from ..service.usage import cost
from ..store.org import Member, Org, PolicyRecord, Take
from ..usage import UsageEvent, price
from .models import (
    AdminUsageOut,
    AdminUsageQuery,
    BudgetOut,
    EffectivePolicy,
    MemberOut,
    MeOut,
    Policy,
    PolicyOut,
)
from .policy import MICRO, Budget, Effective, estimate, resolve, to_micro

NO_GROUP = "(no group)"
PriceOf = Callable[[str, str], "tuple[float, float] | None"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True)
class Identity:
    """What the Hub says of a request's user (from its token's or cookie's model)."""

    name: str
    groups: tuple[str, ...]
    admin: bool

    @classmethod
    def of(cls, user: User) -> Identity:
        model = getattr(user, "hub_user", None) or {}
        groups = tuple(sorted(model.get("groups") or ()))
        return cls(user.username, groups, bool(model.get("admin")))


class BudgetExceeded(MuxError):
    status = 429
    code = "budget_exceeded"

    def __init__(self, budget: Budget, spent: int, held: int, now: datetime) -> None:
        held_part = f", {usd(held / MICRO)} USD more held by requests in flight" if held else ""
        super().__init__(
            f"Budget exceeded: {budget.label} is {usd(budget.limit_usd)} USD and "
            f"{usd(spent / MICRO)} USD is spent{held_part}. It resets at "
            f"{budget.resets_at.strftime('%Y-%m-%dT%H:%M:%SZ')}. Ask the Hub's admin for a "
            "larger budget, or use a cheaper model."
        )
        self.resets_at = budget.resets_at
        self.retry_after = max(1, math.ceil((budget.resets_at - now).total_seconds()))


def usd(amount: float) -> str:
    """Cents, or as many decimals as a small amount needs to not read as zero."""
    return f"{amount:.2f}" if amount >= 0.01 or amount == 0 else f"{amount:.6f}".rstrip("0")


class ModelNotAllowed(MuxError):
    status = 403
    code = "model_not_allowed"


class Guard:
    def __init__(
        self,
        org: Org,
        executor: Executor,
        *,
        config: Iterable[PolicyRecord],
        user_providers: bool,
        output_tokens: int,
        hold_seconds: float,
        log: logging.Logger,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.org = org
        self._executor = executor
        self._config = list(config)
        self._user_providers = user_providers
        self._output_tokens = output_tokens
        self._hold_for = timedelta(seconds=hold_seconds)
        self.log = log
        self.clock = clock
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}
        self._records: list[PolicyRecord] = []
        self._revision = ""
        self._members: dict[str, Identity] = {}  # as last written
        self._spends: list[tuple[str, int]] = []
        self._sizes: dict[str, int] = {}  # request bytes by open hold, for `spent`
        self._settling: asyncio.Future[None] | None = None
        self._last_reclaim = 0.0

    async def _db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- start and sync ---------------------------------------------------------------------

    def start(self) -> None:
        """Blocking, at the service's start: the configuration's policies written."""
        self.org.seed_policies(self._config)
        self._load()

    def _load(self) -> None:
        revision = self.org.policy_revision()
        self._records = self.org.policies()
        self._entries = {(r.scope, r.name): r.body for r in self._records}
        self._revision = revision

    async def sync(self) -> None:
        """Another replica's policy writes, at most one sync interval late."""
        if await self._db(self.org.policy_revision) != self._revision:
            await self._db(self._load)

    def effective(self, who: Identity) -> Effective:
        return resolve(self._entries, who.name, who.groups, user_providers=self._user_providers)

    # -- the hot path -----------------------------------------------------------------------

    def see(self, who: Identity) -> None:
        """Remember the user's groups for usage per group (written off the request path,
        and only when the Hub's answer changed)."""
        if self._members.get(who.name) != who:
            self._members[who.name] = who
            member = Member(who.name, who.groups, who.admin, self.clock())
            future = self._executor.submit(self.org.see_member, member)
            future.add_done_callback(self._log_failure)

    async def identity(self, owner: str) -> Identity:
        """A user as the Hub last described them (for a request made with their mux key,
        which the Hub does not know): their groups; never an admin."""
        who = self._members.get(owner)
        if who is None:
            member = await self._db(self.org.member, owner)
            who = Identity(owner, member.groups if member else (), False)
        return Identity(who.name, who.groups, False)

    def _log_failure(self, future: Any) -> None:
        if future.exception() is not None:
            self.log.error("jupyter-mux: could not write a member: %s", future.exception())

    def allowed(self, who: Identity, rule: Rule) -> Rule:
        """The rule with only the targets the user's policy allows; refused when none is."""
        policy = self.effective(who)
        if policy.allowed_models is None:
            return rule
        targets = tuple(t for t in rule.targets if policy.allows(t.provider, t.model))
        if not targets:
            first = rule.targets[0] if rule.targets else None
            asked = f"'{first.provider}/{first.model}'" if first else "this request's model"
            raise ModelNotAllowed(
                f"The Hub's admin does not allow you {asked}. Allowed: "
                f"{', '.join(policy.allowed_models) or 'no model'}.",
            )
        return rule if len(targets) == len(rule.targets) else Rule(rule.kind, rule.pattern, targets)

    def visible(self, who: Identity, route: WorkspaceRoute) -> WorkspaceRoute:
        policy = self.effective(who)
        if policy.allowed_models is None:
            return route
        allowed = policy.allows
        rules = tuple(
            Rule(r.kind, r.pattern, tuple(t for t in r.targets if allowed(t.provider, t.model)))
            for r in route.rules
        )
        return WorkspaceRoute(route.name, rules)

    async def hold(
        self, who: Identity, rule: Rule, body: dict[str, Any], size: int, price_of: PriceOf
    ) -> str | None:
        """Hold the request's worst case on each of the user's budgets; the hold's id, or
        None when no budget applies. Raises the 429 of the first budget with nothing left."""
        budgets = self.effective(who).budgets(who.name, self.clock())
        if not budgets:
            return None
        worst = estimate(
            body,
            size,
            (price_of(t.provider, t.model) for t in rule.targets),
            output_tokens=self._output_tokens,
        )
        hold_id = secrets.token_hex(16)
        takes = [Take(b.scope, b.period, b.limit) for b in budgets]
        try:
            refused = await self._db(
                self.org.hold, hold_id, takes, to_micro(worst), self.clock() + self._hold_for
            )
        except SQLAlchemyError as exc:
            # Without the database no budget can be checked: refuse rather than overspend.
            self.log.error("jupyter-mux: could not hold budgets: %s", exc)
            raise MuxError(
                "The mux service cannot check your budget right now (its database did not "
                "answer); try again shortly.",
                status=503,
                code="budget_unavailable",
            ) from None
        if refused is not None:
            budget = next(
                b for b in budgets if (b.scope, b.period) == (refused.scope, refused.period)
            )
            raise BudgetExceeded(budget, refused.spent, refused.held, self.clock())
        self._sizes[hold_id] = size
        return hold_id

    def spent(self, event: UsageEvent, price_of: PriceOf) -> None:
        """The recorder's charge: a finished request's cost, settled at the next flush.
        A request that ended without the upstream's usage (a client that hung up mid-way)
        is charged its prompt's estimate."""
        hold = event.hold
        if not hold:
            return
        size = self._sizes.pop(hold, 0)
        unit = price_of(event.provider, event.model)
        usage = event.usage
        if usage is not None:
            amount = cost(unit, usage.prompt_tokens or 0, usage.completion_tokens or 0) or 0.0
        elif event.first_byte is not None and unit is not None:
            amount = unit[0] * (size // 3 + 1)
        else:
            amount = 0.0
        self._spends.append((hold, to_micro(amount)))
        # Settled at once, off the request path, rather than at the next periodic flush:
        # until then the hold keeps its worst case from the user's next requests.
        if self._settling is None or self._settling.done():
            self._settling = asyncio.ensure_future(self.settle())

    async def settle(self) -> None:
        """Every spend not yet settled, in one transaction per batch."""
        while self._spends:
            spends, self._spends = self._spends, []
            try:
                await self._db(self.org.settle, spends)
            except Exception:  # kept for the next flush: a spend is never dropped
                self._spends[:0] = spends
                self.log.exception("jupyter-mux: could not settle %d budget holds", len(spends))
                return

    async def flush(self) -> None:
        """The periodic pass: spends left over (a failed write) and lapsed holds."""
        await self.settle()
        now = self.clock()
        if now.timestamp() - self._last_reclaim > 60:
            self._last_reclaim = now.timestamp()
            lapsed = await self._db(self.org.reclaim, now, now - timedelta(days=2))
            if lapsed:
                self.log.warning("jupyter-mux: released %d lapsed budget holds", lapsed)

    # -- reports ----------------------------------------------------------------------------

    async def me(self, who: Identity) -> MeOut:
        return (await self._reports([who]))[0]

    async def members(self) -> list[MemberOut]:
        found = await self._db(self.org.members)
        reports = await self._reports([Identity(m.owner, m.groups, m.admin) for m in found])
        return [
            MemberOut(**me.model_dump(), seen_at=m.seen_at)
            for me, m in zip(reports, found, strict=True)
        ]

    async def _reports(self, people: list[Identity]) -> list[MeOut]:
        """Each one's policy and budgets, from one read of the counters however many."""
        now = self.clock()
        budgets = [self.effective(who).budgets(who.name, now) for who in people]
        wanted = {(b.scope, b.period) for mine in budgets for b in mine}
        counters = await self._db(self.org.counters, wanted)
        return [
            self._report(who, mine, counters) for who, mine in zip(people, budgets, strict=True)
        ]

    def _report(
        self, who: Identity, budgets: list[Budget], counters: dict[tuple[str, str], Any]
    ) -> MeOut:
        policy = self.effective(who)
        return MeOut(
            name=who.name,
            admin=who.admin,
            groups=list(who.groups),
            policy=EffectivePolicy(
                usd_per_day=policy.usd_per_day,
                usd_per_month=policy.usd_per_month,
                allowed_models=None
                if policy.allowed_models is None
                else list(policy.allowed_models),
                user_providers=policy.user_providers,
            ),
            budgets=[_budget_out(b, counters.get((b.scope, b.period), (0, 0))) for b in budgets],
        )

    def policies(self) -> list[PolicyOut]:
        return [policy_out(r) for r in self._records]

    async def put_policy(self, scope: str, name: str, policy: Policy) -> PolicyOut:
        record = PolicyRecord(
            scope, name, policy.model_dump(exclude_none=True), "api", self.clock()
        )
        if not await self._db(self.org.put_policy, record):
            raise _from_config(scope, name)
        await self._db(self._load)
        return policy_out(record)

    async def delete_policy(self, scope: str, name: str) -> None:
        source = await self._db(self.org.delete_policy, scope, name)
        if source is None:
            raise NotFound(f"There is no policy for {_scope_label(scope, name)}.")
        if source == "config":
            raise _from_config(scope, name)
        await self._db(self._load)

    async def usage(self, query: AdminUsageQuery) -> AdminUsageOut:
        """Usage across users, each part priced by its owner's providers (a user's own
        provider has prices of its own) or the shared ones."""
        prices = {
            (owner, provider, model): price(info)
            for owner, provider, model, info in await self._db(self.org.model_infos)
        }

        def price_of(owner: str, provider: str, model: str) -> tuple[float, float] | None:
            found = prices.get((owner, provider, model))
            return found if found is not None else prices.get(("", provider, model))

        members = {m.owner: m.groups for m in await self._db(self.org.members)}
        owners = None
        if query.group is not None:
            owners = [o for o, groups in members.items() if query.group in groups]
        rows = await self._db(
            lambda: self.org.usage_by_owner(
                query.group_by,
                since=query.since,
                until=query.until,
                owner=query.user,
                owners=owners,
            )
        )
        groups: dict[str, UsageRowOut] = {}
        totals = UsageRowOut(key="total")
        for key, owner, provider, model, requests, errors, prompt, completion in rows:
            parts = (
                requests,
                errors or 0,
                prompt or 0,
                completion or 0,
                cost(price_of(owner, provider, model), prompt or 0, completion or 0),
            )
            totals.add(*parts)
            by_group = query.group_by == "group"
            for k in (members.get(owner) or (NO_GROUP,)) if by_group else (str(key),):
                groups.setdefault(k, UsageRowOut(key=k)).add(*parts)
        return AdminUsageOut(rows=sorted(groups.values(), key=lambda g: g.key), totals=totals)


def policy_out(record: PolicyRecord) -> PolicyOut:
    return PolicyOut(
        scope=record.scope,  # type: ignore[arg-type]
        name=record.name or None,
        policy=Policy(**record.body),
        source=record.source,  # type: ignore[arg-type]
        updated_at=record.updated_at,
    )


def _budget_out(budget: Budget, counter: tuple[int, int]) -> BudgetOut:
    spent, held = counter
    return BudgetOut(
        budget=budget.label,
        limit_usd=budget.limit_usd,
        spent_usd=spent / MICRO,
        held_usd=held / MICRO,
        resets_at=budget.resets_at,
    )


def _scope_label(scope: str, name: str) -> str:
    return "everybody (default)" if scope == "default" else f"{scope} '{name}'"


def _from_config(scope: str, name: str) -> MuxError:
    return MuxError(
        f"The policy for {_scope_label(scope, name)} is set in the service's configuration "
        "file (c.HubServiceApp.policies); change it there.",
        status=409,
        code="conflict",
    )
