"""What every part of the service shares: the store behind its one thread, the secret box,
and the routing table rebuilt after each write.

Store calls block, so they run on one dedicated thread: the event loop never waits on the
database, and writes from this process never race each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import httpx

from ..errors import NotFound
from ..routing import RoutingTable, build_table
from ..secrets import SecretBox
from ..store import ProviderRecord, Snapshot, Store

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
        return await self._db(self.store.snapshot)

    async def _reload(self) -> Snapshot:
        revision = await self._db(self.store.revision)
        snapshot = await self._snapshot()
        self.routing = build_table(snapshot, self._api_key)
        self._revision = revision
        return snapshot

    async def sync(self) -> None:
        """Catch up with writes other servers made to a shared database (every server of a
        JupyterHub, say): one small read, off the request path."""
        if await self._db(self.store.revision) != self._revision:
            await self._reload()

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
