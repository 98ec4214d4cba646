"""The in-memory routing table: everything a mux request needs, without touching the store.

The table is immutable: a write makes a new one (from the old one, where it changed) and
swaps it in by assignment; a request reads whichever table is current when it starts, so a
workspace switch applies from the very next request and a request in flight is never
affected by a switch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

import httpx
from yarl import URL

from .errors import NotFound, NoUsableModel
from .openai_request import MuxRequest, mentioned_files
from .providers.registry import PROVIDER_TYPES
from .providers.wire import WIRES, Wire
from .secrets import SecretKeyError
from .store import ProviderRecord, Snapshot, TargetRecord, WorkspaceRecord


@dataclass(frozen=True, slots=True)
class Upstream:
    """A provider as the hot path needs it: where to send, and the headers to send with."""

    name: str
    type: str
    endpoint: str
    wire: Wire
    base_url: str
    headers: dict[str, str]
    # Request kind -> URL, parsed once here rather than per request (a visible cost at load),
    # as the upstream pool (aiohttp) takes them.
    urls: dict[str, URL]
    # The client dialects its provider type serves natively (passed through).
    native: frozenset[str] = frozenset()
    # What the mux sends that must never come back out: scrubbed from upstream text.
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str
    # None when the provider is gone, or is stored but cannot be routed (see `problem`).
    upstream: Upstream | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str
    pattern: str | None
    targets: tuple[Target, ...]

    def matches(self, request: MuxRequest, files: Callable[[], tuple[str, ...]]) -> bool:
        """Whether this rule routes the request. `files` is called only by filename rules,
        so the scan for file names costs nothing in workspaces that have none."""
        if self.kind == "catch_all":
            return True
        pattern = self.pattern or ""
        if self.kind == "request_type":
            return request.request_type == pattern
        if self.kind == "model":
            return fnmatchcase(request.model, pattern)
        if self.kind == "filename":
            return any(
                fnmatchcase(path, pattern) or fnmatchcase(PurePosixPath(path).name, pattern)
                for path in files()
            )
        return False


@dataclass(frozen=True, slots=True)
class WorkspaceRoute:
    name: str
    rules: tuple[Rule, ...]

    def select(self, request: MuxRequest, file_header: str | None = None) -> Rule:
        """The first rule that matches; its targets serve in order (the first, then the
        fallbacks). Fails when that rule has nothing that can answer."""
        found: list[tuple[str, ...]] = []

        def files() -> tuple[str, ...]:
            if not found:
                found.append(mentioned_files(request.chat_body, file_header))
            return found[0]

        for rule in self.rules:
            if rule.matches(request, files):
                if not rule.targets:
                    break
                if all(t.upstream is None for t in rule.targets):
                    gone = rule.targets[0]
                    why = gone.problem or f"Provider '{gone.provider}' no longer exists."
                    raise NoUsableModel(
                        f"Workspace '{self.name}' routes this request to model '{gone.model}' "
                        f"of provider '{gone.provider}', which cannot answer: {why} "
                        f"{_how_to_fix(self.name)}"
                    )
                return rule
        raise NoUsableModel(f"Workspace '{self.name}' has no model. {_how_to_fix(self.name)}")

    def models(self) -> list[Target]:
        """Distinct targets of this workspace, for `/v1/models`."""
        seen: dict[tuple[str, str], Target] = {}
        for rule in self.rules:
            for target in rule.targets:
                if target.upstream is not None:
                    seen.setdefault((target.provider, target.model), target)
        return list(seen.values())


def _how_to_fix(workspace: str) -> str:
    return (
        "Pick a model for it in the Jupyter Mux panel, or send PATCH "
        f"/mux/api/workspaces/{workspace} with "
        '{"preferred": {"provider": "<provider>", "model": "<model>"}}.'
    )


@dataclass(frozen=True, slots=True)
class RoutingTable:
    active: str
    workspaces: dict[str, WorkspaceRoute]

    def workspace(self, pinned: str | None) -> WorkspaceRoute:
        name = pinned or self.active
        try:
            return self.workspaces[name]
        except KeyError:
            raise NotFound(
                f"No workspace named '{name}'. Known workspaces: "
                f"{', '.join(sorted(self.workspaces)) or 'none'}.",
                code="workspace_not_found",
            ) from None


class UnroutableProvider(ValueError):
    """A stored provider no request can be sent to (an endpoint the HTTP client refuses, an
    unknown type): the provider is shown broken, and the rest of the table still routes."""


def upstream_for(provider: ProviderRecord, api_key: str | None) -> Upstream:
    try:
        return _upstream(provider, api_key)
    except (httpx.InvalidURL, ValueError, KeyError) as exc:
        raise UnroutableProvider(
            f"Provider '{provider.name}' cannot be used: the mux cannot send requests to its "
            f"endpoint {provider.endpoint!r} (type {provider.type!r}): {exc}. Change its "
            "endpoint."
        ) from None


@functools.lru_cache(maxsize=256)
def _parsed(provider_type: str, endpoint: str) -> tuple[str, dict[str, URL]]:
    """A provider's API base and its URLs, parsed once per (type, endpoint): every table
    build and every view's routability check (one per target shown) asks, and parsing each
    URL is the dearest part. httpx's parser checks each (an endpoint it refuses makes the
    provider unroutable; a failure is not remembered), as discovery's client does; the pool
    takes them parsed, as yarl's. The dict is shared by every Upstream of the endpoint and
    only read."""
    wire = WIRES[PROVIDER_TYPES[provider_type].wire]
    base_url = wire.api_base(endpoint)
    return base_url, {
        kind: URL(str(httpx.URL(base_url + path))) for kind, path in wire.paths.items()
    }


def _upstream(provider: ProviderRecord, api_key: str | None) -> Upstream:
    provider_type = PROVIDER_TYPES[provider.type]
    wire = WIRES[provider_type.wire]
    # Plain bodies: the relay passes bytes through as they come (an upstream that compresses
    # anyway is decoded by the pool).
    headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
    key = api_key if provider.auth_type == "api_key" else None
    headers.update(wire.auth_headers(provider.type, key))
    base_url, urls = _parsed(provider.type, provider.endpoint)
    return Upstream(
        name=provider.name,
        type=provider.type,
        endpoint=provider.endpoint,
        wire=wire,
        base_url=base_url,
        headers=headers,
        urls=urls,
        native=provider_type.native,
        secrets=(key,) if key else (),
    )


def target_problem(target: TargetRecord, providers: dict[str, ProviderRecord]) -> str | None:
    """Why a target may not answer, in words a user can act on; None when it looks fine."""
    provider = providers.get(target.provider)
    if provider is None:
        return f"Provider '{target.provider}' no longer exists; choose another model."
    broken = routable(provider)
    if broken:
        return broken
    if provider.models and target.model not in {m.id for m in provider.models}:
        return (
            f"Model '{target.model}' is no longer listed by provider '{target.provider}'; "
            "refresh the provider or choose another model."
        )
    return None


def routable(provider: ProviderRecord) -> str | None:
    """Why a stored provider cannot be routed, or None: the check `build_table` makes,
    without a key, so a view can show it."""
    try:
        upstream_for(provider, None)
    except UnroutableProvider as exc:
        return str(exc)
    return None


# A provider as the table resolves it: its upstream, or why it has none.
Resolved = tuple[Upstream | None, str | None]


def resolve(
    provider: ProviderRecord, api_key_of: Callable[[ProviderRecord], str | None]
) -> Resolved:
    """Never fails for one bad row: a provider that cannot be routed (say, an endpoint
    poisoned in the database by hand) gets no upstream, and the reason."""
    try:
        return upstream_for(provider, api_key_of(provider)), None
    except UnroutableProvider as exc:
        return None, str(exc)
    except SecretKeyError:
        return None, (
            f"Provider '{provider.name}' has a stored key that the configured encryption key "
            "cannot decrypt; set its key again."
        )


def route(workspace: WorkspaceRecord, resolved: dict[str, Resolved]) -> WorkspaceRoute:
    """One workspace's route; a target whose provider is not in `resolved` is gone."""
    return WorkspaceRoute(
        workspace.name,
        tuple(
            Rule(
                r.kind,
                r.pattern,
                tuple(
                    Target(t.provider, t.model, *resolved.get(t.provider, _GONE)) for t in r.targets
                ),
            )
            for r in workspace.rules
        ),
    )


_GONE: Resolved = (None, None)


def build_table(
    snapshot: Snapshot, api_key_of: Callable[[ProviderRecord], str | None]
) -> RoutingTable:
    """The whole table. A write changes it where it changed instead (`service.base`), with
    the same `resolve` and `route`, so both give the same table."""
    resolved = {name: resolve(p, api_key_of) for name, p in snapshot.providers.items()}
    return RoutingTable(
        active=snapshot.active,
        workspaces={w.name: route(w, resolved) for w in snapshot.workspaces.values()},
    )
