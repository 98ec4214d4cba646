"""Spend tracking: what each mux request used, recorded off the request path.

A request only appends an event to a list; a periodic flush writes the batch through the
store's thread. Token counts come from the answer: the JSON body's `usage` (the relay parses
the body anyway, to check it), or a stream's usage chunk, which the mux asks every upstream
for and drops again when the client did not ask for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .sse import Event, MalformedSSE, SSEReader

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UsageEvent:
    workspace: str
    rule: str
    streamed: bool
    started: float = field(default_factory=time.monotonic)
    ts: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    provider: str = ""
    model: str = ""
    status: int = 0
    first_byte: float | None = None
    usage: dict[str, Any] | None = None
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
            "prompt_tokens": _int(usage, "prompt_tokens"),
            "completion_tokens": _int(usage, "completion_tokens"),
            "latency_ms": (end - self.started) * 1000,
            "ttft_ms": (self.first_byte - self.started) * 1000 if self.first_byte else None,
            "streamed": self.streamed,
        }


def _int(usage: dict[str, Any] | None, key: str) -> int | None:
    value = (usage or {}).get(key)
    return value if isinstance(value, int) else None


class UsageTap:
    """Watches an OpenAI SSE stream for its usage, re-framing it on event boundaries, and
    drops the usage-only chunk the mux asked for on the client's behalf.

    The events come from an `SSEReader`, which parses each one anyway to check it, so the
    usage is read from the parsed chunk: no event is parsed twice. After a malformed event
    `error` says why, and nothing more comes out.
    """

    def __init__(self, event: UsageEvent, *, keep_usage_chunk: bool) -> None:
        self.event = event
        self.keep = keep_usage_chunk
        self.reader = SSEReader()

    @property
    def done(self) -> bool:
        """Saw `data: [DONE]`: the stream ended as it should."""
        return self.reader.done

    @property
    def error(self) -> MalformedSSE | None:
        return self.reader.error

    def feed(self, data: bytes) -> bytes:
        return self._relayed(self.reader.feed(data))

    def close(self) -> bytes:
        """The stream ended: what is left of it, read as a last event."""
        return self._relayed(self.reader.close())

    def _relayed(self, events: list[Event]) -> bytes:
        if not events:
            return b""
        if len(events) == 1:
            raw, payload = events[0]
            return b"" if payload is not None and self._drops(payload) else raw
        return b"".join(
            raw for raw, payload in events if payload is None or not self._drops(payload)
        )

    def _drops(self, chunk: dict[str, Any]) -> bool:
        """Note the chunk's usage; True for the usage-only chunk the client did not ask for."""
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            return False
        self.event.usage = usage
        return not self.keep and not chunk.get("choices")


class UsageRecorder:
    """Buffers events in memory; `flush` writes them in one batch (and now and then drops
    rows older than the retention)."""

    def __init__(
        self,
        write: Callable[[list[dict[str, Any]]], Awaitable[None]],
        purge: Callable[[datetime], Awaitable[None]],
        retention_days: int,
    ) -> None:
        self._write = write
        self._purge = purge
        self.retention = timedelta(days=retention_days) if retention_days > 0 else None
        self._events: list[UsageEvent] = []
        self._last_purge = 0.0

    def record(self, event: UsageEvent) -> None:
        event.finished = time.monotonic()
        self._events.append(event)

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
