"""One tenant per Hub user: the server extension's service, proxy and kept responses, made
for that user at their first request (or their mux key's) and let go when idle.

The store has always worked for one owner; here each user gets a store view of their own
name on the one engine, a `MuxService` over it (all of them on one store thread, so this
process's writes still never race), a `Proxy` on the shared upstream pool whose usage lands
in their rows, and a `ResponseStore` so nobody can fetch or continue another's response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from jupyter_server.auth.identity import User

from ..errors import MuxError
from ..openai_request import MuxRequest
from ..proxy import Proxy
from ..response_store import ResponseStore
from ..routing import Rule, WorkspaceRoute
from ..service import MuxService
from ..service.keys import KEY_PREFIX, hash_secret
from ..store import KeyRecord
from ..usage import UsageEvent, UsageRecorder
from .guard import Guard, Identity


@dataclass
class Tenant:
    service: MuxService
    proxy: Proxy
    responses: ResponseStore
    recorder: UsageRecorder
    guard: Guard
    used: float = field(default_factory=time.monotonic)  # when a request last found it
    inflight: int = 0  # requests admitted and not yet done

    async def admit(
        self, user: User, rule: Rule, request: MuxRequest, size: int
    ) -> tuple[Rule, str]:
        """The admin's policy on a request about to be sent: the targets it allows, and a
        hold on the user's budgets (its id, "" when none applies)."""
        who = Identity.of(user)
        rule = self.guard.allowed(who, rule)
        hold = await self.guard.hold(who, rule, request.body, size, self.service.unit_price)
        self.inflight += 1
        return rule, hold or ""

    def done(self) -> None:
        """An admitted request ended: its usage is in the recorder."""
        self.inflight -= 1

    def visible(self, user: User, route: WorkspaceRoute) -> WorkspaceRoute:
        """The workspace as `/v1/models` shows it: only models the policy allows."""
        return self.guard.visible(Identity.of(user), route)


def owner_of(user: User) -> str:
    """The store owner of a Hub identity: a user's name, as their own servers on a shared
    database name it (so moving users onto the service keeps their setups). Services and
    other token kinds are refused: their names could collide with users' names."""
    hub_user = getattr(user, "hub_user", None) or {}
    if hub_user.get("kind", "user") != "user" or not user.username:
        raise MuxError(
            "Only Hub users can use the mux service; this token belongs to a "
            f"{hub_user.get('kind', 'non-user')}.",
            status=403,
            code="forbidden",
        )
    return user.username


class Tenants:
    """Every user's tenant, made on first use from the base service (the admin's
    configuration, owner "")."""

    def __init__(
        self,
        base: MuxService,
        guard: Guard,
        make_proxy: Callable[[UsageRecorder], Proxy],
        make_responses: Callable[[], ResponseStore],
        retention_days: int,
        log: logging.Logger,
    ) -> None:
        self.base = base
        self.guard = guard
        self._make_proxy = make_proxy
        self._make_responses = make_responses
        self._retention_days = retention_days
        self.log = log
        # One store thread for every user, as for one: this process's writes never race.
        self._executor: ThreadPoolExecutor = base._executor
        self._tenants: dict[str, Tenant] = {}
        self._key_owners: dict[str, str] = {}
        self._revisions: dict[str, int] = {}
        self._opening: dict[str, asyncio.Task[Tenant]] = {}

    async def get(self, user: User) -> Tenant:
        self.guard.see(Identity.of(user))
        return await self.tenant(owner_of(user))

    async def tenant(self, owner: str) -> Tenant:
        tenant = self._tenants.get(owner)
        if tenant is not None:
            tenant.used = time.monotonic()
            return tenant
        # Parallel first requests of one user open their tenant once.
        task = self._opening.get(owner)
        if task is None:
            task = self._opening[owner] = asyncio.ensure_future(self._open(owner))
            task.add_done_callback(lambda _: self._opening.pop(owner, None))
        return await asyncio.shield(task)

    async def _db(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _open(self, owner: str) -> Tenant:
        base = self.base
        service = MuxService(
            base.store.for_owner(owner, sees_shared=True),
            base.secrets,
            base.client,
            discovery_timeout=base.discovery_timeout,
            log=base.log,
            executor=self._executor,
        )
        service.on_keys = self._index_keys
        await service.open()
        guard = self.guard

        def charge(event: UsageEvent) -> None:
            service.charge(event)  # the mux key's own budget, if it has one
            guard.spent(event, service.unit_price)

        recorder = UsageRecorder(
            service.record_usage, service.purge_usage, self._retention_days, charge=charge
        )
        tenant = Tenant(
            service, self._make_proxy(recorder), self._make_responses(), recorder, guard
        )
        self._tenants[owner] = tenant
        self.log.info("jupyter-mux: serving Hub user %s", owner)
        return tenant

    # -- mux keys: whose key a request carries, before anything else is known ----------------

    def load_keys(self) -> None:
        """Blocking, at start: every user's keys, by the secret's hash."""
        self._key_owners = self.base.store.key_owners()

    def _index_keys(self, owner: str, hashes: list[str]) -> None:
        """An owner's keys as just read (on the store's thread): the index is replaced,
        never changed in place, so the loop always reads a whole one."""
        index = {h: o for h, o in self._key_owners.items() if o != owner}
        index.update(dict.fromkeys(hashes, owner))
        self._key_owners = index

    async def for_key(self, secret: str) -> tuple[Tenant, KeyRecord, User] | None:
        """The tenant, key and user of a mux key; None when it is none. The user is the
        key's owner as the Hub last described them, never an admin: a key reaches only
        the mux routes, under its owner's policy and budgets."""
        if not secret.startswith(KEY_PREFIX):
            return None
        owner = self._key_owners.get(hash_secret(secret))
        if owner is None:
            return None
        tenant = await self.tenant(owner)
        key = tenant.service.key_for(secret)  # an expired key: a 401 saying so
        if key is None:
            return None
        who = await self.guard.identity(owner)
        user = User(username=owner, name=key.name)
        user.hub_user = {"kind": "user", "name": owner, "groups": list(who.groups)}  # type: ignore[attr-defined]
        return tenant, key, user

    async def close_idle(self, idle_for: float, now: float | None = None) -> list[str]:
        """Let go of the tenants no request has found for `idle_for` seconds and none is
        using: their usage and key use written first. Their next request opens them again
        from the database; only their kept Responses answers are gone."""
        now = time.monotonic() if now is None else now
        idle = [
            owner
            for owner, t in self._tenants.items()
            if now - t.used > idle_for and t.inflight == 0
        ]
        for owner in idle:
            tenant = self._tenants.pop(owner)
            await tenant.recorder.flush()
            await tenant.service.flush_key_use()
        return idle

    async def flush(self) -> None:
        """Every tenant's usage, written in one pass (the service's periodic flush)."""
        for tenant in list(self._tenants.values()):
            await tenant.recorder.flush()
            await tenant.service.flush_key_use()
        await self.guard.flush()

    async def sync(self) -> None:
        """Catch up with the shared rows' changes (a shared provider refreshed, a shared
        workspace changed) and with other replicas' writes: one read of every owner's
        revision, then a rebuild only for the users whose own or shared rows changed, so
        one user's write costs the others nothing."""
        await self.base.sync()
        revisions = await self._db(self.base.store.owner_revisions)
        if revisions != self._revisions:  # perhaps keys made or revoked on a replica
            self._key_owners = await self._db(self.base.store.key_owners)
            self._revisions = revisions
        await self.guard.sync()
        shared = revisions.get("", 0)
        for owner, tenant in list(self._tenants.items()):
            if tenant.service.revision != f"{revisions.get(owner, 0)}.{shared}":
                await tenant.service.sync()
