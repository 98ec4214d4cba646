"""Try a provider before it is saved: discover its models with the settings a user typed,
store nothing. The lab's provider form asks this first, so an unreachable endpoint keeps the
form open with the reason instead of saving something that cannot answer."""

from __future__ import annotations

import httpx
from pydantic import BaseModel

from .models import ProviderCreate
from .providers.registry import PROVIDER_TYPES
from .routing import Upstream, upstream_for
from .store import ModelRecord, ProviderRecord
from .upstream_errors import provider_message, scrub, upstream_failure


class ProbeOut(BaseModel):
    ok: bool
    models: list[str]
    error: str | None = None


class DiscoveryError(Exception):
    """Why a provider's model list could not be read, in words for the user."""


async def discover(
    client: httpx.AsyncClient, upstream: Upstream, timeout: httpx.Timeout
) -> list[ModelRecord]:
    """The upstream's models by its wire's discovery; every failure a DiscoveryError whose
    message names the cause, with the key the mux sent scrubbed out."""
    try:
        return await upstream.wire.discover(client, upstream.base_url, upstream.headers, timeout)
    except httpx.HTTPStatusError as exc:
        response = exc.response
        message = provider_message(response.content) or response.reason_phrase
        text = f"{response.request.url} answered {response.status_code}: {message}"
        raise DiscoveryError(scrub(text, upstream.secrets)) from None
    except httpx.HTTPError as exc:
        raise DiscoveryError(upstream_failure(upstream, exc).message) from None
    except ValueError as exc:
        raise DiscoveryError(scrub(f"{upstream.base_url}: {exc}", upstream.secrets)) from None


def unsaved_upstream(body: ProviderCreate) -> Upstream:
    """The upstream a provider created from `body` would have (the type's defaults filled
    in as a create fills them), without touching the store."""
    ptype = PROVIDER_TYPES[body.type]
    record = ProviderRecord(
        name=body.name,
        type=body.type,
        endpoint=body.endpoint or ptype.default_endpoint,
        description=body.description,
        auth_type=body.auth_type or ("api_key" if body.api_key else ptype.default_auth),
        api_key_encrypted=None,
        predefined=False,
        status="ok",
        error=None,
        models_refreshed_at=None,
    )
    return upstream_for(record, body.api_key)


async def probe_provider(
    body: ProviderCreate, client: httpx.AsyncClient, timeout: httpx.Timeout
) -> ProbeOut:
    """Whether the provider answers its model list: an unreachable one is an answer
    (`ok: false` and the reason), not an error of this call."""
    try:
        models = await discover(client, unsaved_upstream(body), timeout)
    except DiscoveryError as exc:
        return ProbeOut(ok=False, models=[], error=str(exc))
    return ProbeOut(ok=True, models=[m.id for m in models])
