"""A client's request in any dialect -> a `MuxRequest`: checked (400 naming the field before
any upstream is touched) and, for dialects that are not OpenAI chat, also expressed as the
chat body that translating upstreams take."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidRequest
from ..openai_request import MuxRequest, json_object
from ..response_store import ResponseStore
from ..routing import WorkspaceRoute
from . import messages, responses

# The client headers an upstream speaking Anthropic's API should see: the API version the
# client was written for, and the beta features it asked for.
ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")


def decode(
    dialect: str, raw: bytes, headers: Mapping[str, str], stored: ResponseStore
) -> MuxRequest:
    body = json_object(raw)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false.", param="stream")
    if dialect == "messages":
        forwarded = {h: headers[h] for h in ANTHROPIC_HEADERS if h in headers}
        return MuxRequest(dialect, body, stream, messages.to_chat(body), forwarded or None)
    if dialect == "responses":
        previous = body.get("previous_response_id")
        history = stored.history(previous) if isinstance(previous, str) and previous else None
        chat = responses.to_chat(body, history)
        return MuxRequest(
            dialect, body, stream, chat, upstream_body=responses.passthrough_body(body, history)
        )
    if dialect == "embeddings":
        _check_input(body.get("input"))
        if stream:
            raise InvalidRequest("Embeddings are not streamed.", param="stream")
        return MuxRequest(dialect, body, False)
    raise ValueError(f"unknown dialect {dialect!r}")


def _check_input(given: Any) -> None:
    """OpenAI's embeddings input: a string, strings, token ids, or lists of token ids."""
    if isinstance(given, str) and given:
        return
    if isinstance(given, list) and given:
        if all(isinstance(x, str) for x in given):
            return
        if all(isinstance(x, int) and not isinstance(x, bool) for x in given):
            return
        if all(isinstance(x, list) and x and all(isinstance(t, int) for t in x) for x in given):
            return
    raise InvalidRequest(
        "'input' must be a non-empty string, an array of strings, an array of token ids, "
        "or an array of arrays of token ids.",
        param="input",
        code="missing_field" if given is None else "invalid_value",
    )


def models_answer(route: WorkspaceRoute, model: str | None, *, anthropic: bool) -> dict[str, Any]:
    """`GET /models` (a list) or `/models/{id}` (one model) in OpenAI's shape, or in
    Anthropic's when the client is one. A workspace serves whatever model a client names,
    so any id is found: owned by the provider that would serve a chat request."""
    targets = route.models()
    entries = [(t.model, t.provider) for t in targets]
    if model is None:
        if anthropic:
            return messages.models_page(entries)
        return {"object": "list", "data": [_openai_model(m, p) for m, p in entries]}
    provider = dict(entries).get(model) or (entries[0][1] if entries else "jupyter-mux")
    if anthropic:
        return messages.model_object(model, provider)
    return _openai_model(model, provider)


def _openai_model(model: str, provider: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": provider}
