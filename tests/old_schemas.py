"""The tables earlier releases created, frozen here so that upgrades are tested from what
users really have on disk, on SQLite and on PostgreSQL. Never edit a version once released;
add the next one."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)


def version_2() -> MetaData:
    """Release 0.1: one set of workspaces and providers per database, usage log added in
    schema 2 (schema 1 is the same without `mux_usage`)."""
    meta = MetaData()
    Table(
        "mux_schema_version",
        meta,
        Column("id", Integer, primary_key=True),
        Column("version", Integer, nullable=False),
    )
    Table(
        "mux_setting",
        meta,
        Column("key", String(64), primary_key=True),
        Column("value", String, nullable=False),
    )
    Table(
        "mux_provider",
        meta,
        Column("id", Integer, primary_key=True),
        Column("name", String(64), nullable=False, unique=True, index=True),
        Column("type", String(32), nullable=False),
        Column("endpoint", String(2048), nullable=False),
        Column("description", String(2048), nullable=False),
        Column("auth_type", String(16), nullable=False),
        Column("api_key_encrypted", String),
        Column("predefined", Boolean, nullable=False),
        Column("status", String(16), nullable=False),
        Column("error", String),
        Column("models_refreshed_at", DateTime),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Table(
        "mux_model",
        meta,
        Column("id", Integer, primary_key=True),
        Column(
            "provider_id",
            Integer,
            ForeignKey("mux_provider.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("position", Integer, nullable=False),
        Column("model_id", String(512), nullable=False),
        Column("info_json", String, nullable=False),
        UniqueConstraint("provider_id", "model_id"),
    )
    Table(
        "mux_workspace",
        meta,
        Column("id", Integer, primary_key=True),
        Column("name", String(64), nullable=False, unique=True, index=True),
        Column("description", String(2048), nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
    )
    Table(
        "mux_rule",
        meta,
        Column("id", Integer, primary_key=True),
        Column(
            "workspace_id",
            Integer,
            ForeignKey("mux_workspace.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("position", Integer, nullable=False),
        Column("kind", String(32), nullable=False),
        Column("pattern", String(512)),
    )
    Table(
        "mux_target",
        meta,
        Column("id", Integer, primary_key=True),
        Column(
            "rule_id",
            Integer,
            ForeignKey("mux_rule.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        Column("position", Integer, nullable=False),
        Column("provider_name", String(64), nullable=False),
        Column("model", String(512), nullable=False),
    )
    Table(
        "mux_usage",
        meta,
        Column("id", Integer, primary_key=True),
        Column("ts", DateTime, nullable=False, index=True),
        Column("workspace", String(64), nullable=False),
        Column("rule", String(300), nullable=False),
        Column("provider", String(64), nullable=False),
        Column("model", String(512), nullable=False),
        Column("status", Integer, nullable=False),
        Column("prompt_tokens", Integer),
        Column("completion_tokens", Integer),
        Column("latency_ms", Float, nullable=False),
        Column("ttft_ms", Float),
        Column("streamed", Boolean, nullable=False),
    )
    return meta


def version_3() -> MetaData:
    """Release 0.2: rows carry their owner (a JupyterHub user), names unique per owner,
    each owner's active workspace in `mux_active`. The tables it did not change are
    version 2's."""
    old = version_2()
    meta = MetaData()
    for name in ("mux_schema_version", "mux_setting", "mux_rule", "mux_target"):
        old.tables[name].to_metadata(meta)

    def owner() -> Column:
        return Column("owner", String(255), nullable=False, server_default="")

    Table(
        "mux_provider",
        meta,
        Column("id", Integer, primary_key=True),
        owner(),
        Column("name", String(64), nullable=False),
        Column("type", String(32), nullable=False),
        Column("endpoint", String(2048), nullable=False),
        Column("description", String(2048), nullable=False),
        Column("auth_type", String(16), nullable=False),
        Column("api_key_encrypted", String),
        Column("predefined", Boolean, nullable=False),
        Column("status", String(16), nullable=False),
        Column("error", String),
        Column("models_refreshed_at", DateTime),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Index("ix_mux_provider_owner_name", "owner", "name", unique=True),
    )
    old.tables["mux_model"].to_metadata(meta)
    Table(
        "mux_workspace",
        meta,
        Column("id", Integer, primary_key=True),
        owner(),
        Column("name", String(64), nullable=False),
        Column("description", String(2048), nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime, nullable=False),
        Index("ix_mux_workspace_owner_name", "owner", "name", unique=True),
    )
    Table(
        "mux_usage",
        meta,
        Column("id", Integer, primary_key=True),
        owner(),
        *(c.copy() for c in old.tables["mux_usage"].columns if c.name != "id"),
    )
    Table(
        "mux_active",
        meta,
        Column("owner", String(255), primary_key=True),
        Column("workspace", String(64), nullable=False),
    )
    return meta


def version_4() -> MetaData:
    """Release 0.3: scoped mux keys (`mux_key`) and the key of each usage row. The tables it
    did not change are version 3's."""
    old = version_3()
    meta = MetaData()
    for name, table in old.tables.items():
        if name != "mux_usage":
            table.to_metadata(meta)
    Table(
        "mux_usage",
        meta,
        *(c.copy() for c in old.tables["mux_usage"].columns),
        Column("key", String(32), nullable=False, server_default=""),
    )
    Table(
        "mux_key",
        meta,
        Column("id", String(32), primary_key=True),
        Column("owner", String(255), nullable=False, server_default=""),
        Column("name", String(128), nullable=False),
        Column("prefix", String(16), nullable=False),
        Column("secret_hash", String(64), nullable=False, unique=True),
        Column("workspace", String(64)),
        Column("expires_at", DateTime),
        Column("budget_usd", Float),
        Column("created_at", DateTime, nullable=False),
        Column("last_used_at", DateTime),
    )
    return meta
