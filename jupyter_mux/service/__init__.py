"""Management operations: validate against the current state, write through the store, and
swap in a routing table changed where the write changed it, so the very next mux request
sees the change.

`MuxService` is the one object the handlers and the app hold; each concern lives in its own
module and is mixed in here:

- `base.py`: the store's thread, the routing table and its rebuilds, key decryption;
- `providers.py`: provider writes and their validation;
- `discovery.py`: model discovery;
- `workspaces.py`: workspaces, rules, the active workspace, import and export;
- `usage.py`: usage rows and the spend report;
- `keys.py`: scoped mux keys, their in-memory view, budgets;
- `views.py`: what the API shows of stored records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store import TargetRecord
from .discovery import DiscoveryError
from .keys import Keys
from .providers import Providers
from .usage import Usage
from .views import provider_view, rules_view, workspace_view
from .workspaces import Workspaces

__all__ = [
    "DiscoveryError",
    "MuxService",
    "provider_view",
    "rules_view",
    "workspace_view",
]


class MuxService(Providers, Workspaces, Usage, Keys):
    def start(
        self,
        predefined: list[dict[str, Any]],
        seeds: Sequence[tuple[str, TargetRecord]] = (),
    ) -> list[str]:
        """Blocking start-up, before the server takes requests: migrate, check the key, load
        the configured providers and seeded workspaces, build the first routing table.
        Returns the names of the configured providers, whose models the caller discovers
        once the loop runs."""
        self.secrets.verify(self.store.initialize(self.secrets.key_check()))
        rows = [self._predefined_row(i, p) for i, p in enumerate(predefined)]
        if rows:
            self.sync_predefined(rows)
        if seeds:
            self.store.seed_workspaces(list(seeds))
        self._load()
        self.start_keys()
        return [row["name"] for row in rows]

    async def open(self) -> None:
        """Start for one more owner of an already started database, on the running loop
        (the Hub service, at a user's first request): their `default` workspace and active
        workspace, and their routing table."""
        await self._db(self.store.initialize, self.secrets.key_check())
        await self._reload()
