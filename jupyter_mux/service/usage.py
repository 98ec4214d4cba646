"""Usage: rows the recorder hands over, their purge, and the spend report priced from the
models' metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import UsageOut, UsageQuery, UsageRowOut
from ..store import Snapshot
from ..usage import price
from .base import ServiceBase


class Usage(ServiceBase):
    async def record_usage(self, rows: list[dict[str, Any]]) -> None:
        await self._db(self.store.add_usage, rows)

    async def purge_usage(self, before: datetime) -> None:
        await self._db(self.store.purge_usage, before)

    async def usage(self, query: UsageQuery) -> UsageOut:
        """Totals per group; cost from the models' prices, None where any part is unknown."""
        rows = await self._db(
            self.store.usage_totals,
            query.group_by,
            since=query.since,
            until=query.until,
            workspace=query.workspace,
        )
        prices = model_prices(await self._snapshot())
        groups: dict[str, UsageRowOut] = {}
        for key, provider, model, requests, errors, prompt, completion in rows:
            group = groups.setdefault(str(key), UsageRowOut(key=str(key)))
            group.add(
                requests,
                errors or 0,
                prompt or 0,
                completion or 0,
                cost(prices.get((provider, model)), prompt or 0, completion or 0),
            )
        totals = UsageRowOut(key="total")
        for group in groups.values():
            totals.add(
                group.requests,
                group.errors,
                group.prompt_tokens,
                group.completion_tokens,
                group.cost,
            )
        return UsageOut(rows=sorted(groups.values(), key=lambda g: g.key), totals=totals)


Prices = dict[tuple[str, str], tuple[float, float] | None]


def model_prices(snapshot: Snapshot) -> Prices:
    """Per-token prices of every model the snapshot knows, by (provider, model)."""
    return {
        (provider.name, model.id): price(model.info)
        for provider in snapshot.providers.values()
        for model in provider.models
    }


def cost(unit: tuple[float, float] | None, prompt: int, completion: int) -> float | None:
    if unit is None:
        return None if prompt or completion else 0.0
    return prompt * unit[0] + completion * unit[1]
