"""Scoped mux keys (API.md section 5): made, listed and revoked here, and checked on the hot
path from an in-memory view.

A key's secret is `mux-` and 32 random bytes; only its SHA-256 is stored (a slow password
hash buys nothing against 256 random bits, and would cost every request). The view maps
hashes to keys: it is loaded at start, replaced after every key write, and reloaded with
the routing table when another server sharing the database wrote (`sync`), so revocation
and expiry apply to the very next request. A key's spend is kept in memory too: counted
from the usage rows at start, then charged as each request's usage is recorded (see
`UsageRecorder`), so the budget check is a dictionary lookup. Requests in flight are not
counted until they end: parallel requests can overshoot a budget by at most what they spend.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ..errors import MuxError
from ..models import KeyCreate, KeyCreated, KeyOut
from ..store import Changes, KeyRecord, Snapshot
from ..usage import UsageEvent
from .base import ServiceBase, check_workspace
from .usage import Prices, cost, model_prices

KEY_PREFIX = "mux-"
# What a listing shows of a secret: the prefix and 8 random characters.
SHOWN = len(KEY_PREFIX) + 8


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_view(key: KeyRecord, spent: float, last_used: datetime | None) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        workspace=key.workspace,
        expires_at=key.expires_at,
        budget_usd=key.budget_usd,
        spent_usd=spent,
        created_at=key.created_at,
        last_used_at=last_used,
    )


class KeyRefused(MuxError):
    """A mux key that is known but may not be used now (expired)."""

    status = 401
    code = "invalid_api_key"


class Keys(ServiceBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keys: dict[str, KeyRecord] = {}  # by the secret's hash
        self._spent: dict[str, float] = {}  # USD by key id
        self._used: dict[str, datetime] = {}  # last uses not yet written
        self._prices: Prices = {}

    def start_keys(self) -> None:
        """Each key's spend so far, at start (blocking, like the rest of the start; the key
        view itself comes with the state, see `_load`)."""
        self._spent = self.spend_from_usage()

    # The key view follows the state: read again whenever the whole state is (a key write,
    # another server's write seen by `sync`), and after a write here that renamed or deleted
    # a workspace (a rename moves the pins of its keys); the prices after a write to a
    # provider. On the store's thread.

    def _load(self, revision: str | None = None) -> Snapshot:
        snapshot = super()._load(revision)
        self._load_keys(snapshot)
        return snapshot

    def _patch(
        self, changes: Changes, workspaces: tuple[str, ...], providers: tuple[str, ...]
    ) -> Snapshot:
        state = super()._patch(changes, workspaces, providers)
        if any(name not in state.workspaces for name in workspaces):
            self._load_keys(state)
        elif providers:
            self._prices = model_prices(state)
        return state

    # Told each owner's key hashes whenever they are read again (the Hub service's index
    # of every user's keys, hub/tenants.py). Called on the store's thread.
    on_keys: Callable[[str, list[str]], None] | None = None

    def _load_keys(self, snapshot: Snapshot) -> None:
        self._keys = {k.secret_hash: k for k in self.store.mux_keys()}
        self._prices = model_prices(snapshot)
        if self.on_keys is not None:
            self.on_keys(self.store.owner, list(self._keys))

    def unit_price(self, provider: str, model: str) -> tuple[float, float] | None:
        """Per-token (prompt, completion) USD of a model this owner routes to, if known."""
        return self._prices.get((provider, model))

    def spend_from_usage(self) -> dict[str, float]:
        """Each key's spend counted from the usage rows (blocking)."""
        spent: dict[str, float] = {}
        rows = self.store.usage_totals("key")
        for key_id, provider, model, _, _, prompt, completion in rows:
            amount = cost(self._prices.get((provider, model)), prompt or 0, completion or 0)
            if key_id and amount:
                spent[key_id] = spent.get(key_id, 0.0) + amount
        return spent

    # -- the hot path ----------------------------------------------------------------------

    def key_for(self, secret: str) -> KeyRecord | None:
        """The key this secret is, None if it is none (or was revoked); an expired key is
        refused with a 401 that says so."""
        if not secret.startswith(KEY_PREFIX):
            return None
        key = self._keys.get(hash_secret(secret))
        if key is None:
            return None
        now = datetime.now(timezone.utc)
        if key.expires_at is not None and key.expires_at <= now:
            raise KeyRefused(f"The mux key '{key.name}' expired at {key.expires_at.isoformat()}.")
        self._used[key.id] = now
        return key

    def check_budget(self, key: KeyRecord) -> None:
        if key.budget_usd is None:
            return
        spent = self._spent.get(key.id, 0.0)
        if spent >= key.budget_usd:
            raise MuxError(
                f"The mux key '{key.name}' has used its budget of {key.budget_usd:g} USD "
                f"(spent {spent:.6g} USD).",
                status=429,
                code="budget_exceeded",
            )

    def charge(self, event: UsageEvent) -> None:
        """A finished request's cost, counted against its key (the recorder calls this)."""
        if not event.key or event.usage is None:
            return
        usage = event.usage
        unit = self._prices.get((event.provider, event.model))
        amount = cost(unit, usage.prompt_tokens or 0, usage.completion_tokens or 0)
        if amount:
            self._spent[event.key] = self._spent.get(event.key, 0.0) + amount

    # -- management ------------------------------------------------------------------------

    async def list_keys(self) -> list[KeyOut]:
        return [self._view(k) for k in await self._db(self.store.mux_keys)]

    async def create_key(self, body: KeyCreate, *, replacing: str | None = None) -> KeyCreated:
        """A new key; its secret is in this answer only."""
        if body.workspace is not None:
            check_workspace(await self._snapshot(), body.workspace)
        secret, key = new_key(body)
        await self._db(self.store.add_key, key, replacing=replacing)
        await self._reload()
        return KeyCreated(**self._view(key).model_dump(), secret=secret)

    def create_key_now(self, body: KeyCreate, *, replacing: str | None = None) -> str:
        """`create_key` for the server's start, before the loop runs; answers the secret."""
        secret, key = new_key(body)
        self.store.add_key(key, replacing=replacing)
        self._keys = {**self._keys, key.secret_hash: key}
        return secret

    async def revoke_key(self, key_id: str) -> None:
        await self._db(self.store.delete_key, key_id)
        await self._reload()

    async def flush_key_use(self) -> None:
        """Write when keys were last used: off the request path, with the usage flush."""
        used, self._used = self._used, {}
        if used:
            await self._db(self.store.touch_keys, used)

    def _view(self, key: KeyRecord) -> KeyOut:
        return key_view(key, self._spent.get(key.id, 0.0), self._used.get(key.id, key.last_used_at))


def new_key(body: KeyCreate) -> tuple[str, KeyRecord]:
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = KeyRecord(
        id=secrets.token_hex(8),
        name=body.name,
        prefix=secret[:SHOWN],
        secret_hash=hash_secret(secret),
        workspace=body.workspace,
        expires_at=body.expires_at,
        budget_usd=body.budget_usd,
        created_at=datetime.now(timezone.utc),
        last_used_at=None,
    )
    return secret, key


__all__ = ["KEY_PREFIX", "KeyRefused", "Keys", "hash_secret"]
