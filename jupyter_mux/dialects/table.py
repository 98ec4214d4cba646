"""Which encoder, passthrough translator and error shape each client dialect uses: the one
place the proxy and the handlers look a dialect up, so neither branches on one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MuxError
from ..items import Failure, Usage
from ..openai_request import MuxRequest
from ..providers import Translator, anthropic
from ..providers.openai_compat import usage_item
from ..upstream_errors import reported
from . import Encoder, Relay, chat, messages, responses


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    # (request, the model that serves it) -> the encoder of its answer.
    encoder: Callable[[MuxRequest, str], Encoder]
    # The translator of an answer that passes through (the upstream speaks the dialect).
    passthrough: Callable[[MuxRequest, str], Translator]
    # The usage in a whole answer that passes through, and the failure it reports instead
    # of an answer (a 200 whose body is an error).
    usage: Callable[[dict[str, Any]], Usage | None]
    failure: Callable[[dict[str, Any]], Failure | None]
    error_body: Callable[[MuxError], dict[str, Any]]


def _openai_failure(body: dict[str, Any]) -> Failure | None:
    return reported(body) if "error" in body and not body.get("choices") else None


def _chat_usage(body: dict[str, Any]) -> Usage | None:
    usage = body.get("usage")
    return usage_item(usage) if isinstance(usage, dict) else None


def _openai(kind: str) -> Dialect:
    return Dialect(
        kind,
        lambda r, model: chat.ChatEncoder(kind, model, include_usage=r.include_usage),
        lambda r, _model: chat.ChatPassthrough(keep_usage_chunk=r.include_usage),
        _chat_usage,
        _openai_failure,
        chat.error_body,
    )


DIALECTS: dict[str, Dialect] = {
    "chat": _openai("chat"),
    "fim": _openai("fim"),
    # Embeddings are never streamed: only their usage and error shape are the dialect's.
    "embeddings": _openai("embeddings"),
    "messages": Dialect(
        "messages",
        lambda r, model: messages.MessagesEncoder(r.body, model),
        lambda _r, model: Relay(anthropic.StreamTranslator("messages", model)),
        lambda body: anthropic.usage(body.get("usage")),
        lambda body: anthropic.failure(body.get("error")) if body.get("type") == "error" else None,
        messages.error_body,
    ),
    "responses": Dialect(
        "responses",
        lambda r, model: responses.ResponsesEncoder(r.body, model),
        lambda _r, _model: responses.ResponsesPassthrough(),
        responses.usage_from_body,
        lambda body: (
            reported({"error": body.get("error") or {}})
            if body.get("status") == "failed" or (body.get("error") and "output" not in body)
            else None
        ),
        responses.error_body,
    ),
}
