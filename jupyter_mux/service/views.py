"""What the API shows of stored records: pure functions of a snapshot, so every read and
every write answers with the same view."""

from __future__ import annotations

from ..models import ProviderOut, RuleOut, TargetOut, WorkspaceOut
from ..routing import routable, target_problem
from ..store import ProviderRecord, RuleRecord, Snapshot


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
    broken = routable(provider)
    return ProviderOut(
        name=provider.name,
        type=provider.type,
        endpoint=provider.endpoint,
        description=provider.description,
        auth_type=provider.auth_type,
        has_api_key=bool(provider.api_key_encrypted),
        predefined=provider.predefined,
        models=[m.id for m in provider.models],
        status="ok" if provider.status == "ok" and not broken else "error",
        error=broken or provider.error,
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
        shared=workspace.shared,
    )
