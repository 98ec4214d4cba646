"""Workspaces, their rules and the active workspace: checked against the providers and
models that exist now, so a saved workspace can route."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..models import (
    ProviderRef,
    RuleIn,
    RuleOut,
    TargetIn,
    WorkspaceCreate,
    WorkspaceExport,
    WorkspaceOut,
    WorkspaceUpdate,
)
from ..store import KEEP, RuleRecord, Snapshot, TargetRecord
from .base import ServiceBase, check_own_workspace, check_workspace
from .views import rules_view, workspace_view

# What `request_type` rules match (MuxRequest.request_type): "chat" covers chat, Responses
# and Messages requests alike.
REQUEST_TYPES = ("chat", "fim", "embeddings")


class Workspaces(ServiceBase):
    async def list_workspaces(self) -> list[WorkspaceOut]:
        snapshot = await self._snapshot()
        return [workspace_view(w, snapshot) for w in snapshot.workspaces]

    async def get_workspace(self, name: str) -> WorkspaceOut:
        snapshot = await self._snapshot()
        check_workspace(snapshot, name)
        return workspace_view(name, snapshot)

    async def create_workspace(self, body: WorkspaceCreate) -> WorkspaceOut:
        snapshot = await self._snapshot()
        preferred = checked_target(body.preferred, snapshot)
        state = await self._write(
            self.store.create_workspace,
            body.name,
            body.description,
            preferred,
            workspaces=(body.name,),
        )
        return workspace_view(body.name, state)

    async def update_workspace(self, name: str, body: WorkspaceUpdate) -> WorkspaceOut:
        snapshot = await self._snapshot()
        check_own_workspace(snapshot, name)
        preferred = (
            checked_target(body.preferred, snapshot)
            if "preferred" in body.model_fields_set
            else KEEP
        )
        state = await self._write(
            self.store.update_workspace,
            name,
            new_name=body.name,
            description=body.description,
            preferred=preferred,
            workspaces=(name, body.name) if body.name else (name,),
        )
        return workspace_view(body.name or name, state)

    async def get_rules(self, name: str) -> list[RuleOut]:
        snapshot = await self._snapshot()
        check_workspace(snapshot, name)
        return rules_view(snapshot.workspaces[name].rules, snapshot)

    async def set_rules(self, name: str, rules: list[RuleIn]) -> list[RuleOut]:
        snapshot = await self._snapshot()
        check_own_workspace(snapshot, name)
        records = checked_rules(rules, snapshot)
        snapshot = await self._write(self.store.replace_rules, name, records, workspaces=(name,))
        return rules_view(snapshot.workspaces[name].rules, snapshot)

    async def export_workspace(self, name: str) -> WorkspaceExport:
        snapshot = await self._snapshot()
        check_workspace(snapshot, name)
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
        snapshot = await self._snapshot()
        mapping = match_providers(body.providers, snapshot)
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
        records = checked_rules(rules, snapshot, require_known=False)
        state = await self._write(
            self.store.replace_rules,
            body.name,
            records,
            create_description=body.description,
            workspaces=(body.name,),
        )
        return workspace_view(body.name, state)

    async def delete_workspace(self, name: str) -> None:
        check_own_workspace(await self._snapshot(), name)
        await self._write(self.store.delete_workspace, name, workspaces=(name,))

    async def get_active(self) -> str:
        return (await self._snapshot()).active

    async def set_active(self, name: str) -> str:
        return (await self._write(self.store.set_active, name)).active


def checked_target(target: Any, snapshot: Snapshot) -> TargetRecord | None:
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


def checked_rules(
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
            if rule.kind == "request_type" and rule.pattern not in REQUEST_TYPES:
                raise InvalidRequest(f"{where}: the pattern must be 'chat', 'fim' or 'embeddings'.")
            if not rule.targets:
                raise InvalidRequest(f"{where}: at least one target is required.")
        targets = []
        for j, target in enumerate(rule.targets):
            if require_known:
                try:
                    checked_target(target, snapshot)
                except InvalidRequest as exc:
                    raise InvalidRequest(
                        f"{where}, target {j}: {exc.message}", param=f"rules[{i}].targets[{j}]"
                    ) from None
            targets.append(TargetRecord(target.provider, target.model))
        records.append(RuleRecord(rule.kind, rule.pattern, tuple(targets)))
    return records


def match_providers(refs: list[ProviderRef], snapshot: Snapshot) -> dict[str, str]:
    mapping = {}
    for ref in refs:
        if ref.name in snapshot.providers:
            mapping[ref.name] = ref.name
            continue
        same_type = [p.name for p in snapshot.providers.values() if p.type == ref.type]
        if same_type:
            mapping[ref.name] = same_type[0]
    return mapping
