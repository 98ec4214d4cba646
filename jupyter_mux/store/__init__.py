"""Persistence: SQLModel tables, schema migrations, and the queries over them."""

from .records import (
    Changes,
    KeyRecord,
    ModelRecord,
    ProviderRecord,
    RuleRecord,
    Snapshot,
    TargetRecord,
    WorkspaceRecord,
)
from .store import DEFAULT_WORKSPACE, KEEP, Store

__all__ = [
    "DEFAULT_WORKSPACE",
    "KEEP",
    "Changes",
    "KeyRecord",
    "ModelRecord",
    "ProviderRecord",
    "RuleRecord",
    "Snapshot",
    "Store",
    "TargetRecord",
    "WorkspaceRecord",
]
