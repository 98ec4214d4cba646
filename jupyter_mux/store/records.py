"""What the store hands out: plain frozen values, safe to share across threads and to keep
in memory after the session that read them is gone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProviderRecord:
    name: str
    type: str
    endpoint: str
    description: str
    auth_type: str
    api_key_encrypted: str | None
    predefined: bool
    status: str
    error: str | None
    models_refreshed_at: datetime | None
    models: tuple[ModelRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class TargetRecord:
    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class RuleRecord:
    kind: str
    pattern: str | None
    targets: tuple[TargetRecord, ...]


@dataclass(frozen=True, slots=True)
class WorkspaceRecord:
    name: str
    description: str
    rules: tuple[RuleRecord, ...]
    # The Hub service admin's, seen by every user and changed by none (store.sees_shared).
    shared: bool = False

    @property
    def preferred(self) -> TargetRecord | None:
        """The catch-all rule's first target: what the workspace answers with by default."""
        for rule in self.rules:
            if rule.kind == "catch_all" and rule.targets:
                return rule.targets[0]
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the mux routes from, read in one transaction so it is self-consistent."""

    providers: dict[str, ProviderRecord]
    workspaces: dict[str, WorkspaceRecord]
    active: str


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A mux key as the store holds it: the secret's hash, never the secret. Times are UTC."""

    id: str
    name: str
    prefix: str
    secret_hash: str
    workspace: str | None
    expires_at: datetime | None
    budget_usd: float | None
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Changes:
    """A write read back (`Store.changes`): the records of what it touched, absent when
    gone, and, for a write that added a name, every name in the snapshot's order."""

    revision: str
    active: str
    workspaces: dict[str, WorkspaceRecord]
    providers: dict[str, ProviderRecord]
    workspace_order: list[str] | None = None
    provider_order: list[str] | None = None
