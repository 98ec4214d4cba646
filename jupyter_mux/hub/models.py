"""The Hub service's admin API shapes (API.md section 6): policies, budgets, members and
usage across users. Plain pydantic, no `jupyterhub`: the OpenAPI spec imports them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ..models import Body, Text, UsageRowOut, UtcTime

# A glob over "provider/model", e.g. "ollama/*" or "*/gpt-4o-mini".
ModelGlob = Annotated[str, StringConstraints(min_length=1, max_length=600), Text]
Usd = Annotated[float, Field(ge=0, le=1_000_000_000)]
# A Hub user's or group's name: JupyterHub allows much more than workspace names do.
HubName = Annotated[str, StringConstraints(min_length=1, max_length=255), Text]
PolicyScope = Literal["default", "group", "user"]


class Policy(Body):
    """What the admin allows; a field left out (null) is decided by the next policy down:
    a user's own, then their groups', then `default`."""

    model_config = ConfigDict(extra="forbid", strict=False)

    usd_per_day: Usd | None = Field(
        None, description="Each user's own spend per UTC day (on a group: each member's)."
    )
    usd_per_month: Usd | None = Field(
        None, description="Each user's own spend per UTC calendar month."
    )
    group_usd_per_day: Usd | None = Field(
        None, description="Only on a group: all its members' spend together, per UTC day."
    )
    group_usd_per_month: Usd | None = Field(
        None, description="Only on a group: all its members' spend together, per month."
    )
    allowed_models: list[ModelGlob] | None = Field(
        None,
        max_length=200,
        description='Globs over "provider/model" a user may be served by; [] allows none.',
    )
    user_providers: bool | None = Field(
        None, description="Whether users may add providers (and keys) of their own."
    )


def misplaced(scope: str, policy: Policy) -> str | None:
    """What is wrong with this policy on this scope, if anything: group totals belong on
    a group."""
    if scope != "group" and (
        policy.group_usd_per_day is not None or policy.group_usd_per_month is not None
    ):
        return (
            "group_usd_per_day and group_usd_per_month are budgets of a group's members "
            "together: set them on a group's policy"
        )
    return None


class PolicyOut(BaseModel):
    scope: PolicyScope
    name: str | None = Field(description="The group's or user's name; null for default.")
    policy: Policy
    source: Literal["config", "api"] = Field(
        description="`config`: set in the service's configuration file, read-only here."
    )
    updated_at: datetime


class BudgetOut(BaseModel):
    budget: str = Field(description='Which budget, as errors name it: "user alice usd_per_day".')
    limit_usd: float
    spent_usd: float
    held_usd: float = Field(description="Held for requests in flight.")
    resets_at: datetime


class EffectivePolicy(BaseModel):
    usd_per_day: float | None
    usd_per_month: float | None
    allowed_models: list[str] | None = Field(description="null: every model.")
    user_providers: bool


class MeOut(BaseModel):
    """Who the caller is to the service, what they may use and what is left."""

    name: str
    admin: bool
    groups: list[str]
    policy: EffectivePolicy
    budgets: list[BudgetOut]


class MemberOut(MeOut):
    seen_at: datetime


class AdminUsageQuery(Body):
    model_config = ConfigDict(extra="forbid", strict=False)

    since: UtcTime | None = None
    until: UtcTime | None = None
    group_by: Literal["user", "group", "provider", "model", "day", "workspace"] = "user"
    user: HubName | None = Field(None, description="Only this user's requests.")
    group: HubName | None = Field(None, description="Only this group's members' requests.")


class AdminUsageOut(BaseModel):
    """As `/mux/api/usage`; with group_by=group a user in two groups counts in both rows
    (the totals count them once), and users in none are under `(no group)`."""

    rows: list[UsageRowOut]
    totals: UsageRowOut
