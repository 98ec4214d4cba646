"""The management API's request and response shapes (see API.md section 2).

Kept apart from the tables so the wire contract can stay put while storage changes, and so
one definition both validates input and documents it in the OpenAPI spec.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from .endpoints import check_endpoint
from .errors import InvalidRequest
from .providers.registry import PROVIDER_TYPES

NAME_RULE = "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"

# Names travel in URLs and headers (`/mux/w/{workspace}/v1`, `X-Mux-Workspace`), so they are
# kept to characters that need no escaping anywhere.
Name = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"),
]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = AfterValidator(_no_nul)  # PostgreSQL cannot store NUL in text
Description = Annotated[str, StringConstraints(max_length=2048), Text]
AuthType = Literal["none", "api_key"]


def _check_type(value: str) -> str:
    if value not in PROVIDER_TYPES:
        raise ValueError(f"unknown provider type; known types: {', '.join(PROVIDER_TYPES)}")
    return value


ProviderTypeName = Annotated[
    str,
    AfterValidator(_check_type),
    WithJsonSchema({"type": "string", "enum": list(PROVIDER_TYPES)}),
]
Endpoint = Annotated[str, StringConstraints(max_length=2048), Text, AfterValidator(check_endpoint)]
ApiKey = Annotated[str, StringConstraints(max_length=4096), Text]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TargetIn(Body):
    provider: Name
    model: Annotated[str, StringConstraints(min_length=1, max_length=512), Text]


class ProviderCreate(Body):
    name: Name
    type: ProviderTypeName
    endpoint: Endpoint | None = None
    description: Description = ""
    auth_type: AuthType | None = None
    api_key: ApiKey | None = None


class PredefinedProvider(ProviderCreate):
    """A provider shipped in `c.MuxApp.providers`; its key may come from the environment."""

    api_key_env: str | None = None


class ProviderUpdate(Body):
    """Only the fields given change. The stored key is kept when `api_key` is absent or
    empty, except when `endpoint` moves to another origin (scheme, host or port): the key
    was meant for the old server, so it is dropped unless this request gives one."""

    name: Name | None = None
    endpoint: Endpoint | None = None
    description: Description | None = None
    auth_type: AuthType | None = None
    api_key: ApiKey | None = None


def _not_reserved(value: str) -> str:
    if value in RESERVED_WORKSPACE_NAMES:
        raise ValueError(f"'{value}' is reserved (it is a route of the API)")
    return value


RESERVED_WORKSPACE_NAMES = frozenset({"import"})
WorkspaceName = Annotated[Name, AfterValidator(_not_reserved)]
RuleKind = Literal["catch_all", "request_type", "filename", "model"]
Pattern = Annotated[str, StringConstraints(min_length=1, max_length=256), Text]


class RuleIn(Body):
    kind: RuleKind
    pattern: Pattern | None = None
    targets: Annotated[list[TargetIn], Field(max_length=5)] = []
    # Read-only fields of a rule as GET returns it, accepted and ignored so that a client
    # can PUT back what it read.
    ok: bool | None = None
    problem: str | None = None


Rules = Annotated[list[RuleIn], Field(min_length=1, max_length=50)]


class ProviderRef(Body):
    name: Name
    type: ProviderTypeName


EXPORT_FORMAT = "jupyter-mux.workspace/1"


class WorkspaceExport(Body):
    """A workspace to share: its rules, and the providers they use by name and type, never
    their endpoints or keys."""

    format: Literal["jupyter-mux.workspace/1"] = EXPORT_FORMAT
    name: WorkspaceName
    description: Description = ""
    rules: Rules
    providers: list[ProviderRef] = []


class WorkspaceCreate(Body):
    name: WorkspaceName
    description: Description = ""
    preferred: TargetIn | None = None


class WorkspaceUpdate(Body):
    name: WorkspaceName | None = None
    description: Description | None = None
    preferred: TargetIn | None = None


class ActiveIn(Body):
    name: Name


class ProviderTypeOut(BaseModel):
    type: str
    label: str
    default_endpoint: str
    default_auth: AuthType
    auth_types: list[AuthType]


class ProviderOut(BaseModel):
    name: str
    type: str
    endpoint: str
    description: str
    auth_type: AuthType
    has_api_key: bool
    predefined: bool = Field(description="Defined in the server configuration: read-only.")
    models: list[str]
    status: Literal["ok", "error"]
    error: str | None
    models_refreshed_at: datetime | None
    used_by: list[str]


class TargetOut(BaseModel):
    provider: str
    model: str


class WorkspaceOut(BaseModel):
    name: str
    description: str
    is_active: bool
    preferred: TargetOut | None
    preferred_ok: bool
    problem: str | None
    shared: bool = Field(
        False,
        description="Shared by the Hub service's admin: every user can use and activate it, "
        "none can change it.",
    )


class ActiveOut(BaseModel):
    name: str


class RuleOut(BaseModel):
    kind: RuleKind
    pattern: str | None
    targets: list[TargetOut]
    ok: bool
    problem: str | None


def parse(model: type[Body], data: Any) -> Any:
    """Validate a request body; the first problem becomes a 400 naming the field."""
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(describe(exc)) from None


_RULES = TypeAdapter(Rules)


def parse_rules(data: Any) -> list[RuleIn]:
    if not isinstance(data, list):
        raise InvalidRequest("The request body must be a JSON array of rules.")
    try:
        return _RULES.validate_python(data, strict=True)
    except ValidationError as exc:
        raise InvalidRequest(describe(exc, prefix="rules")) from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    messages = []
    for error in exc.errors()[:3]:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).lstrip(
            "."
        )
        field = (prefix + field) if prefix else (field or "body")
        kind = error["type"]
        if kind == "extra_forbidden":
            messages.append(f"'{field}' is not a field of this request")
        elif kind == "missing":
            messages.append(f"'{field}' is required")
        elif kind == "string_pattern_mismatch":
            messages.append(f"'{field}' must be {NAME_RULE}")
        else:
            messages.append(f"'{field}': {error['msg'].removeprefix('Value error, ')}")
    return "Invalid request: " + "; ".join(messages) + "."


class PriceIn(Body):
    """A model's price as the user sets it, in USD per million tokens; null clears it."""

    model_config = ConfigDict(extra="forbid", strict=False)  # ints are fine for prices

    model: Annotated[str, StringConstraints(min_length=1, max_length=512), Text]
    prompt_per_million: Annotated[float, Field(ge=0, le=1_000_000)] | None
    completion_per_million: Annotated[float, Field(ge=0, le=1_000_000)] | None


def _utc(value: datetime) -> datetime:
    """A date (`2026-11-01`, its midnight) or a time without a zone is UTC: the zone usage is
    recorded in and `group_by=day` cuts days in. Aware times are converted to it."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


UtcTime = Annotated[datetime, AfterValidator(_utc)]


class UsageQuery(Body):
    # Query strings are text: lax parsing turns "2026-11-01" into a datetime.
    model_config = ConfigDict(extra="forbid", strict=False)

    since: UtcTime | None = Field(None, description="From this time on (UTC unless zoned).")
    until: UtcTime | None = Field(
        None, description="Before this time (exclusive; UTC unless zoned)."
    )
    group_by: Literal["workspace", "provider", "model", "day", "key"] = Field(
        "workspace",
        description='`key`: the mux key\'s id, "" for requests made with the Jupyter token.',
    )
    workspace: Name | None = None


class UsageRowOut(BaseModel):
    key: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = Field(0.0, description="USD; null when a price is unknown.")

    def add(
        self, requests: int, errors: int, prompt: int, completion: int, cost: float | None
    ) -> None:
        self.requests += requests
        self.errors += errors
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        self.cost = None if self.cost is None or cost is None else self.cost + cost


class UsageOut(BaseModel):
    rows: list[UsageRowOut]
    totals: UsageRowOut


def _in_future(value: datetime) -> datetime:
    if value <= datetime.now(timezone.utc):
        raise ValueError("is not in the future")
    return value


KeyName = Annotated[str, StringConstraints(min_length=1, max_length=128), Text]


class KeyCreate(Body):
    """A scoped mux key to make (API.md section 5)."""

    # A time arrives as text: lax parsing turns "2026-12-01T00:00Z" into a datetime.
    model_config = ConfigDict(extra="forbid", strict=False)

    name: KeyName
    workspace: WorkspaceName | None = Field(
        None, description="Pin the key to this workspace, whatever is active."
    )
    expires_at: Annotated[UtcTime, AfterValidator(_in_future)] | None = Field(
        None, description="The key stops working at this time (UTC unless zoned)."
    )
    budget_usd: Annotated[float, Field(ge=0, le=1_000_000)] | None = Field(
        None, description="Requests are refused (429) once the key's priced usage reaches it."
    )


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The secret's first characters, to tell keys apart.")
    workspace: str | None
    expires_at: datetime | None
    budget_usd: float | None
    spent_usd: float = Field(description="USD of priced usage made with the key.")
    created_at: datetime
    last_used_at: datetime | None


class KeyCreated(KeyOut):
    secret: str = Field(description="The key itself, shown only in this answer.")
