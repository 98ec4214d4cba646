"""Management operations: validate against the current state, write through the store, and
swap in a fresh routing table so the very next mux request sees the change.

Store calls block, so they run on one dedicated thread: the event loop never waits on the
database, and writes from this process never race each other.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from .errors import Forbidden, InvalidRequest, NotFound
from .models import (
    PredefinedProvider,
    PriceIn,
    ProviderCreate,
    ProviderOut,
    ProviderRef,
    ProviderTypeOut,
    ProviderUpdate,
    RuleIn,
    RuleOut,
    TargetIn,
    TargetOut,
    UsageOut,
    UsageQuery,
    UsageRowOut,
    WorkspaceCreate,
    WorkspaceExport,
    WorkspaceOut,
    WorkspaceUpdate,
    parse,
)
from .providers.registry import PROVIDER_TYPES
from .routing import RoutingTable, Upstream, build_table, target_problem, upstream_for
from .secrets import SecretBox
from .store import (
    KEEP,
    ModelRecord,
    ProviderRecord,
    RuleRecord,
    Snapshot,
    Store,
    TargetRecord,
)
from .upstream_errors import provider_message, upstream_failure
from .usage import price

T = TypeVar("T")


class MuxService:
    def __init__(
        self,
        store: Store,
        secrets: SecretBox,
        client: httpx.AsyncClient,
        *,
        discovery_timeout: httpx.Timeout,
        log: logging.Logger,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.client = client
        self.discovery_timeout = discovery_timeout
        self.log = log
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="jupyter-mux-store")
        self.routing = RoutingTable(active="", workspaces={})
        self._revision = ""

    # -- lifecycle -------------------------------------------------------------------------

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
            self.store.sync_predefined(rows)
        if seeds:
            self.store.seed_workspaces(list(seeds))
        self._revision = self.store.revision()
        self.routing = build_table(self.store.snapshot(), self._api_key)
        return [row["name"] for row in rows]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.store.dispose()

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    async def _reload(self) -> Snapshot:
        revision = await self._db(self.store.revision)
        snapshot = await self._db(self.store.snapshot)
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

    # -- providers -------------------------------------------------------------------------

    @staticmethod
    def provider_types() -> list[ProviderTypeOut]:
        return [ProviderTypeOut(**t.as_dict()) for t in PROVIDER_TYPES.values()]

    async def list_providers(self) -> list[ProviderOut]:
        snapshot = await self._db(self.store.snapshot)
        return [provider_view(p, snapshot) for p in snapshot.providers.values()]

    async def get_provider(self, name: str) -> ProviderOut:
        snapshot = await self._db(self.store.snapshot)
        return provider_view(_provider(snapshot, name), snapshot)

    async def provider_models(self, name: str) -> list[dict[str, Any]]:
        snapshot = await self._db(self.store.snapshot)
        return [{**m.info, "id": m.id} for m in _provider(snapshot, name).models]

    async def create_provider(self, body: ProviderCreate) -> ProviderOut:
        await self._db(self.store.create_provider, **self._new_provider(body, body.api_key))
        return await self.refresh_provider(body.name)

    def _new_provider(self, body: ProviderCreate, api_key: str | None) -> dict[str, Any]:
        """A new provider's row, the type's defaults filled in for what the body left out."""
        ptype = PROVIDER_TYPES[body.type]
        auth_type = body.auth_type or ("api_key" if api_key else ptype.default_auth)
        _check_auth(body.type, auth_type, api_key)
        return {
            "name": body.name,
            "type": body.type,
            "endpoint": body.endpoint or ptype.default_endpoint,
            "description": body.description,
            "auth_type": auth_type,
            "api_key_encrypted": self._encrypt(api_key),
        }

    async def update_provider(self, name: str, body: ProviderUpdate) -> ProviderOut:
        snapshot = await self._db(self.store.snapshot)
        current = _provider(snapshot, name)
        _check_writable(current)
        changes: dict[str, Any] = body.model_dump(
            exclude_unset=True, exclude_none=True, exclude={"api_key"}
        )
        auth_type = changes.get("auth_type", current.auth_type)
        if body.api_key:
            changes["api_key_encrypted"] = self._encrypt(body.api_key)
            if "auth_type" not in changes:
                auth_type = changes["auth_type"] = "api_key"
        if auth_type == "none":
            changes["api_key_encrypted"] = None  # a key that is never sent is not kept
        _check_auth(current.type, auth_type, body.api_key)
        await self._db(self.store.update_provider, name, **changes)
        return await self.refresh_provider(changes.get("name", name))

    async def delete_provider(self, name: str) -> None:
        snapshot = await self._db(self.store.snapshot)
        _check_writable(_provider(snapshot, name))
        await self._db(self.store.delete_provider, name)
        await self._reload()

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
            _check_writable(_provider(await self._db(self.store.snapshot), name))
        await self._db(self.store.set_price, name, body.model, price)
        return await self.provider_models(name)

    async def refresh_provider(self, name: str) -> ProviderOut:
        """Discover the provider's models; a failure is recorded on the provider, not raised,
        so saving a provider that is down still saves it."""
        snapshot = await self._db(self.store.snapshot)
        provider = _provider(snapshot, name)
        upstream = upstream_for(provider, self._api_key(provider))
        try:
            models = await self._discover(upstream)
        except DiscoveryError as exc:
            self.log.warning("jupyter-mux: model discovery failed for %s: %s", name, exc)
            await self._db(self.store.set_models, name, None, status="error", error=str(exc))
        else:
            await self._db(self.store.set_models, name, models, status="ok", error=None)
        snapshot = await self._reload()
        return provider_view(_provider(snapshot, name), snapshot)

    async def refresh_all(self, names: list[str]) -> None:
        for name in names:
            try:
                await self.refresh_provider(name)
            except Exception:  # start-up must not die because one provider is odd
                self.log.exception("jupyter-mux: could not refresh provider %s", name)

    async def _discover(self, upstream: Upstream) -> list[ModelRecord]:
        try:
            return await upstream.wire.discover(
                self.client, upstream.base_url, upstream.headers, self.discovery_timeout
            )
        except httpx.HTTPStatusError as exc:
            response = exc.response
            message = provider_message(response.content) or response.reason_phrase
            raise DiscoveryError(
                f"{response.request.url} answered {response.status_code}: {message}"
            ) from None
        except httpx.HTTPError as exc:
            raise DiscoveryError(upstream_failure(upstream, exc).message) from None
        except ValueError as exc:
            raise DiscoveryError(f"{upstream.base_url}: {exc}") from None

    def _encrypt(self, api_key: str | None) -> str | None:
        return self.secrets.encrypt(api_key) if api_key else None

    def _predefined_row(self, index: int, spec: dict[str, Any]) -> dict[str, Any]:
        try:
            body = parse(PredefinedProvider, spec)
            api_key = body.api_key or (
                os.environ.get(body.api_key_env) if body.api_key_env else None
            )
            return self._new_provider(body, api_key)
        except InvalidRequest as exc:
            raise InvalidRequest(f"c.MuxApp.providers[{index}]: {exc.message}") from None

    # -- workspaces ------------------------------------------------------------------------

    async def list_workspaces(self) -> list[WorkspaceOut]:
        snapshot = await self._db(self.store.snapshot)
        return [workspace_view(w, snapshot) for w in snapshot.workspaces]

    async def get_workspace(self, name: str) -> WorkspaceOut:
        snapshot = await self._db(self.store.snapshot)
        _workspace(snapshot, name)
        return workspace_view(name, snapshot)

    async def create_workspace(self, body: WorkspaceCreate) -> WorkspaceOut:
        snapshot = await self._db(self.store.snapshot)
        preferred = _checked_target(body.preferred, snapshot)
        await self._db(self.store.create_workspace, body.name, body.description, preferred)
        return workspace_view(body.name, await self._reload())

    async def update_workspace(self, name: str, body: WorkspaceUpdate) -> WorkspaceOut:
        snapshot = await self._db(self.store.snapshot)
        _workspace(snapshot, name)
        preferred = (
            _checked_target(body.preferred, snapshot)
            if "preferred" in body.model_fields_set
            else KEEP
        )
        await self._db(
            self.store.update_workspace,
            name,
            new_name=body.name,
            description=body.description,
            preferred=preferred,
        )
        return workspace_view(body.name or name, await self._reload())

    async def get_rules(self, name: str) -> list[RuleOut]:
        snapshot = await self._db(self.store.snapshot)
        _workspace(snapshot, name)
        return rules_view(snapshot.workspaces[name].rules, snapshot)

    async def set_rules(self, name: str, rules: list[RuleIn]) -> list[RuleOut]:
        snapshot = await self._db(self.store.snapshot)
        _workspace(snapshot, name)
        records = _checked_rules(rules, snapshot)
        await self._db(self.store.replace_rules, name, records)
        snapshot = await self._reload()
        return rules_view(snapshot.workspaces[name].rules, snapshot)

    async def export_workspace(self, name: str) -> WorkspaceExport:
        snapshot = await self._db(self.store.snapshot)
        _workspace(snapshot, name)
        workspace = snapshot.workspaces[name]
        used = dict.fromkeys(t.provider for r in workspace.rules for t in r.targets)
        return WorkspaceExport(
            name=name,
            description=workspace.description,
            rules=[
                RuleIn(
                    kind=r.kind,
                    pattern=r.pattern,
                    targets=[TargetIn(provider=t.provider, model=t.model) for t in r.targets],
                )
                for r in workspace.rules
            ],
            providers=[
                ProviderRef(name=p, type=snapshot.providers[p].type)
                for p in used
                if p in snapshot.providers
            ],
        )

    async def import_workspace(self, body: WorkspaceExport) -> WorkspaceOut:
        """Providers are matched by name, then by type; a rule whose provider has no match
        here is kept and flagged, like one whose provider was deleted."""
        snapshot = await self._db(self.store.snapshot)
        mapping = _match_providers(body.providers, snapshot)
        rules = [
            rule.model_copy(
                update={
                    "targets": [
                        t.model_copy(update={"provider": mapping.get(t.provider, t.provider)})
                        for t in rule.targets
                    ]
                }
            )
            for rule in body.rules
        ]
        records = _checked_rules(rules, snapshot, require_known=False)
        await self._db(
            self.store.replace_rules, body.name, records, create_description=body.description
        )
        return workspace_view(body.name, await self._reload())

    async def delete_workspace(self, name: str) -> None:
        await self._db(self.store.delete_workspace, name)
        await self._reload()

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
        snapshot = await self._db(self.store.snapshot)
        prices: dict[tuple[str, str], tuple[float, float] | None] = {}
        for provider in snapshot.providers.values():
            for model in provider.models:
                prices[(provider.name, model.id)] = price(model.info)
        groups: dict[str, UsageRowOut] = {}
        for key, provider, model, requests, errors, prompt, completion in rows:
            group = groups.setdefault(str(key), UsageRowOut(key=str(key)))
            group.add(
                requests,
                errors or 0,
                prompt or 0,
                completion or 0,
                _cost(prices.get((provider, model)), prompt or 0, completion or 0),
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

    async def get_active(self) -> str:
        return (await self._db(self.store.snapshot)).active

    async def set_active(self, name: str) -> str:
        await self._db(self.store.set_active, name)
        return (await self._reload()).active


class DiscoveryError(Exception):
    pass


def _provider(snapshot: Snapshot, name: str) -> ProviderRecord:
    try:
        return snapshot.providers[name]
    except KeyError:
        raise NotFound(f"No provider named '{name}'.") from None


def _workspace(snapshot: Snapshot, name: str) -> None:
    if name not in snapshot.workspaces:
        raise NotFound(f"No workspace named '{name}'.")


def _check_writable(provider: ProviderRecord) -> None:
    if provider.predefined:
        raise Forbidden(
            f"Provider '{provider.name}' is defined in the server configuration "
            "(c.MuxApp.providers); change it there."
        )


def _check_auth(provider_type: str, auth_type: str, api_key: str | None) -> None:
    ptype = PROVIDER_TYPES[provider_type]
    if auth_type not in ptype.auth_types:
        raise InvalidRequest(
            f"'auth_type' {auth_type!r} is not valid for {ptype.label}; "
            f"use one of: {', '.join(ptype.auth_types)}."
        )
    if auth_type == "none" and api_key:
        raise InvalidRequest("'api_key' was given but 'auth_type' is 'none'.")


def _checked_target(target: Any, snapshot: Snapshot) -> TargetRecord | None:
    """A preferred model must name a provider that exists and a model it lists."""
    if target is None:
        return None
    provider = snapshot.providers.get(target.provider)
    if provider is None:
        known = ", ".join(snapshot.providers) or "none yet"
        raise InvalidRequest(
            f"Unknown provider '{target.provider}' in 'preferred' (known: {known}).",
            param="preferred.provider",
        )
    ids = [m.id for m in provider.models]
    if target.model not in ids:
        if not ids:
            why = f" ({provider.error})" if provider.error else ""
            raise InvalidRequest(
                f"Provider '{provider.name}' lists no models{why}. Refresh it once it is "
                "reachable, then choose one of its models.",
                param="preferred.model",
            )
        shown = ", ".join(ids[:20]) + (", ..." if len(ids) > 20 else "")
        raise InvalidRequest(
            f"Provider '{provider.name}' has no model '{target.model}' (it lists: {shown}).",
            param="preferred.model",
        )
    return TargetRecord(target.provider, target.model)


def _cost(unit: tuple[float, float] | None, prompt: int, completion: int) -> float | None:
    if unit is None:
        return None if prompt or completion else 0.0
    return prompt * unit[0] + completion * unit[1]


def _checked_rules(
    rules: list[RuleIn], snapshot: Snapshot, *, require_known: bool = True
) -> list[RuleRecord]:
    """A rule list the router can use: one catch_all, last; patterns that fit their kind;
    targets that exist (unless importing, where unknown ones are kept and flagged)."""
    records = []
    for i, rule in enumerate(rules):
        where = f"rules[{i}] ({rule.kind})"
        last = i == len(rules) - 1
        if rule.kind == "catch_all":
            if not last:
                raise InvalidRequest(f"{where}: the catch_all rule must be the last rule.")
            if rule.pattern is not None:
                raise InvalidRequest(f"{where}: a catch_all rule takes no pattern.")
        else:
            if last:
                raise InvalidRequest(
                    "The last rule must be the catch_all rule, which serves every request "
                    "the others do not match."
                )
            if rule.pattern is None:
                raise InvalidRequest(f"{where}: a pattern is required.")
            if rule.kind == "request_type" and rule.pattern not in ("chat", "fim"):
                raise InvalidRequest(f"{where}: the pattern must be 'chat' or 'fim'.")
            if not rule.targets:
                raise InvalidRequest(f"{where}: at least one target is required.")
        targets = []
        for j, target in enumerate(rule.targets):
            if require_known:
                try:
                    _checked_target(target, snapshot)
                except InvalidRequest as exc:
                    raise InvalidRequest(
                        f"{where}, target {j}: {exc.message}", param=f"rules[{i}].targets[{j}]"
                    ) from None
            targets.append(TargetRecord(target.provider, target.model))
        records.append(RuleRecord(rule.kind, rule.pattern, tuple(targets)))
    return records


def _match_providers(refs: list[ProviderRef], snapshot: Snapshot) -> dict[str, str]:
    mapping = {}
    for ref in refs:
        if ref.name in snapshot.providers:
            mapping[ref.name] = ref.name
            continue
        same_type = [p.name for p in snapshot.providers.values() if p.type == ref.type]
        if same_type:
            mapping[ref.name] = same_type[0]
    return mapping


def rules_view(rules: tuple[RuleRecord, ...], snapshot: Snapshot) -> list[RuleOut]:
    views = []
    for rule in rules:
        problems = [target_problem(t, snapshot.providers) for t in rule.targets]
        problem = next((p for p in problems if p), None)
        if problem is None and not rule.targets:
            problem = "No model chosen."
        views.append(
            RuleOut(
                kind=rule.kind,
                pattern=rule.pattern,
                targets=[TargetOut(provider=t.provider, model=t.model) for t in rule.targets],
                ok=problem is None,
                problem=problem,
            )
        )
    return views


def provider_view(provider: ProviderRecord, snapshot: Snapshot) -> ProviderOut:
    used_by = [
        w.name
        for w in snapshot.workspaces.values()
        if any(t.provider == provider.name for r in w.rules for t in r.targets)
    ]
    return ProviderOut(
        name=provider.name,
        type=provider.type,
        endpoint=provider.endpoint,
        description=provider.description,
        auth_type=provider.auth_type,
        has_api_key=bool(provider.api_key_encrypted),
        predefined=provider.predefined,
        models=[m.id for m in provider.models],
        status="ok" if provider.status == "ok" else "error",
        error=provider.error,
        models_refreshed_at=provider.models_refreshed_at,
        used_by=used_by,
    )


def workspace_view(name: str, snapshot: Snapshot) -> WorkspaceOut:
    workspace = snapshot.workspaces[name]
    preferred = workspace.preferred
    if preferred is None:
        problem = "No model chosen: pick a preferred model for this workspace."
    else:
        problem = target_problem(preferred, snapshot.providers)
    return WorkspaceOut(
        name=name,
        description=workspace.description,
        is_active=name == snapshot.active,
        preferred=TargetOut(provider=preferred.provider, model=preferred.model)
        if preferred
        else None,
        preferred_ok=problem is None,
        problem=problem,
    )
