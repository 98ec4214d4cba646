"""What every part of the service shares: the store behind its one thread, the secret box,
the current state (a snapshot of the store) and the routing table made from it.

Store calls block, so they run on one dedicated thread: the event loop never waits on the
database, and writes from this process never race each other.

The state and the table are kept, not reread: a read checks the store's revision (one small
query) and reloads everything only when another server changed it; a write reads back only
what it touched and changes the state and the table there (`_patch`), on the store's
thread, so its cost does not grow with the number of workspaces and the loop keeps serving
mux requests meanwhile. When the revision shows that another server wrote in between, the
write reloads everything instead, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import httpx

from ..errors import Forbidden, NotFound
from ..routing import Resolved, RoutingTable, resolve, route
from ..secrets import SecretBox
from ..store import Changes, ProviderRecord, Snapshot, Store

T = TypeVar("T")


class ServiceBase:
    def __init__(
        self,
        store: Store,
        secrets: SecretBox,
        client: httpx.AsyncClient,
        *,
        discovery_timeout: httpx.Timeout,
        log: logging.Logger,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.client = client
        self.discovery_timeout = discovery_timeout
        self.log = log
        # Services for several owners of one database (the Hub service's users) pass one
        # executor, so that this process's writes still never race each other.
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="jupyter-mux-store")
        self.routing = RoutingTable(active="", workspaces={})
        self._revision = ""
        # The store as of `_revision`, and each of its providers resolved for the table;
        # replaced (never changed in place) on the store's thread only.
        self._state = Snapshot({}, {}, "")
        self._resolved: dict[str, Resolved] = {}

    @property
    def revision(self) -> str:
        """The database revision the routing table was built from."""
        return self._revision

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.dispose()

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    async def _snapshot(self) -> Snapshot:
        """The store as it is now (as a fresh snapshot would read it)."""
        return await self._db(self._current)

    async def _reload(self) -> Snapshot:
        """Everything read again and the whole table rebuilt."""
        return await self._db(self._load)

    async def sync(self) -> None:
        """Catch up with writes other servers made to a shared database (every server of a
        JupyterHub, say): one small read, off the request path."""
        await self._db(self._current)

    async def _write(
        self,
        fn: Callable[..., Any],
        *args: Any,
        workspaces: tuple[str, ...] = (),
        providers: tuple[str, ...] = (),
        renames_provider: bool = False,
        **kwargs: Any,
    ) -> Snapshot:
        """Run a store write that may change the named workspaces and providers (and the
        active workspace), then bring the state and the table up to date; returns the
        state. A provider rename also renames the targets of every workspace using it."""
        return await self._db(
            self._written, fn, args, kwargs, workspaces, providers, renames_provider
        )

    # -- on the store's thread ---------------------------------------------------------------

    def _current(self) -> Snapshot:
        revision = self.store.revision()
        if revision != self._revision:
            return self._load(revision)
        return self._state

    def _load(self, revision: str | None = None) -> Snapshot:
        if revision is None:
            revision = self.store.revision()
        snapshot = self.store.snapshot()
        resolved = {n: resolve(p, self._api_key) for n, p in snapshot.providers.items()}
        self._state, self._resolved = snapshot, resolved
        self.routing = RoutingTable(
            active=snapshot.active,
            workspaces={w.name: route(w, resolved) for w in snapshot.workspaces.values()},
        )
        self._revision = revision
        return snapshot

    def _written(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        workspaces: tuple[str, ...],
        providers: tuple[str, ...],
        renames_provider: bool,
    ) -> Snapshot:
        before = self._revision
        state = self._state
        names = workspaces
        if renames_provider:
            users = (w.name for w in state.workspaces.values() if _uses(w, providers))
            names = tuple(dict.fromkeys((*workspaces, *users)))
        with self.store.transaction():
            fn(*args, **kwargs)
            changes = self.store.changes(
                names,
                providers,
                workspace_order=any(n not in state.workspaces for n in workspaces),
                provider_order=any(n not in state.providers for n in providers),
            )
        if changes.revision != self.store.after_one_write(before):
            # Another server wrote since this one last looked: read it all.
            return self._load()
        return self._patch(changes, names, providers)

    def _patch(
        self, changes: Changes, workspaces: tuple[str, ...], providers: tuple[str, ...]
    ) -> Snapshot:
        """The state and the table, changed where `changes` says: the same values a full
        reload gives (tests/test_incremental.py), at the cost of what changed."""
        state = self._state
        provider_records = dict(state.providers)
        resolved = dict(self._resolved)
        for name in providers:
            record = changes.providers.get(name)
            if record is None:
                provider_records.pop(name, None)
                resolved.pop(name, None)
            else:
                provider_records[name] = record
                resolved[name] = resolve(record, self._api_key)
        if changes.provider_order is not None:
            provider_records = {n: provider_records[n] for n in changes.provider_order}
        workspace_records = dict(state.workspaces)
        for name in workspaces:
            record = changes.workspaces.get(name)
            if record is None:
                workspace_records.pop(name, None)
            else:
                workspace_records[name] = record
        if changes.workspace_order is not None:
            workspace_records = {n: workspace_records[n] for n in changes.workspace_order}
        routes = dict(self.routing.workspaces)
        for name in workspaces:
            routes.pop(name, None)
        # Targets follow their provider: every workspace routed to a changed one.
        touched = {*workspaces}
        if providers:
            touched.update(w.name for w in workspace_records.values() if _uses(w, providers))
        for name in touched:
            if name in workspace_records:
                routes[name] = route(workspace_records[name], resolved)
        self._state = Snapshot(provider_records, workspace_records, changes.active)
        self._resolved = resolved
        self.routing = RoutingTable(active=changes.active, workspaces=routes)
        self._revision = changes.revision
        return self._state

    def _api_key(self, provider: ProviderRecord) -> str | None:
        if not provider.api_key_encrypted:
            return None
        return self.secrets.decrypt(provider.api_key_encrypted)

    def _encrypt(self, api_key: str | None) -> str | None:
        return self.secrets.encrypt(api_key) if api_key else None


def find_provider(snapshot: Snapshot, name: str) -> ProviderRecord:
    try:
        return snapshot.providers[name]
    except KeyError:
        raise NotFound(f"No provider named '{name}'.") from None


def check_workspace(snapshot: Snapshot, name: str) -> None:
    if name not in snapshot.workspaces:
        raise NotFound(f"No workspace named '{name}'.")


def check_own_workspace(snapshot: Snapshot, name: str) -> None:
    """A workspace this user may change: theirs, not one the Hub's admin shares."""
    check_workspace(snapshot, name)
    if snapshot.workspaces[name].shared:
        raise Forbidden(
            f"Workspace '{name}' is shared by the Hub's admin: you can use and activate it, "
            "not change it. Export it and import it under another name to make your own."
        )


def _uses(workspace: Any, providers: tuple[str, ...]) -> bool:
    return bool(providers) and any(
        t.provider in providers for r in workspace.rules for t in r.targets
    )
