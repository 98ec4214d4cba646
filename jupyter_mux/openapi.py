"""The OpenAPI document of the whole HTTP surface, built from the same pydantic models that
validate requests, so the spec cannot drift from the code (a test also checks that every
route in the server's table is described). `python -m jupyter_mux.openapi` prints it."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from ._version import __version__
from .hub.models import (
    AdminUsageOut,
    BudgetOut,
    MemberOut,
    MeOut,
    Policy,
    PolicyOut,
)
from .models import (
    ActiveIn,
    ActiveOut,
    KeyCreate,
    KeyCreated,
    KeyOut,
    PriceIn,
    ProviderCreate,
    ProviderOut,
    ProviderTypeOut,
    ProviderUpdate,
    RuleIn,
    RuleOut,
    UsageOut,
    WorkspaceCreate,
    WorkspaceExport,
    WorkspaceOut,
    WorkspaceUpdate,
)
from .probe import ProbeOut

MODELS: list[type[BaseModel]] = [
    PriceIn,
    ActiveIn,
    ActiveOut,
    ProviderCreate,
    ProviderOut,
    ProviderTypeOut,
    ProviderUpdate,
    RuleIn,
    RuleOut,
    WorkspaceCreate,
    WorkspaceExport,
    WorkspaceOut,
    WorkspaceUpdate,
    UsageOut,
    ProbeOut,
    KeyCreate,
    KeyCreated,
    KeyOut,
    Policy,
    PolicyOut,
    BudgetOut,
    MeOut,
    MemberOut,
    AdminUsageOut,
]
# Paths served only by `jupyter-mux hub-service` (API.md section 6) carry this mark.
HUB_ONLY = "x-jupyter-mux-hub-service"

OPENAI_SCHEMAS: dict[str, Any] = {
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    },
    "ChatRequest": {
        "type": "object",
        "required": ["messages"],
        "description": "An OpenAI chat request; `model` is a placeholder, the workspace "
        "decides. Other fields pass through to the provider.",
        "properties": {
            "model": {"type": "string"},
            "messages": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["role"],
                    "properties": {"role": {"type": "string"}},
                },
            },
            "stream": {"type": "boolean"},
        },
    },
    "CompletionRequest": {
        "type": "object",
        "required": ["prompt"],
        "properties": {
            "model": {"type": "string"},
            "prompt": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                ]
            },
            "suffix": {"type": "string"},
            "stream": {"type": "boolean"},
        },
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                    },
                },
            },
        },
    },
    "JupyterError": {
        "type": "object",
        "properties": {"message": {"type": "string"}, "reason": {"type": ["string", "null"]}},
    },
    "ModelInfo": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}},
        "additionalProperties": True,
    },
}

MUX_HEADERS = {
    name: {"schema": {"type": "string"}, "description": text}
    for name, text in (
        ("X-Mux-Workspace", "The workspace that routed the request."),
        ("X-Mux-Provider", "The provider that answered."),
        ("X-Mux-Model", "The model that answered."),
    )
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: int | None = 200,
    response: Any = None,
    body: str | None = None,
    errors: tuple[int, ...] = (),
    error_schema: str = "JupyterError",
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {}}
    if body:
        operation["requestBody"] = {"required": True, **_json(_ref(body))}
    if ok == 204:
        operation["responses"]["204"] = {"description": "Done."}
    elif ok is not None:
        operation["responses"][str(ok)] = {"description": "OK.", **_json(response or {})}
    for status in (403, *errors):
        operation["responses"][str(status)] = {"description": "Error.", **_json(_ref(error_schema))}
    return operation


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
WORKSPACE = {"name": "workspace", "in": "path", "required": True, "schema": {"type": "string"}}
MODEL = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
RESPONSE_ID = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
PIN = {
    "name": "X-Mux-Workspace",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Route this request by this workspace.",
}


def _time_param(name: str, text: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "schema": {"type": "string", "format": "date-time"},
        "description": f"{text} An ISO 8601 time, or a date (its midnight); UTC unless it "
        "carries a zone.",
    }


USAGE_PARAMETERS = [
    _time_param("since", "From this time on."),
    _time_param("until", "Before this time (exclusive)."),
    {
        "name": "group_by",
        "in": "query",
        "schema": {
            "enum": ["workspace", "provider", "model", "day", "key"],
            "default": "workspace",
        },
    },
    {"name": "workspace", "in": "query", "schema": {"type": "string"}},
]


def _mux_paths(prefix: str, params: list[dict]) -> dict[str, Any]:
    errors = (400, 401, 403, 404, 409, 429, 502, 503, 504)
    paths = {}
    for route, summary, body, error_schema in RELAY_ROUTES:
        operation = _op(summary, None, errors=errors, error_schema=error_schema)
        operation["requestBody"] = {
            "required": True,
            **_json(_ref(body) if body else {"type": "object"}),
        }
        operation["responses"]["200"] = {
            "description": "One JSON body, or an SSE stream when `stream` is true.",
            "headers": MUX_HEADERS,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
        operation["parameters"] = [*params, PIN]
        paths[f"{prefix}/v1/{route}"] = {"post": operation}
    models = _op(
        "Model ids a client may send",
        200,
        _ref("ModelList"),
        errors=(401, 404, 503),
        error_schema="OpenAIError",
    )
    models["parameters"] = [*params, PIN]
    paths[f"{prefix}/v1/models"] = {"get": models}
    model = _op(
        "One model a client may send (any id: the workspace serves it); Anthropic's shape "
        "when the request carries anthropic-version",
        200,
        {"type": "object"},
        errors=(401, 404, 503),
        error_schema="OpenAIError",
    )
    model["parameters"] = [*params, MODEL, PIN]
    paths[f"{prefix}/v1/models/{{model}}"] = {"get": model}
    stored = {
        method: {
            **_op(summary, 200, {"type": "object"}, errors=(401, 404), error_schema="OpenAIError"),
            "parameters": [*params, RESPONSE_ID],
        }
        for method, summary in (
            ("get", "A stored Responses API answer"),
            ("delete", "Forget a stored Responses API answer"),
        )
    }
    paths[f"{prefix}/v1/responses/{{response_id}}"] = stored
    return paths


# The routes a request is relayed by (API.md sections 1 and 4): (path, summary, body schema,
# error schema). The bodies of the dialects besides OpenAI chat are the providers' own API
# shapes, documented by OpenAI and Anthropic.
RELAY_ROUTES = (
    (
        "chat/completions",
        "OpenAI chat/completions, routed by the workspace",
        "ChatRequest",
        "OpenAIError",
    ),
    (
        "completions",
        "OpenAI completions, routed by the workspace",
        "CompletionRequest",
        "OpenAIError",
    ),
    ("responses", "OpenAI Responses API, routed by the workspace", None, "OpenAIError"),
    ("messages", "Anthropic Messages API, routed by the workspace", None, "AnthropicError"),
    (
        "messages/count_tokens",
        "Anthropic token count: the provider's own (Anthropic), else the mux's estimate",
        None,
        "AnthropicError",
    ),
    ("embeddings", "OpenAI embeddings, routed by the workspace", None, "OpenAIError"),
)


def _hub_paths(bad: tuple[int, ...]) -> dict[str, Any]:
    admin = (400, 403, 404, 409, 503)
    group_by = {
        "name": "group_by",
        "in": "query",
        "schema": {
            "enum": ["user", "group", "provider", "model", "day", "workspace"],
            "default": "user",
        },
    }
    usage_parameters = [
        _time_param("since", "From this time on."),
        _time_param("until", "Before this time (exclusive)."),
        group_by,
        {"name": "user", "in": "query", "schema": {"type": "string"}},
        {"name": "group", "in": "query", "schema": {"type": "string"}},
    ]
    scoped = [
        {"name": "scope", "in": "path", "required": True, "schema": {"enum": ["group", "user"]}},
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    policy_ops = {
        "put": _op(
            "Set an API policy (a configuration file's policy is read-only: 409)",
            200,
            _ref("PolicyOut"),
            "Policy",
            admin,
        ),
        "delete": _op("Delete an API policy", 204, errors=admin),
    }
    paths: dict[str, Any] = {
        "/mux/api/me": {
            "get": _op(
                "Who the caller is to the Hub service: groups, policy, budgets left",
                200,
                _ref("MeOut"),
                errors=(503,),
            ),
        },
        "/mux/api/admin/policies": {
            "get": _op("Every policy (Hub admins)", 200, _list("PolicyOut"), errors=admin),
        },
        "/mux/api/admin/policies/default": dict(policy_ops),
        "/mux/api/admin/policies/{scope}s/{name}": {"parameters": scoped, **policy_ops},
        "/mux/api/admin/workspaces": {
            "get": _op("Shared workspaces (Hub admins)", 200, _list("WorkspaceOut"), errors=admin),
            "post": _op(
                "Share a new workspace with every user",
                201,
                _ref("WorkspaceOut"),
                "WorkspaceCreate",
                admin,
            ),
        },
        "/mux/api/admin/workspaces/{name}": {
            "parameters": [NAME],
            "get": _op("One shared workspace", 200, _ref("WorkspaceOut"), errors=admin),
            "patch": _op(
                "Change a shared workspace", 200, _ref("WorkspaceOut"), "WorkspaceUpdate", admin
            ),
            "delete": _op("Stop sharing a workspace", 204, errors=admin),
        },
        "/mux/api/admin/workspaces/{name}/rules": {
            "parameters": [NAME],
            "get": _op("A shared workspace's rules", 200, _list("RuleOut"), errors=admin),
            "put": _op("Replace its rules atomically", 200, _list("RuleOut"), errors=admin)
            | {"requestBody": {"required": True, **_json(_list("RuleIn"))}},
        },
        "/mux/api/admin/members": {
            "get": _op(
                "Every user the service has served: groups, policy, budgets (Hub admins)",
                200,
                _list("MemberOut"),
                errors=admin,
            ),
        },
        "/mux/api/admin/providers": {
            "get": _op(
                "The admin's providers: the configuration's and those shared here (Hub admins)",
                200,
                _list("ProviderOut"),
                errors=admin,
            ),
            "post": _op(
                "Add a provider and share it with every user (its key kept by the service)",
                201,
                _ref("ProviderOut"),
                "ProviderCreate",
                admin,
            ),
        },
        "/mux/api/admin/providers/{name}": {
            "parameters": [NAME],
            "get": _op("One of the admin's providers", 200, _ref("ProviderOut"), errors=admin),
            "patch": _op(
                "Change a provider shared here (the configuration's: 403)",
                200,
                _ref("ProviderOut"),
                "ProviderUpdate",
                admin,
            ),
            "delete": _op("Stop sharing and delete a provider shared here", 204, errors=admin),
        },
        "/mux/api/admin/providers/{name}/prices": {
            "parameters": [NAME],
            "put": _op(
                "Set or clear the price of a shared provider's model (Hub admins)",
                200,
                _list("ModelInfo"),
                "PriceIn",
                admin,
            ),
        },
        "/mux/api/admin/usage": {
            "get": _op(
                "Usage across users, grouped (Hub admins)",
                200,
                _ref("AdminUsageOut"),
                errors=admin,
            )
            | {"parameters": usage_parameters},
        },
    }
    for path in paths.values():
        path[HUB_ONLY] = True
    return paths


def build_spec() -> dict[str, Any]:
    schemas: dict[str, Any] = dict(OPENAI_SCHEMAS)
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    bad = (400, 404, 409, 503)
    paths: dict[str, Any] = {
        **_mux_paths("/mux", []),
        **_mux_paths("/mux/w/{workspace}", [WORKSPACE]),
        "/mux/api/openapi.json": {"get": _op("This document", 200, {"type": "object"})},
        "/mux/api/provider-types": {
            "get": _op("Provider types and their defaults", 200, _list("ProviderTypeOut"))
        },
        "/mux/api/providers": {
            "get": _op("List providers", 200, _list("ProviderOut"), errors=(503,)),
            "post": _op(
                "Add a provider and discover its models",
                201,
                _ref("ProviderOut"),
                "ProviderCreate",
                bad,
            ),
        },
        "/mux/api/provider-probe": {
            "post": _op(
                "Try a provider without saving it: discover its models with these settings; "
                "an unreachable provider answers ok: false and the reason",
                200,
                _ref("ProbeOut"),
                "ProviderCreate",
                (400, 503),
            ),
        },
        "/mux/api/providers/{name}": {
            "parameters": [NAME],
            "get": _op("One provider", 200, _ref("ProviderOut"), errors=(404, 503)),
            "patch": _op(
                "Change a provider; an absent or empty api_key keeps the stored one, unless "
                "the endpoint moves to another origin (scheme, host or port): then the "
                "stored key is dropped, never sent to the new endpoint",
                200,
                _ref("ProviderOut"),
                "ProviderUpdate",
                bad,
            ),
            "delete": _op("Delete a provider", 204, errors=(403, 404, 503)),
        },
        "/mux/api/providers/{name}/models": {
            "parameters": [NAME],
            "get": _op(
                "The provider's discovered models", 200, _list("ModelInfo"), errors=(404, 503)
            ),
        },
        "/mux/api/providers/{name}/refresh": {
            "parameters": [NAME],
            "post": _op(
                "Discover the provider's models again", 200, _ref("ProviderOut"), errors=(404, 503)
            ),
        },
        "/mux/api/providers/{name}/prices": {
            "parameters": [NAME],
            "put": _op(
                "Set or clear the price of one of the provider's models (USD per "
                "million tokens); used for the cost in /mux/api/usage",
                200,
                _list("ModelInfo"),
                "PriceIn",
                (400, 404, 503),
            ),
        },
        "/mux/api/workspaces": {
            "get": _op("List workspaces", 200, _list("WorkspaceOut"), errors=(503,)),
            "post": _op("Create a workspace", 201, _ref("WorkspaceOut"), "WorkspaceCreate", bad),
        },
        "/mux/api/workspaces/{name}": {
            "parameters": [NAME],
            "get": _op("One workspace", 200, _ref("WorkspaceOut"), errors=(404, 503)),
            "patch": _op(
                "Change a workspace; `preferred: null` clears its model",
                200,
                _ref("WorkspaceOut"),
                "WorkspaceUpdate",
                bad,
            ),
            "delete": _op("Delete a workspace (not the active one)", 204, errors=(404, 409, 503)),
        },
        "/mux/api/workspaces/{name}/rules": {
            "parameters": [NAME],
            "get": _op(
                "The workspace's rules, in priority order", 200, _list("RuleOut"), errors=(404, 503)
            ),
            "put": _op("Replace the rule list atomically", 200, _list("RuleOut"), errors=bad)
            | {"requestBody": {"required": True, **_json(_list("RuleIn"))}},
        },
        "/mux/api/workspaces/{name}/export": {
            "parameters": [NAME],
            "get": _op(
                "The workspace as portable JSON (providers by name and type, no keys)",
                200,
                _ref("WorkspaceExport"),
                errors=(404, 503),
            ),
        },
        "/mux/api/workspaces/import": {
            "post": _op(
                "Create a workspace from an export",
                201,
                _ref("WorkspaceOut"),
                "WorkspaceExport",
                bad,
            ),
        },
        "/mux/api/usage": {
            "get": _op(
                "Requests, tokens and cost, grouped", 200, _ref("UsageOut"), errors=(400, 503)
            )
            | {"parameters": USAGE_PARAMETERS},
        },
        "/mux/api/keys": {
            "get": _op("List mux keys (never their secrets)", 200, _list("KeyOut"), errors=(503,)),
            "post": _op(
                "Make a mux key; its secret is in this answer only",
                201,
                _ref("KeyCreated"),
                "KeyCreate",
                bad,
            ),
        },
        "/mux/api/keys/{key_id}": {
            "parameters": [KEY_ID],
            "delete": _op(
                "Revoke a mux key: it stops working on the next request",
                204,
                errors=(404, 503),
            ),
        },
        "/mux/api/active": {
            "get": _op("The active workspace", 200, _ref("ActiveOut"), errors=(503,)),
            "put": _op("Activate a workspace", 200, _ref("ActiveOut"), "ActiveIn", bad),
        },
    }
    paths.update(_hub_paths(bad))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jupyter-mux",
            "version": __version__,
            "description": "Model muxing for Jupyter. Every route needs Jupyter "
            "authentication: `Authorization: token <t>` or `Bearer <t>`.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"jupyterToken": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"jupyterToken": []}],
        "paths": paths,
    }


if __name__ == "__main__":
    print(json.dumps(build_spec(), indent=1, sort_keys=True))
