"""Provider writes and their validation: the type's defaults, which auth goes with which
key, and that configured (shared) providers stay read-only."""

from __future__ import annotations

import os
from typing import Any

from ..endpoints import origin
from ..errors import Forbidden, InvalidRequest
from ..models import (
    PredefinedProvider,
    PriceIn,
    ProviderCreate,
    ProviderOut,
    ProviderTypeOut,
    ProviderUpdate,
    parse,
)
from ..providers.registry import PROVIDER_TYPES
from ..secrets import SecretKeyError
from ..store import KEEP, ProviderRecord
from .base import find_provider
from .discovery import Discovery
from .views import provider_view


class Providers(Discovery):
    @staticmethod
    def provider_types() -> list[ProviderTypeOut]:
        return [ProviderTypeOut(**t.as_dict()) for t in PROVIDER_TYPES.values()]

    async def list_providers(self) -> list[ProviderOut]:
        snapshot = await self._snapshot()
        return [provider_view(p, snapshot) for p in snapshot.providers.values()]

    async def get_provider(self, name: str) -> ProviderOut:
        snapshot = await self._snapshot()
        return provider_view(find_provider(snapshot, name), snapshot)

    async def provider_models(self, name: str) -> list[dict[str, Any]]:
        snapshot = await self._snapshot()
        return [{**m.info, "id": m.id} for m in find_provider(snapshot, name).models]

    async def create_provider(self, body: ProviderCreate) -> ProviderOut:
        """All or nothing: a create whose discovery cannot be recorded is undone, so the
        client's error is the whole story and a retry does not meet its own half-saved
        provider (409)."""
        await self._write(
            self.store.create_provider,
            **self._new_provider(body, body.api_key),
            providers=(body.name,),
        )
        try:
            return await self.refresh_provider(body.name)
        except Exception:
            await self._write(self.store.delete_provider, body.name, providers=(body.name,))
            raise

    def _new_provider(self, body: ProviderCreate, api_key: str | None) -> dict[str, Any]:
        """A new provider's row, the type's defaults filled in for what the body left out."""
        ptype = PROVIDER_TYPES[body.type]
        auth_type = body.auth_type or ("api_key" if api_key else ptype.default_auth)
        check_auth(body.type, auth_type, api_key)
        return {
            "name": body.name,
            "type": body.type,
            "endpoint": body.endpoint or ptype.default_endpoint,
            "description": body.description,
            "auth_type": auth_type,
            "api_key_encrypted": self._encrypt(api_key),
        }

    async def update_provider(self, name: str, body: ProviderUpdate) -> ProviderOut:
        snapshot = await self._snapshot()
        current = find_provider(snapshot, name)
        await self._check_writable(current)
        changes: dict[str, Any] = body.model_dump(
            exclude_unset=True, exclude_none=True, exclude={"api_key"}
        )
        auth_type = changes.get("auth_type", current.auth_type)
        if "endpoint" in changes and origin(changes["endpoint"]) != origin(current.endpoint):
            # A key goes only to the server it was given for: moving the endpoint to
            # another origin would otherwise send it there, at once and on every request.
            changes["api_key_encrypted"] = None
        if body.api_key:
            changes["api_key_encrypted"] = self._encrypt(body.api_key)
            if "auth_type" not in changes:
                auth_type = changes["auth_type"] = "api_key"
        if auth_type == "none":
            changes["api_key_encrypted"] = None  # a key that is never sent is not kept
        check_auth(current.type, auth_type, body.api_key)
        new_name = changes.get("name", name)
        await self._write(
            self.store.update_provider,
            name,
            **changes,
            providers=(name, new_name) if new_name != name else (name,),
            renames_provider=new_name != name,
        )
        return await self.refresh_provider(new_name)

    async def delete_provider(self, name: str) -> None:
        snapshot = await self._snapshot()
        await self._check_writable(find_provider(snapshot, name))
        await self._write(self.store.delete_provider, name, providers=(name,))

    async def share_provider(self, name: str) -> ProviderOut:
        """The Hub service's admin shares one of its providers with every user."""
        state = await self._write(self.store.share_provider, name, providers=(name,))
        return provider_view(find_provider(state, name), state)

    async def _check_writable(self, provider: ProviderRecord) -> None:
        """A shared provider is read-only, but to the Hub service's admin (owner "") one
        they shared over the API."""
        if not (
            provider.predefined
            and self.store.owner == ""
            and provider.name in await self._db(self.store.api_shared)
        ):
            check_writable(provider)

    async def set_price(self, name: str, body: PriceIn) -> list[dict[str, Any]]:
        prices = (body.prompt_per_million, body.completion_per_million)
        if (prices[0] is None) != (prices[1] is None):
            raise InvalidRequest(
                "Give both 'prompt_per_million' and 'completion_per_million', or neither "
                "(null clears the price)."
            )
        price = (
            None
            if prices[0] is None
            else {
                "prompt": prices[0] / 1_000_000,
                "completion": prices[1] / 1_000_000,
            }
        )
        if self.store.owner:  # a shared provider's prices are every user's costs
            check_writable(find_provider(await self._snapshot(), name))
        await self._write(self.store.set_price, name, body.model, price, providers=(name,))
        return await self.provider_models(name)

    def _predefined_row(self, index: int, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            body = parse(PredefinedProvider, spec)
            api_key = body.api_key or (
                os.environ.get(body.api_key_env) if body.api_key_env else None
            )
            row = self._new_provider(body, api_key)
        except InvalidRequest as exc:
            raise InvalidRequest(f"c.MuxApp.providers[{index}]: {exc.message}") from None
        if body.api_key_env and not api_key:
            # A server started without the variable must not erase the key every user's
            # requests are sent with: the stored one (if any) stays.
            self.log.warning(
                "jupyter-mux: c.MuxApp.providers[%d] (%s): the environment variable %s is "
                "not set; the stored key, if any, is kept.",
                index,
                body.name,
                body.api_key_env,
            )
            row["api_key_encrypted"] = KEEP
            if body.auth_type is None:
                row["auth_type"] = KEEP
        return row

    def sync_predefined(self, rows: list[dict[str, Any]]) -> None:
        """Blocking, at start: store the configured providers. One that differs from the
        shared provider stored under its name is not rewritten (see Store.sync_predefined);
        it is reported here, loudly, and the stored one is what this server routes to."""
        for name, fields in self.store.sync_predefined(rows, same_key=self._same_key):
            self.log.error(
                "jupyter-mux: c.MuxApp.providers defines '%s' with other values (%s) than "
                "the shared provider of that name in the database, which other users' "
                "servers use; keeping the stored one. A configuration cannot change a "
                "provider other users route to: give the changed one a new name.",
                name,
                ", ".join(fields),
            )

    def _same_key(self, stored: str | None, configured: str | None) -> bool:
        """Ciphertexts differ on every encryption; the keys they hold may not."""
        if stored is None or configured is None:
            return stored is configured
        try:
            return self.secrets.decrypt(stored) == self.secrets.decrypt(configured)
        except SecretKeyError:  # a stored key nobody can read differs from any key
            return False


def check_writable(provider: ProviderRecord) -> None:
    if provider.predefined:
        raise Forbidden(
            f"Provider '{provider.name}' is shared: defined in the server configuration "
            "(c.MuxApp.providers), or by the Hub service's admin; change it there."
        )


def check_auth(provider_type: str, auth_type: str, api_key: str | None) -> None:
    ptype = PROVIDER_TYPES[provider_type]
    if auth_type not in ptype.auth_types:
        raise InvalidRequest(
            f"'auth_type' {auth_type!r} is not valid for {ptype.label}; "
            f"use one of: {', '.join(ptype.auth_types)}."
        )
    if auth_type == "none" and api_key:
        raise InvalidRequest("'api_key' was given but 'auth_type' is 'none'.")
