"""Which encoder, passthrough translator and error shape each client dialect uses: the one
place the proxy and the handlers look a dialect up, so neither branches on one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import MuxError
from ..items import Usage
from ..openai_request import MuxRequest
from ..providers import Translator, anthropic
from ..providers.openai_compat import usage_item
from . import Encoder, Relay, chat, messages, responses


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    # (request, the model that serves it) -> the encoder of its answer.
    encoder: Callable[[MuxRequest, str], Encoder]
    # The translator of an answer that passes through (the upstream speaks the dialect).
    passthrough: Callable[[MuxRequest, str], Translator]
    # The usage in a whole answer that passes through.
    usage: Callable[[dict[str, Any]], Usage | None]
    error_body: Callable[[MuxError], dict[str, Any]]


def _chat_usage(body: dict[str, Any]) -> Usage | None:
    usage = body.get("usage")
    return usage_item(usage) if isinstance(usage, dict) else None


def _openai(kind: str) -> Dialect:
    return Dialect(
        kind,
        lambda r, model: chat.ChatEncoder(kind, model, include_usage=r.include_usage),
        lambda r, _model: chat.ChatPassthrough(keep_usage_chunk=r.include_usage),
        _chat_usage,
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
        messages.error_body,
    ),
    "responses": Dialect(
        "responses",
        lambda r, model: responses.ResponsesEncoder(r.body, model),
        lambda _r, _model: responses.ResponsesPassthrough(),
        responses.usage_from_body,
        responses.error_body,
    ),
}
