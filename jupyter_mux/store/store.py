"""The only place with SQL (with `statements`, the hot path's). Every method is one transaction,
or a part of the one `Store.transaction` holds, and blocks: callers on the event loop run them
in the store's executor (see `service.base.ServiceBase`).

A store works for one owner, the Jupyter user of the server (see `MuxApp.user`): it reads and
writes that user's workspaces, active workspace, providers and usage, plus the predefined
providers, which every user shares and none can change. Where a user's own provider and a
shared one have the same name, the user's own is the one they see."""

from __future__ import annotations

import copy
import json
import operator
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, case, event, func, or_
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, create_engine, delete, select, update

from ..errors import Conflict, InvalidRequest, NotFound
from . import migrations
from . import statements as sql
from .migrations import lock_shared_store
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
from .tables import (
    ActiveRow,
    KeyRow,
    ModelRow,
    OwnerRevision,
    ProviderRow,
    RuleRow,
    Setting,
    TargetRow,
    UsageRow,
    WorkspaceRow,
)

DEFAULT_WORKSPACE = "default"
KEY_CHECK_KEY = "key_check"
# The Hub service's providers its admin shared over the API (owner "", predefined): kept
# shared when the configuration is applied at start, and the admin's to change.
API_SHARED_KEY = "api_shared_providers"
# Where a user-set price lives in a model's metadata (usage.price reads it first).
USER_PRICE = "price"

# Marks "leave the preferred model as it is" apart from None, which clears it.
KEEP = object()


@contextmanager
def _refusals() -> Iterator[None]:
    """What the database refuses, as the API's errors (the transaction is rolled back as
    its session closes)."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict("That name is already taken.") from exc
    except DataError as exc:  # e.g. a NUL character, which PostgreSQL refuses
        raise InvalidRequest(
            "A value cannot be stored: it contains characters the database refuses."
        ) from exc


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(db_url: str) -> Engine:
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        _create_private(Path(url.database))
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine


def _create_private(path: Path) -> None:
    """Create a new SQLite file readable by its owner only, like the key file beside it: it
    holds prompts' metadata and encrypted keys. SQLite gives its journal and WAL files the
    database file's mode. An existing file is left as its owner set it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Store:
    def __init__(self, db_url: str, owner: str = "", *, config_is_truth: bool = False) -> None:
        self.engine = make_engine(db_url)
        self.owner = owner
        # The Hub service is the only writer of its database: its configuration's shared
        # providers are rewritten at every start, however many users the database serves.
        self.config_is_truth = config_is_truth
        # Under the Hub service, a user also sees the workspaces of owner "" (the admin's,
        # shared): their own of the same name wins, and they can activate, not change, them.
        self.sees_shared = False
        # The session `transaction()` holds open, per thread (views share it: `for_owner`).
        self._held = threading.local()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One transaction, or the one `transaction()` holds open on this thread; a
        unique-name clash becomes a 409 instead of a 500."""
        held = getattr(self._held, "session", None)
        if held is not None:
            with _refusals():
                yield held
                held.flush()
            # Rows the session loaded miss what a Core statement changed since: the next
            # call loads them again, as it would in a transaction of its own.
            held.expire_all()
            return
        with Session(self.engine, expire_on_commit=False) as session, _refusals():
            yield session
            session.commit()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The store's calls in this block, on this thread, as one transaction: a write and
        the read-back of what it changed (see `service.base`) cost one commit, not two,
        and the read-back sees nobody else's write in between."""
        with self._session() as s:
            self._held.session = s
            try:
                yield
            finally:
                self._held.session = None

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A transaction that changes what the mux routes by. It is serialized with other
        servers' writes on PostgreSQL and bumps the revision, from which servers sharing
        the database learn that their routing tables are stale."""
        with self._session() as s:
            conn = s.connection()
            lock_shared_store(conn)
            if not conn.execute(sql.bump_revision).rowcount:
                conn.execute(sql.first_revision)
            if not conn.execute(sql.bump_owner_revision, {"owner_": self.owner}).rowcount:
                conn.execute(sql.first_owner_revision, {"owner_": self.owner})
            yield s

    def revision(self) -> str:
        with self._session() as s:
            return self._revision(s)

    def _revision(self, s: Session) -> str:
        """The database's revision; for a Hub user's view (`sees_shared`), theirs and the
        shared rows' ("12.3"), which other users' writes leave alone."""
        conn = s.connection()
        if self.sees_shared:
            owners = dict(conn.execute(sql.owner_revisions, {"owners": self._owners}).all())
            return f"{owners.get(self.owner, 0)}.{owners.get('', 0)}"
        return conn.execute(sql.revision).scalar() or "0"

    def after_one_write(self, before: str) -> str | None:
        """The revision one write of this view makes of `before` (None: not a revision)."""
        own, dot, shared = before.partition(".")
        if not own.isdigit() or (self.sees_shared and not shared.isdigit()):
            return None
        return f"{int(own) + 1}{dot}{shared}"

    def owner_revisions(self) -> dict[str, int]:
        """Every owner's revision: one read tells the Hub service whose tables are stale."""
        with self._session() as s:
            return dict(s.exec(select(OwnerRevision.owner, OwnerRevision.revision)).all())

    # -- lifecycle -------------------------------------------------------------------------

    def initialize(self, new_key_check: str) -> str:
        """Migrate, make sure `default` exists and something is active; return the stored
        key check (writing `new_key_check` if the database has none yet)."""
        migrations.migrate(self.engine)
        with self._write() as s:
            mine = select(WorkspaceRow.name).where(WorkspaceRow.owner == self.owner)
            if s.exec(mine).first() is None:
                self._add_workspace(s, DEFAULT_WORKSPACE, "Created on first start.", None)
            active = s.get(ActiveRow, self.owner)
            names = set(s.exec(mine).all())
            if active is None or active.workspace not in names:
                first = DEFAULT_WORKSPACE if DEFAULT_WORKSPACE in names else sorted(names)[0]
                s.merge(ActiveRow(owner=self.owner, workspace=first))
            check = s.get(Setting, KEY_CHECK_KEY)
            if check is None:
                s.add(Setting(key=KEY_CHECK_KEY, value=new_key_check))
                return new_key_check
            return check.value

    def dispose(self) -> None:
        self.engine.dispose()

    def for_owner(self, owner: str, *, sees_shared: bool = False) -> Store:
        """The same database, on the same engine and connection pool, as another owner
        sees it: the Hub service serves every user from one process."""
        view = copy.copy(self)
        view.owner = owner
        view.sees_shared = sees_shared and owner != ""
        return view

    @property
    def _owners(self) -> list[str]:
        """The owners whose workspaces this view sees (see `_seen`)."""
        return [self.owner, ""] if self.sees_shared else [self.owner]

    def _seen(self) -> Any:
        """The workspaces this owner sees: their own, and the shared ones where they see
        those."""
        return WorkspaceRow.owner.in_(self._owners)  # type: ignore[attr-defined]

    # -- reading ---------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._session() as s:
            return Snapshot(self._providers(s), self._workspaces(s), self._active(s))

    def changes(
        self,
        workspaces: Iterable[str],
        providers: Iterable[str],
        *,
        workspace_order: bool = False,
        provider_order: bool = False,
    ) -> Changes:
        """What a snapshot would hold of these workspaces and providers (absent: gone), the
        active workspace and the revision, in one transaction: what a write changed, read
        back without reading everything (see `service.base`). With `*_order`, every name
        in the snapshot's order too, for a write that added one."""
        workspaces, providers = list(workspaces), list(providers)
        with self._session() as s:
            return Changes(
                revision=self._revision(s),
                active=self._active(s),
                workspaces=self._workspaces(s, workspaces) if workspaces else {},
                providers=self._providers(s, providers) if providers else {},
                workspace_order=_names(s, WorkspaceRow.name, self._seen())
                if workspace_order
                else None,
                provider_order=_names(s, ProviderRow.name, self._visible())
                if provider_order
                else None,
            )

    def _providers(self, s: Session, names: list[str] | None = None) -> dict[str, ProviderRecord]:
        visible = self._visible()
        if names is not None:
            visible = and_(visible, ProviderRow.name.in_(names))  # type: ignore[attr-defined]
        models: dict[int, list[ModelRecord]] = {}
        for row in s.exec(
            select(ModelRow)
            .join(ProviderRow)
            .where(visible)
            .order_by(ModelRow.provider_id, ModelRow.position)
        ):
            models.setdefault(row.provider_id, []).append(
                ModelRecord(row.model_id, json.loads(row.info_json))
            )
        return {
            p.name: ProviderRecord(
                name=p.name,
                type=p.type,
                endpoint=p.endpoint,
                description=p.description,
                auth_type=p.auth_type,
                api_key_encrypted=p.api_key_encrypted,
                predefined=p.predefined,
                status=p.status,
                error=p.error,
                models_refreshed_at=p.models_refreshed_at,
                models=tuple(models.get(p.id, ())),
            )
            # A user's own provider comes after a shared one of the same name, and wins.
            for p in s.exec(
                select(ProviderRow)
                .where(visible)
                .order_by(ProviderRow.name, ProviderRow.predefined.desc())  # type: ignore[attr-defined]
            )
        }

    def _workspaces(self, s: Session, names: list[str] | None = None) -> dict[str, WorkspaceRecord]:
        if names is None:
            rows = s.connection().execute(sql.workspace_rows, {"owners": self._owners})
        else:
            rows = s.connection().execute(
                sql.named_workspace_rows, {"owners": self._owners, "names": names}
            )
        # A user's own workspace comes after a shared one of the same name, and wins.
        return {
            name: WorkspaceRecord(name, description, _rules(group), owner != self.owner)
            for (name, owner, description), group in groupby(rows, itemgetter(0, 1, 2))
        }

    def _active(self, s: Session) -> str:
        active = s.connection().execute(sql.active, {"owner_": self.owner}).scalar()
        if active is None:
            return DEFAULT_WORKSPACE
        if self.sees_shared and not self._sees(s, active):
            return DEFAULT_WORKSPACE  # a shared workspace the admin has since deleted
        return active

    def _sees(self, s: Session, name: str) -> bool:
        params = {"owners": self._owners, "name_": name}
        return s.connection().execute(sql.seen_workspace, params).first() is not None

    # -- providers -------------------------------------------------------------------------

    def create_provider(self, **values: Any) -> None:
        now = utcnow()
        with self._write() as s:
            if self._provider(s, values["name"], required=False) is not None:
                raise Conflict(f"A provider named '{values['name']}' already exists.")
            s.add(ProviderRow(owner=self.owner, created_at=now, updated_at=now, **values))

    def update_provider(self, current: str, /, **changes: Any) -> None:
        with self._write() as s:
            row = self._provider(s, current)
            new_name = changes.get("name", current)
            if new_name != current:
                if self._provider(s, new_name, required=False) is not None:
                    raise Conflict(f"A provider named '{new_name}' already exists.")
                s.exec(
                    update(TargetRow)
                    .where(
                        TargetRow.provider_name == current,
                        TargetRow.rule_id.in_(self._my_rule_ids()),  # type: ignore[union-attr]
                    )
                    .values(provider_name=new_name)
                )
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            s.add(row)
            shared = self._api_shared(s)
            if new_name != current and current in shared and row.owner == self.owner:
                self._set_api_shared(s, (shared - {current}) | {new_name})

    def delete_provider(self, name: str) -> None:
        with self._write() as s:
            row = self._provider(s, name)
            s.exec(delete(ModelRow).where(ModelRow.provider_id == row.id))
            s.delete(row)
            shared = self._api_shared(s)
            if name in shared and row.owner == self.owner:
                self._set_api_shared(s, shared - {name})

    def api_shared(self) -> set[str]:
        with self._session() as s:
            return self._api_shared(s)

    def share_provider(self, name: str) -> None:
        """Share one of this owner's ("", the Hub service's admin) providers with every
        user, as a configured one is, and keep it shared when the configuration is applied."""
        with self._write() as s:
            row = self._provider(s, name)
            if row.owner != self.owner:
                raise Conflict(f"Provider '{name}' is shared already.")
            row.predefined = True
            s.add(row)
            self._set_api_shared(s, self._api_shared(s) | {name})

    @staticmethod
    def _api_shared(s: Session) -> set[str]:
        row = s.get(Setting, API_SHARED_KEY)
        return set(json.loads(row.value)) if row else set()

    @staticmethod
    def _set_api_shared(s: Session, names: set[str]) -> None:
        s.merge(Setting(key=API_SHARED_KEY, value=json.dumps(sorted(names))))

    def set_models(
        self,
        name: str,
        models: Iterable[ModelRecord] | None,
        *,
        status: str,
        error: str | None,
    ) -> None:
        """Record a discovery attempt. `models=None` (a failed attempt) keeps the last list,
        so a provider that is briefly down does not lose what it served."""
        with self._write() as s:
            row = self._provider(s, name)
            row.status, row.error = status, error
            if models is not None:
                # Prices the user set survive rediscovery; the provider's own data is fresh.
                user_prices = {
                    m.model_id: price
                    for m in s.exec(select(ModelRow).where(ModelRow.provider_id == row.id))
                    if (price := json.loads(m.info_json).get(USER_PRICE)) is not None
                }
                s.exec(delete(ModelRow).where(ModelRow.provider_id == row.id))
                s.flush()
                seen: set[str] = set()
                for position, model in enumerate(models):
                    if model.id in seen:
                        continue
                    seen.add(model.id)
                    info = dict(model.info)
                    if model.id in user_prices:
                        info[USER_PRICE] = user_prices[model.id]
                    s.add(
                        ModelRow(
                            provider_id=row.id,
                            position=position,
                            model_id=model.id,
                            info_json=json.dumps(info),
                        )
                    )
                row.models_refreshed_at = utcnow()
            s.add(row)

    def set_price(self, provider: str, model: str, price: dict[str, float] | None) -> None:
        """Set (or with None, clear) the user's price of one model, USD per token."""
        with self._write() as s:
            row = self._provider(s, provider)
            model_row = s.exec(
                select(ModelRow).where(ModelRow.provider_id == row.id, ModelRow.model_id == model)
            ).first()
            if model_row is None:
                raise NotFound(f"Provider '{provider}' lists no model '{model}'.")
            info = json.loads(model_row.info_json)
            if price is None:
                info.pop(USER_PRICE, None)
            else:
                info[USER_PRICE] = price
            model_row.info_json = json.dumps(info)
            s.add(model_row)

    def sync_predefined(
        self,
        providers: list[dict[str, Any]],
        same_key: Callable[[str | None, str | None], bool] = operator.eq,
    ) -> list[tuple[str, list[str]]]:
        """Make the configured providers exist as configured, shared by all users. One
        dropped from the config is kept as an ordinary provider of the single-user owner, so
        nothing routed to it breaks on a single-user server. A value of KEEP leaves that
        column as stored (a key whose variable is not set is never erased).

        A shared provider is every user's: on a database other users' servers use (or from
        a JupyterHub user's server) a configuration never rewrites or drops one, since a
        user's own configuration could otherwise point everyone's prompts at their server.
        Returns the (name, differing fields) of configured providers kept as stored."""
        now = utcnow()
        kept: list[tuple[str, list[str]]] = []
        with self._write() as s:
            rewrite = self.config_is_truth or (self.owner == "" and not self._others_present(s))
            configured = {p["name"] for p in providers}
            shared = {
                row.name: row for row in s.exec(select(ProviderRow).where(ProviderRow.owner == ""))
            }
            by_api = self._api_shared(s)
            if by_api & configured:  # the configuration's now
                self._set_api_shared(s, by_api - configured)
            for row in shared.values():
                if rewrite and row.predefined and row.name not in configured | by_api:
                    row.predefined = False
                    s.add(row)
            for values in providers:
                row = shared.get(values["name"])
                if row is None:
                    fresh = {k: (None if v is KEEP else v) for k, v in values.items()}
                    s.add(ProviderRow(created_at=now, updated_at=now, predefined=True, **fresh))
                    continue
                changes = {
                    key: value
                    for key, value in values.items()
                    if value is not KEEP
                    and not (
                        same_key(row.api_key_encrypted, value)
                        if key == "api_key_encrypted"
                        else getattr(row, key) == value
                    )
                }
                if not row.predefined:
                    changes["predefined"] = True
                if not changes:
                    continue
                if not rewrite:
                    kept.append((row.name, sorted(changes)))
                    continue
                for key, value in changes.items():
                    setattr(row, key, value)
                row.updated_at = now
                s.add(row)
        return kept

    def _others_present(self, s: Session) -> bool:
        """Whether any other user's server has used this database."""
        return any(
            s.exec(select(table.owner).where(table.owner != self.owner).limit(1)).first()
            is not None
            for table in (ActiveRow, WorkspaceRow, ProviderRow, UsageRow)
        )

    # -- workspaces ------------------------------------------------------------------------

    def create_workspace(self, name: str, description: str, preferred: TargetRecord | None) -> None:
        with self._write() as s:
            if self._workspace_id(s, name, required=False) is not None:
                raise Conflict(f"A workspace named '{name}' already exists.")
            self._add_workspace(s, name, description, preferred)

    def replace_rules(
        self, name: str, rules: list[RuleRecord], *, create_description: str | None = None
    ) -> None:
        """Swap a workspace's whole rule list in one transaction. With `create_description`
        the workspace is created first (an import), and a taken name is a conflict."""
        with self._write() as s:
            if create_description is not None:
                if self._workspace_id(s, name, required=False) is not None:
                    raise Conflict(f"A workspace named '{name}' already exists.")
                now = utcnow()
                row = WorkspaceRow(
                    owner=self.owner,
                    name=name,
                    description=create_description,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                s.flush()
            else:
                row = self._workspace(s, name)
                self._delete_rules(s, row)
                row.updated_at = utcnow()
                s.add(row)
            for position, rule in enumerate(rules):
                rule_row = RuleRow(
                    workspace_id=row.id, position=position, kind=rule.kind, pattern=rule.pattern
                )
                s.add(rule_row)
                s.flush()
                for index, target in enumerate(rule.targets):
                    s.add(
                        TargetRow(
                            rule_id=rule_row.id,
                            position=index,
                            provider_name=target.provider,
                            model=target.model,
                        )
                    )

    def seed_workspaces(self, seeds: list[tuple[str, TargetRecord]]) -> None:
        """Create the workspaces that are missing, and give `default` the first seed's model
        if it has none: a user's own choices are never overwritten."""
        with self._write() as s:
            for name, target in seeds:
                if self._workspace_id(s, name, required=False) is None:
                    self._add_workspace(s, name, "", target)
            default = self._workspace_id(s, DEFAULT_WORKSPACE, required=False)
            if (
                default is not None
                and seeds
                and not s.exec(
                    select(TargetRow.id)
                    .join(RuleRow, TargetRow.rule_id == RuleRow.id)
                    .where(RuleRow.workspace_id == default, RuleRow.kind == "catch_all")
                ).first()
            ):
                self._set_preferred(s, default, seeds[0][1])

    def update_workspace(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        preferred: Any = KEEP,
    ) -> None:
        with self._write() as s:
            conn = s.connection()
            workspace_id = self._workspace_id(s, name)
            if new_name == name:
                new_name = None
            if new_name is not None:
                if self._workspace_id(s, new_name, required=False) is not None:
                    raise Conflict(f"A workspace named '{new_name}' already exists.")
                # The active workspace and the keys pinned to it follow it.
                renamed = {"owner_": self.owner, "old": name, "new": new_name}
                conn.execute(sql.rename_active, renamed)
                conn.execute(sql.rename_keys, renamed)
            conn.execute(
                sql.update_workspace,
                {
                    "id_": workspace_id,
                    "new_name": new_name,
                    "new_description": description,
                    "now": utcnow(),
                },
            )
            if preferred is not KEEP:
                self._set_preferred(s, workspace_id, preferred)

    def delete_workspace(self, name: str) -> None:
        with self._write() as s:
            row = self._workspace(s, name)
            active = s.get(ActiveRow, self.owner)
            if active is not None and active.workspace == name:
                raise Conflict(
                    f"Workspace '{name}' is active and cannot be deleted; activate another "
                    "workspace first."
                )
            self._delete_rules(s, row)
            s.delete(row)

    def set_active(self, name: str) -> None:
        with self._write() as s:
            if not self._sees(s, name):
                raise NotFound(f"No workspace named '{name}'.")
            params = {"owner_": self.owner, "workspace_": name}
            if not s.connection().execute(sql.set_active, params).rowcount:
                s.connection().execute(sql.first_active, params)

    # -- usage -----------------------------------------------------------------------------

    def add_usage(self, rows: list[dict[str, Any]]) -> None:
        """One Core INSERT for the batch, on the table, not the entity: the ORM's bulk path
        (objects, or `insert(UsageRow)` through the session) costs a third more CPU per
        row, on a thread that shares the GIL with the mux's event loop."""
        if not rows:
            return
        with self._session() as s:
            s.connection().execute(
                UsageRow.__table__.insert(), [{**row, "owner": self.owner} for row in rows]
            )

    def usage_totals(
        self,
        group_by: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        workspace: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """(key, provider, model, requests, errors, prompt_tokens, completion_tokens) per
        group; provider and model ride along so the caller can price each part."""
        key = func.date(UsageRow.ts) if group_by == "day" else getattr(UsageRow, group_by)
        query = usage_totals_query(key).where(UsageRow.owner == self.owner)
        query = usage_window(query, since, until)
        if workspace is not None:
            query = query.where(UsageRow.workspace == workspace)
        with self._session() as s:
            return [tuple(row) for row in s.exec(query).all()]

    def purge_usage(self, before: datetime) -> None:
        with self._session() as s:
            s.exec(delete(UsageRow).where(UsageRow.owner == self.owner, UsageRow.ts < before))

    # -- mux keys --------------------------------------------------------------------------
    # Key writes bump the revision, so that servers sharing the database reload their view
    # of the keys (a revoked key stops working there too); recording a key's use does not.

    def mux_keys(self) -> list[KeyRecord]:
        with self._session() as s:
            rows = s.exec(
                select(KeyRow).where(KeyRow.owner == self.owner).order_by(KeyRow.created_at)
            )
            return [_key_record(row) for row in rows]

    def key_owners(self) -> dict[str, str]:
        """Every owner's keys, by the secret's hash: the Hub service finds whose key a
        request carries before it knows the user."""
        with self._session() as s:
            return dict(s.exec(select(KeyRow.secret_hash, KeyRow.owner)).all())

    def add_key(self, key: KeyRecord, *, replacing: str | None = None) -> None:
        """Store a new key; with `replacing`, the owner's keys of that name go in the same
        transaction (the server's own key, made anew at every start)."""
        with self._write() as s:
            if replacing is not None:
                s.exec(delete(KeyRow).where(KeyRow.owner == self.owner, KeyRow.name == replacing))
            s.add(
                KeyRow(
                    id=key.id,
                    owner=self.owner,
                    name=key.name,
                    prefix=key.prefix,
                    secret_hash=key.secret_hash,
                    workspace=key.workspace,
                    expires_at=_utc(key.expires_at),
                    budget_usd=key.budget_usd,
                    created_at=_utc(key.created_at),
                )
            )

    def delete_key(self, key_id: str) -> None:
        with self._write() as s:
            row = s.exec(
                select(KeyRow).where(KeyRow.owner == self.owner, KeyRow.id == key_id)
            ).first()
            if row is None:
                raise NotFound(f"No mux key with id '{key_id}'.")
            s.delete(row)

    def touch_keys(self, used: dict[str, datetime]) -> None:
        """Record when keys were last used (a key revoked meanwhile is simply not found)."""
        with self._session() as s:
            for key_id, when in used.items():
                s.exec(
                    update(KeyRow)
                    .where(KeyRow.owner == self.owner, KeyRow.id == key_id)
                    .values(last_used_at=_utc(when))
                )

    # -- helpers ---------------------------------------------------------------------------

    def _visible(self) -> Any:
        """The providers this owner sees: their own and the shared ones."""
        return or_(ProviderRow.owner == self.owner, ProviderRow.predefined)  # type: ignore[arg-type]

    def _my_rule_ids(self) -> Any:
        return (
            select(RuleRow.id)
            .join(WorkspaceRow, RuleRow.workspace_id == WorkspaceRow.id)
            .where(WorkspaceRow.owner == self.owner)
        )

    def _provider(self, s: Session, name: str, *, required: bool = True) -> ProviderRow | None:
        """The provider this owner sees by that name: their own before a shared one."""
        row = s.exec(
            select(ProviderRow)
            .where(ProviderRow.name == name, self._visible())
            .order_by(ProviderRow.predefined)
        ).first()
        if row is None and required:
            raise NotFound(f"No provider named '{name}'.")
        return row

    def _workspace_id(self, s: Session, name: str, *, required: bool = True) -> int | None:
        params = {"owner_": self.owner, "name_": name}
        found = s.connection().execute(sql.workspace_id, params).scalar()
        if found is None and required:
            raise NotFound(f"No workspace named '{name}'.")
        return found

    def _workspace(self, s: Session, name: str) -> WorkspaceRow:
        """The row of this owner's workspace, for a write through the ORM."""
        return s.get(WorkspaceRow, self._workspace_id(s, name))  # type: ignore[return-value]

    def _add_workspace(
        self, s: Session, name: str, description: str, preferred: TargetRecord | None
    ) -> None:
        now = utcnow()
        row = WorkspaceRow(
            owner=self.owner, name=name, description=description, created_at=now, updated_at=now
        )
        s.add(row)
        s.flush()
        self._set_preferred(s, row.id, preferred)

    @staticmethod
    def _delete_rules(s: Session, row: WorkspaceRow) -> None:
        rule_ids = s.exec(select(RuleRow.id).where(RuleRow.workspace_id == row.id)).all()
        s.exec(delete(TargetRow).where(TargetRow.rule_id.in_(rule_ids)))
        s.exec(delete(RuleRow).where(RuleRow.workspace_id == row.id))

    @staticmethod
    def _set_preferred(s: Session, workspace_id: Any, preferred: TargetRecord | None) -> None:
        """The preferred model is the catch-all rule's first target; fallbacks after it stay."""
        conn = s.connection()
        rule = conn.execute(sql.catch_all, {"id_": workspace_id}).scalar()
        if rule is None:
            last = conn.execute(sql.last_rule_position, {"id_": workspace_id}).scalar()
            position = 0 if last is None else last + 1
            added = conn.execute(
                sql.add_rule,
                {"workspace_id": workspace_id, "position": position, "kind": sql.CATCH_ALL},
            )
            rule = added.inserted_primary_key[0]
        if preferred is None:
            conn.execute(sql.clear_targets, {"rule": rule})
            return
        target = {"rule": rule, "provider": preferred.provider, "model_": preferred.model}
        if not conn.execute(sql.set_first_target, target).rowcount:
            conn.execute(sql.first_target, target)


def _rules(rows: Iterable[Any]) -> tuple[RuleRecord, ...]:
    """A workspace's rules from its rows of `statements.workspace_rows` (rule id, kind,
    pattern, provider, model after the workspace's three columns)."""
    return tuple(
        RuleRecord(kind, pattern, tuple(TargetRecord(*r[6:]) for r in group if r[6] is not None))
        for (rule, kind, pattern), group in groupby(rows, itemgetter(3, 4, 5))
        if rule is not None
    )


def _names(s: Session, column: Any, where: Any) -> list[str]:
    """Names in the order a snapshot keeps them, once each (a user's own and a shared one
    of the same name are one entry)."""
    return list(dict.fromkeys(s.exec(select(column).where(where).order_by(column))))


def usage_totals_query(*keys: Any) -> Any:
    """(keys..., provider, model, requests, errors, prompt, completion) grouped by the keys,
    provider and model: the parts a caller prices one by one."""
    errors = func.sum(case((UsageRow.status >= 400, 1), else_=0))
    return select(
        *keys,
        UsageRow.provider,
        UsageRow.model,
        func.count(),
        errors,
        func.sum(UsageRow.prompt_tokens),
        func.sum(UsageRow.completion_tokens),
    ).group_by(*keys, UsageRow.provider, UsageRow.model)


def usage_window(query: Any, since: datetime | None, until: datetime | None) -> Any:
    """Usage rows from `since` on and before `until` (either may be open)."""
    if since is not None:
        query = query.where(UsageRow.ts >= since)
    if until is not None:
        query = query.where(UsageRow.ts < until)
    return query


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(timezone.utc) if value is not None else None


def _aware(value: datetime | None) -> datetime | None:
    """Key times read back as UTC (SQLite keeps no zone)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else _utc(value)


def _key_record(row: KeyRow) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        workspace=row.workspace,
        expires_at=_aware(row.expires_at),
        budget_usd=row.budget_usd,
        created_at=_aware(row.created_at),  # type: ignore[arg-type]
        last_used_at=_aware(row.last_used_at),
    )
