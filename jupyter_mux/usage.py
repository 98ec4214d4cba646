"""Spend tracking: what each mux request used, recorded off the request path.

A request only appends an event to a list; a periodic flush writes the batch through the
store's thread. Token counts come from the answer's `Usage` items, which the proxy takes as
they pass (an OpenAI-compatible upstream is always asked for its stream's usage chunk,
which is dropped again when the client did not ask for it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .items import Usage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UsageEvent:
    workspace: str
    rule: str
    streamed: bool
    key: str = ""  # the mux key's id; "" for the Jupyter token
    hold: str = ""  # the Hub service's budget hold (hub/guard.py); not a column
    started: float = field(default_factory=time.monotonic)
    ts: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    provider: str = ""
    model: str = ""
    status: int = 0
    first_byte: float | None = None
    usage: Usage | None = None
    finished: float | None = None

    def row(self) -> dict[str, Any]:
        usage = self.usage
        end = self.finished or time.monotonic()
        return {
            "ts": self.ts,
            "workspace": self.workspace,
            "rule": self.rule,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "latency_ms": (end - self.started) * 1000,
            "ttft_ms": (self.first_byte - self.started) * 1000 if self.first_byte else None,
            "streamed": self.streamed,
            "key": self.key,
        }


class UsageRecorder:
    """Buffers events in memory; `flush` writes them in one batch (and now and then drops
    rows older than the retention)."""

    def __init__(
        self,
        write: Callable[[list[dict[str, Any]]], Awaitable[None]],
        purge: Callable[[datetime], Awaitable[None]],
        retention_days: int,
        charge: Callable[[UsageEvent], None] | None = None,
    ) -> None:
        self._write = write
        # Counts each finished request against its key's budget, in memory, at once.
        self._charge = charge
        self._purge = purge
        self.retention = timedelta(days=retention_days) if retention_days > 0 else None
        self._events: list[UsageEvent] = []
        self._last_purge = 0.0

    def record(self, event: UsageEvent) -> None:
        event.finished = time.monotonic()
        self._events.append(event)
        if self._charge is not None:
            self._charge(event)

    async def flush(self) -> None:
        events, self._events = self._events, []
        if events:
            try:
                await self._write([e.row() for e in events])
            except Exception:  # usage must never take the mux down
                log.exception("jupyter-mux: could not record usage of %d requests", len(events))
        if self.retention and time.monotonic() - self._last_purge > 3600:
            self._last_purge = time.monotonic()
            await self._purge(datetime.now(timezone.utc) - self.retention)


def price(info: dict[str, Any]) -> tuple[float, float] | None:
    """Per-token (prompt, completion) prices in USD from a model's metadata: OpenRouter's
    `pricing`, or a `price` the user set; None when unknown."""
    for key in ("price", "pricing"):
        pricing = info.get(key)
        if isinstance(pricing, dict):
            try:
                return float(pricing["prompt"]), float(pricing["completion"])
            except (KeyError, TypeError, ValueError):
                continue
    return None
