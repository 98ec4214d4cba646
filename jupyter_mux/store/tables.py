"""Database tables. Only the store package touches them; the API speaks `records`.

A workspace's routing is an ordered list of rules, each with an ordered list of targets.
Today every workspace has one `catch_all` rule whose first target is its preferred model;
rule kinds and fallback targets need new rows, not a new schema. Targets name their
provider rather than pointing at its row, so a deleted provider leaves a flagged rule behind
instead of silently emptying the workspace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# Under JupyterHub every user's server shares one database: rows that belong to a user carry
# their Jupyter user name; "" is the single-user server's owner, and the owner of the shared
# (predefined) providers.
OWNER_LENGTH = 255


def owner_field() -> Any:
    return Field(default="", max_length=OWNER_LENGTH, sa_column_kwargs={"server_default": ""})


class SchemaVersion(SQLModel, table=True):
    __tablename__ = "mux_schema_version"

    id: int = Field(default=1, primary_key=True)
    version: int


class Setting(SQLModel, table=True):
    __tablename__ = "mux_setting"

    key: str = Field(primary_key=True, max_length=64)
    value: str


class ActiveRow(SQLModel, table=True):
    """Each user's active workspace."""

    __tablename__ = "mux_active"

    owner: str = Field(default="", primary_key=True, max_length=OWNER_LENGTH)
    workspace: str = Field(max_length=64)


class ProviderRow(SQLModel, table=True):
    __tablename__ = "mux_provider"
    __table_args__ = (Index("ix_mux_provider_owner_name", "owner", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = owner_field()
    name: str = Field(max_length=64)
    type: str = Field(max_length=32)
    endpoint: str = Field(max_length=2048)
    description: str = Field(default="", max_length=2048)
    auth_type: str = Field(default="none", max_length=16)
    api_key_encrypted: str | None = None
    predefined: bool = False
    status: str = Field(default="error", max_length=16)
    error: str | None = None
    models_refreshed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ModelRow(SQLModel, table=True):
    __tablename__ = "mux_model"
    __table_args__ = (UniqueConstraint("provider_id", "model_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="mux_provider.id", index=True, ondelete="CASCADE")
    position: int
    model_id: str = Field(max_length=512)
    info_json: str = "{}"


class WorkspaceRow(SQLModel, table=True):
    __tablename__ = "mux_workspace"
    __table_args__ = (Index("ix_mux_workspace_owner_name", "owner", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = owner_field()
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=2048)
    created_at: datetime
    updated_at: datetime


class RuleRow(SQLModel, table=True):
    __tablename__ = "mux_rule"

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="mux_workspace.id", index=True, ondelete="CASCADE")
    position: int
    kind: str = Field(max_length=32)
    pattern: str | None = Field(default=None, max_length=512)


class TargetRow(SQLModel, table=True):
    __tablename__ = "mux_target"

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="mux_rule.id", index=True, ondelete="CASCADE")
    position: int
    provider_name: str = Field(max_length=64)
    model: str = Field(max_length=512)


class UsageRow(SQLModel, table=True):
    """One mux request, for spend tracking. Names, not row ids: usage outlives renames and
    deletions of what it was spent on."""

    __tablename__ = "mux_usage"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = owner_field()
    ts: datetime = Field(index=True)
    workspace: str = Field(max_length=64)
    rule: str = Field(default="", max_length=300)
    provider: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=512)
    status: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float
    ttft_ms: float | None = None
    streamed: bool = False
    # The mux key the request came with (its id), "" for the Jupyter token (schema 4).
    key: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class KeyRow(SQLModel, table=True):
    """A scoped mux key (schema 4). Only a hash of the secret is kept: the secret is shown
    once, when the key is made."""

    __tablename__ = "mux_key"

    id: str = Field(primary_key=True, max_length=32)
    owner: str = owner_field()
    name: str = Field(max_length=128)
    prefix: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True)
    workspace: str | None = Field(default=None, max_length=64)
    expires_at: datetime | None = None
    budget_usd: float | None = None
    created_at: datetime
    last_used_at: datetime | None = None


# -- the Hub service's organisation (schema 5) ---------------------------------------------


class OwnerRevision(SQLModel, table=True):
    """Each owner's own revision, bumped with the database's by their writes: the Hub
    service rebuilds a user's routing only when their rows, or the shared ones (owner ""),
    changed, however many other users write."""

    __tablename__ = "mux_owner_revision"

    owner: str = Field(primary_key=True, max_length=OWNER_LENGTH)
    revision: int = Field(default=0, sa_type=BigInteger)


class PolicyRow(SQLModel, table=True):
    """An admin's policy for everybody (`default`), a Hub group or a Hub user. The body is
    the API's `Policy` as JSON: a policy gains fields without a schema change."""

    __tablename__ = "mux_policy"

    scope: str = Field(primary_key=True, max_length=16)  # default | group | user
    name: str = Field(primary_key=True, max_length=OWNER_LENGTH)  # "" for default
    body: str
    # Written from the service's configuration at start (and read-only over the API) or
    # over the admin API.
    source: str = Field(default="api", max_length=8)
    updated_at: datetime


class MemberRow(SQLModel, table=True):
    """What the Hub last said of a user who used the service: their groups (for usage and
    budgets per group) and whether they are an admin."""

    __tablename__ = "mux_member"

    owner: str = Field(primary_key=True, max_length=OWNER_LENGTH)
    groups_json: str = "[]"
    admin: bool = False
    seen_at: datetime


class BudgetRow(SQLModel, table=True):
    """What one budget has spent and holds for requests in flight in one period, in
    micro-USD: integers, so that every replica's additions are exact."""

    __tablename__ = "mux_budget"

    scope: str = Field(primary_key=True, max_length=OWNER_LENGTH + 8)  # user:<n> | group:<n>
    period: str = Field(primary_key=True, max_length=16)  # 2026-12-01 | 2026-12
    spent: int = Field(default=0, sa_type=BigInteger)
    held: int = Field(default=0, sa_type=BigInteger)


class HoldRow(SQLModel, table=True):
    """A request in flight's hold on its budgets, until its spend is known. A replica that
    dies leaves its holds behind; they lapse at `expires_at`."""

    __tablename__ = "mux_hold"

    id: str = Field(primary_key=True, max_length=32)
    # [[scope, period, micro-USD held], ...]
    takes_json: str
    expires_at: datetime = Field(index=True)
    # Reclaimed after `expires_at`: its takes are no longer held, but its spend, should it
    # still come, is counted against them.
    lapsed: bool = False
