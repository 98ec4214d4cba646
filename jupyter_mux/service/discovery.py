"""Model discovery: ask a provider for its models and record the answer, or why there was
none, on the provider."""

from __future__ import annotations

import httpx

from ..models import ProviderOut
from ..routing import UnroutableProvider, Upstream, upstream_for
from ..store import ModelRecord
from ..upstream_errors import provider_message, scrub, upstream_failure
from .base import ServiceBase, find_provider
from .views import provider_view


class DiscoveryError(Exception):
    pass


def cleaned(text: str) -> str:
    """Upstream text as the store can keep it: PostgreSQL refuses NUL in text columns (the
    metadata is JSON, where json.dumps escapes it)."""
    return text.replace("\x00", "")


class Discovery(ServiceBase):
    async def refresh_provider(self, name: str) -> ProviderOut:
        """Discover the provider's models; a failure is recorded on the provider, not raised,
        so saving a provider that is down still saves it."""
        snapshot = await self._snapshot()
        provider = find_provider(snapshot, name)
        try:
            upstream = upstream_for(provider, self._api_key(provider))
            models = await self._discover(upstream)
        except (DiscoveryError, UnroutableProvider) as exc:
            error = cleaned(str(exc))
            self.log.warning("jupyter-mux: model discovery failed for %s: %s", name, error)
            snapshot = await self._write(
                self.store.set_models,
                name,
                None,
                status="error",
                error=error,
                providers=(name,),
            )
        else:
            models = [ModelRecord(cleaned(m.id), m.info) for m in models]
            snapshot = await self._write(
                self.store.set_models, name, models, status="ok", error=None, providers=(name,)
            )
        return provider_view(find_provider(snapshot, name), snapshot)

    async def refresh_all(self, names: list[str]) -> None:
        for name in names:
            try:
                await self.refresh_provider(name)
            except Exception:  # start-up must not die because one provider is odd
                self.log.exception("jupyter-mux: could not refresh provider %s", name)

    async def _discover(self, upstream: Upstream) -> list[ModelRecord]:
        """The provider's models; a DiscoveryError whose message is safe to store, log and
        show: an upstream that echoes the key it was sent has it scrubbed out."""
        try:
            return await upstream.wire.discover(
                self.client, upstream.base_url, upstream.headers, self.discovery_timeout
            )
        except httpx.HTTPStatusError as exc:
            response = exc.response
            message = provider_message(response.content) or response.reason_phrase
            why = f"{response.request.url} answered {response.status_code}: {message}"
        except httpx.HTTPError as exc:
            why = upstream_failure(upstream, exc).message
        except ValueError as exc:
            why = f"{upstream.base_url}: {exc}"
        raise DiscoveryError(scrub(why, upstream.secrets))
