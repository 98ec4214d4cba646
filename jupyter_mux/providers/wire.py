"""One interface over the wire formats, so the proxy, the routing table and discovery never
branch on a provider type: each wire module supplies the same small set of functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..framing import NDJSONFramer, SSEFramer
from ..items import Item
from ..store import ModelRecord
from . import Translator, anthropic, ollama, openai_compat


@dataclass(frozen=True, slots=True)
class Wire:
    name: str
    api_base: Callable[[str], str]
    auth_headers: Callable[[str, str | None], dict[str, str]]
    discover: Callable[
        [httpx.AsyncClient, str, dict[str, str], httpx.Timeout], Awaitable[list[ModelRecord]]
    ]
    # Request kind -> path under api_base: "chat" and "fim" (what it is sent translated),
    # and each client dialect a provider type of this wire may serve natively.
    paths: dict[str, str]
    # (kind, OpenAI chat or completions body, model) -> the upstream's request body. Raises
    # ValueError, with a message for the user, for a request it cannot express.
    build_request: Callable[[str, dict[str, Any], str], bytes]
    # How its streams are framed, and the translator of a stream's events into items.
    framer: type[SSEFramer | NDJSONFramer]
    translator: Callable[[str, str], Translator]
    # (kind, a whole JSON answer, model) -> items.
    items_from_body: Callable[[str, dict[str, Any], str], list[Item]]
    # Embeddings: (OpenAI request, model) -> its request, and (request, its answer, model)
    # -> OpenAI's answer, for a wire that does not take OpenAI's embeddings as they are.
    build_embeddings: Callable[[dict[str, Any], str], bytes]
    embeddings_answer: Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]


OPENAI = Wire(
    name="openai",
    api_base=openai_compat.api_base,
    auth_headers=openai_compat.auth_headers,
    discover=openai_compat.discover,
    paths={
        "chat": "/chat/completions",
        "fim": "/completions",
        "responses": "/responses",
        "messages": "/messages",
        "embeddings": "/embeddings",
    },
    build_request=openai_compat.build_request,
    framer=SSEFramer,
    translator=openai_compat.StreamTranslator,
    items_from_body=openai_compat.items_from_body,
    build_embeddings=openai_compat.build_body,
    embeddings_answer=lambda _request, answer, _model: answer,
)

ANTHROPIC = Wire(
    name="anthropic",
    api_base=anthropic.api_base,
    auth_headers=lambda _type, api_key: anthropic.auth_headers(api_key),
    discover=anthropic.discover,
    paths={"chat": "/messages", "fim": "/messages", "messages": "/messages"},
    build_request=anthropic.build_request,
    framer=SSEFramer,
    translator=anthropic.StreamTranslator,
    items_from_body=anthropic.items_from_body,
    build_embeddings=anthropic.build_embeddings,
    embeddings_answer=lambda _request, answer, _model: answer,
)

OLLAMA = Wire(
    name="ollama",
    api_base=ollama.api_base,
    auth_headers=lambda _type, api_key: ollama.auth_headers(api_key),
    discover=ollama.discover,
    paths=ollama.PATHS,
    build_request=ollama.build_request,
    framer=NDJSONFramer,
    translator=ollama.StreamTranslator,
    items_from_body=ollama.items_from_body,
    build_embeddings=ollama.build_embeddings,
    embeddings_answer=ollama.embeddings_answer,
)

WIRES: dict[str, Wire] = {w.name: w for w in (OPENAI, ANTHROPIC, OLLAMA)}
