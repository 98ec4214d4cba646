"""Schema versions, so that an upgrade never loses data.

A new database gets today's tables in one step and is stamped with the latest version. An
existing one is brought forward one numbered step at a time, each step in its own
transaction. To change the schema: change `tables.py`, bump `LATEST`, and add a step
`MIGRATIONS[LATEST] = fn(connection)` that turns version LATEST-1 into LATEST in place
(ALTER TABLE, data copies), tested against a database written by the previous release.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, inspect, select, text
from sqlmodel import SQLModel

from .tables import (
    OWNER_LENGTH,
    ActiveRow,
    BudgetRow,
    HoldRow,
    KeyRow,
    MemberRow,
    OwnerRevision,
    PolicyRow,
    ProviderRow,
    SchemaVersion,
    UsageRow,
    WorkspaceRow,
)

LATEST = 5


def _add_usage(conn: Connection) -> None:
    """Version 2: the usage log for spend tracking."""
    UsageRow.__table__.create(conn)  # type: ignore[attr-defined]


def _add_owners(conn: Connection) -> None:
    """Version 3: rows belong to a Jupyter user, so that JupyterHub users can share one
    database. What exists becomes the single-user owner's (""), which is what a server
    without JupyterHub keeps using; names are unique per owner instead of overall."""
    for table in ("mux_provider", "mux_workspace", "mux_usage"):
        columns = {c["name"] for c in inspect(conn).get_columns(table)}
        if "owner" in columns:  # mux_usage made just now by step 2, in today's shape
            continue
        conn.execute(
            text(
                f"ALTER TABLE {table} ADD COLUMN owner VARCHAR({OWNER_LENGTH}) NOT NULL DEFAULT ''"
            )
        )
    for row in (ProviderRow, WorkspaceRow):
        table = row.__table__  # type: ignore[attr-defined]
        conn.execute(text(f"DROP INDEX ix_{table.name}_name"))
        for index in table.indexes:
            index.create(conn)
    ActiveRow.__table__.create(conn)  # type: ignore[attr-defined]
    active = conn.execute(
        text("SELECT value FROM mux_setting WHERE key = 'active_workspace'")
    ).scalar_one_or_none()
    if active is not None:
        conn.execute(ActiveRow.__table__.insert().values(owner="", workspace=active))  # type: ignore[attr-defined]
        conn.execute(text("DELETE FROM mux_setting WHERE key = 'active_workspace'"))


def _add_keys(conn: Connection) -> None:
    """Version 4: scoped mux keys, and the key each usage row was spent with ("" for the
    Jupyter token, which is what every older row was made with)."""
    KeyRow.__table__.create(conn)  # type: ignore[attr-defined]
    columns = {c["name"] for c in inspect(conn).get_columns("mux_usage")}
    if "key" not in columns:  # mux_usage made by step 2 already has it
        conn.execute(
            text("""ALTER TABLE mux_usage ADD COLUMN "key" VARCHAR(32) NOT NULL DEFAULT ''""")
        )


def _add_organisation(conn: Connection) -> None:
    """Version 5: the Hub service's policies, its members' groups, budgets with the holds
    of requests in flight, and each owner's own revision."""
    for row in (PolicyRow, MemberRow, BudgetRow, HoldRow, OwnerRevision):
        row.__table__.create(conn)  # type: ignore[attr-defined]


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _add_usage,
    3: _add_owners,
    4: _add_keys,
    5: _add_organisation,
}


class SchemaTooNew(RuntimeError):
    """The database was written by a newer jupyter-mux; running on it could corrupt it."""


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table(SchemaVersion.__tablename__):
        return 0
    return conn.execute(select(SchemaVersion.version)).scalar_one_or_none() or 0


# Any fixed number: the PostgreSQL advisory lock that serializes jupyter-mux's schema
# changes and routing writes across servers sharing one database.
_LOCK_ID = 0x6A75_6D78  # "jumx"


def lock_shared_store(conn: Connection) -> None:
    """Hold the shared-store lock until this transaction ends. SQLite needs none: it
    serializes writers itself."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})


def migrate(engine: Engine) -> int:
    """Bring the schema to LATEST; returns the version found before. Servers starting
    together on one new database take turns, so only the first creates the tables."""
    with engine.begin() as conn:
        lock_shared_store(conn)
        found = current_version(conn)
        if found > LATEST:
            raise SchemaTooNew(
                f"The jupyter-mux database is at schema version {found}, newer than this "
                f"release understands ({LATEST}). Upgrade jupyter-mux."
            )
        if found == 0:
            ours = [t for name, t in SQLModel.metadata.tables.items() if name.startswith("mux_")]
            SQLModel.metadata.create_all(conn, tables=ours)
            conn.execute(SchemaVersion.__table__.insert().values(id=1, version=LATEST))
            return found
    for version in range(found + 1, LATEST + 1):
        with engine.begin() as conn:
            lock_shared_store(conn)
            if current_version(conn) >= version:  # another server got there first
                continue
            MIGRATIONS[version](conn)
            conn.execute(SchemaVersion.__table__.update().values(version=version))
    return found
