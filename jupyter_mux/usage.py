"""Spend tracking: what each mux request used, recorded off the request path.

A request only appends an event to a list; a periodic flush writes the batch through the
store's thread. Token counts come from the answer: the JSON body's `usage` (parsed at flush
time, not on the request path), or a stream's usage chunk, which the mux asks every
upstream for and drops again when the client did not ask for it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

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
    # A non-streamed answer, parsed for its usage at flush time.
    body: bytes | None = None
    finished: float | None = None

    def row(self) -> dict[str, Any]:
        usage = self.usage
        if usage is None and self.body:
            usage = usage_of_body(self.body)
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


def usage_of_body(body: bytes) -> dict[str, Any] | None:
    try:
        usage = json.loads(body).get("usage")
    except (ValueError, AttributeError):
        return None
    return usage if isinstance(usage, dict) else None


class UsageTap:
    """Watches an OpenAI SSE stream for its usage, re-framing it on event boundaries, and
    drops the usage-only chunk the mux asked for on the client's behalf."""

    def __init__(self, event: UsageEvent, *, keep_usage_chunk: bool) -> None:
        self.event = event
        self.keep = keep_usage_chunk
        self.done = False  # saw `data: [DONE]`: the stream ended as it should
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        self._carry += data
        if b"\r" in self._carry:  # CRLF framing (legal SSE) becomes LF, so events split alike
            self._carry = self._carry.replace(b"\r\n", b"\n")
        end = self._carry.rfind(b"\n\n")
        if end < 0:
            return b""
        ready, self._carry = self._carry[: end + 2], self._carry[end + 2 :]
        if b"data: [DONE]" in ready or b"data:[DONE]" in ready:
            self.done = True
        if b'"usage"' not in ready:
            return ready
        kept = []
        for event in ready.split(b"\n\n")[:-1]:
            if self._is_usage_only(event) and not self.keep:
                continue
            kept.append(event + b"\n\n")
        return b"".join(kept)

    def close(self) -> bytes:
        tail, self._carry = self._carry, b""
        return tail

    def _is_usage_only(self, event: bytes) -> bool:
        if b'"usage"' not in event or not event.startswith(b"data: {"):
            return False
        try:
            chunk = json.loads(event[6:])
        except ValueError:
            return False
        usage = chunk.get("usage") if isinstance(chunk, dict) else None
        if not isinstance(usage, dict):
            return False
        self.event.usage = usage
        return not chunk.get("choices")


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
