"""The statements of the store's hot path, built once, in Core.

A management write (PATCH a workspace, switch the active one) and the read-back of what it
changed run on the store's thread, which shares the GIL with the event loop that relays
mux requests: its CPU is time the loop waits. Through the ORM such a write cost about 4 ms
of CPU (the unit of work, the identity map, and a new statement to build and key at every
call). These statements run on the session's connection, and each is built once: a
statement keeps its cache key, so executing one again only binds its parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from .tables import ActiveRow, KeyRow, OwnerRevision, RuleRow, Setting, TargetRow, WorkspaceRow

CATCH_ALL = "catch_all"
REVISION_KEY = "revision"

_setting: Any = Setting.__table__  # type: ignore[attr-defined]
_owner_revision: Any = OwnerRevision.__table__  # type: ignore[attr-defined]
_active: Any = ActiveRow.__table__  # type: ignore[attr-defined]
_workspace: Any = WorkspaceRow.__table__  # type: ignore[attr-defined]
_rule: Any = RuleRow.__table__  # type: ignore[attr-defined]
_target: Any = TargetRow.__table__  # type: ignore[attr-defined]
_key: Any = KeyRow.__table__  # type: ignore[attr-defined]

# The owners whose workspaces a view sees: its own, and "" where it sees the shared ones.
_owners = bindparam("owners", expanding=True)

# -- revisions (parameter: owner_) -----------------------------------------------------------

# The revision is stored as text (a setting): counted up in SQL, so that no read comes first.
bump_revision = (
    update(_setting)
    .where(_setting.c.key == REVISION_KEY)
    .values(value=cast(cast(_setting.c.value, BigInteger) + 1, String))
)
first_revision = insert(_setting).values(key=REVISION_KEY, value="1")
revision = select(_setting.c.value).where(_setting.c.key == REVISION_KEY)
bump_owner_revision = (
    update(_owner_revision)
    .where(_owner_revision.c.owner == bindparam("owner_"))
    .values(revision=_owner_revision.c.revision + 1)
)
first_owner_revision = insert(_owner_revision).values(owner=bindparam("owner_"), revision=1)
owner_revisions = select(_owner_revision.c.owner, _owner_revision.c.revision).where(
    _owner_revision.c.owner.in_(_owners)
)

# -- the active workspace (parameters: owner_, workspace_) ----------------------------------

active = select(_active.c.workspace).where(_active.c.owner == bindparam("owner_"))
set_active = (
    update(_active)
    .where(_active.c.owner == bindparam("owner_"))
    .values(workspace=bindparam("workspace_"))
)
first_active = insert(_active).values(owner=bindparam("owner_"), workspace=bindparam("workspace_"))
rename_active = (
    update(_active)
    .where(_active.c.owner == bindparam("owner_"), _active.c.workspace == bindparam("old"))
    .values(workspace=bindparam("new"))
)

# -- workspaces -------------------------------------------------------------------------------

# Every workspace the owners have, with its rules and their targets, one row per target (or
# per rule without one, or per workspace without rules), in the snapshot's order: by name,
# the shared one ("") before a user's own of the same name, which wins.
workspace_rows = (
    select(
        _workspace.c.name,
        _workspace.c.owner,
        _workspace.c.description,
        _rule.c.id,
        _rule.c.kind,
        _rule.c.pattern,
        _target.c.provider_name,
        _target.c.model,
    )
    .select_from(
        _workspace.outerjoin(_rule, _rule.c.workspace_id == _workspace.c.id).outerjoin(
            _target, _target.c.rule_id == _rule.c.id
        )
    )
    .where(_workspace.c.owner.in_(_owners))
    .order_by(_workspace.c.name, _workspace.c.owner, _rule.c.position, _target.c.position)
)
named_workspace_rows = workspace_rows.where(
    _workspace.c.name.in_(bindparam("names", expanding=True))
)
seen_workspace = (
    select(_workspace.c.id)
    .where(_workspace.c.owner.in_(_owners), _workspace.c.name == bindparam("name_"))
    .limit(1)
)
workspace_id = select(_workspace.c.id).where(
    _workspace.c.owner == bindparam("owner_"), _workspace.c.name == bindparam("name_")
)
# A None leaves the name or the description as it is.
update_workspace = (
    update(_workspace)
    .where(_workspace.c.id == bindparam("id_"))
    .values(
        name=func.coalesce(bindparam("new_name", type_=String), _workspace.c.name),
        description=func.coalesce(
            bindparam("new_description", type_=String), _workspace.c.description
        ),
        updated_at=bindparam("now", type_=DateTime),
    )
)
rename_keys = (
    update(_key)
    .where(_key.c.owner == bindparam("owner_"), _key.c.workspace == bindparam("old"))
    .values(workspace=bindparam("new"))
)

# -- a workspace's preferred model: its catch-all rule's first target (parameter: id_) -------

catch_all = (
    select(_rule.c.id)
    .where(_rule.c.workspace_id == bindparam("id_"), _rule.c.kind == CATCH_ALL)
    .limit(1)
)
last_rule_position = select(func.max(_rule.c.position)).where(
    _rule.c.workspace_id == bindparam("id_")
)
add_rule = insert(_rule)
clear_targets = delete(_target).where(_target.c.rule_id == bindparam("rule"))
set_first_target = (
    update(_target)
    .where(_target.c.rule_id == bindparam("rule"), _target.c.position == 0)
    .values(provider_name=bindparam("provider"), model=bindparam("model_"))
)
first_target = insert(_target).values(
    rule_id=bindparam("rule"),
    position=0,
    provider_name=bindparam("provider"),
    model=bindparam("model_"),
)
