"""One interface over the wire formats, so the proxy, the routing table and discovery never
branch on a provider type: each wire module supplies the same small set of functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ..store import ModelRecord
from . import anthropic, ollama, openai_compat


class StreamTranslator(Protocol):
    """Turns a provider's streamed bytes, cut anywhere, into OpenAI SSE bytes."""

    def feed(self, data: bytes) -> bytes: ...

    def close(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Wire:
    name: str
    api_base: Callable[[str], str]
    auth_headers: Callable[[str, str | None], dict[str, str]]
    discover: Callable[
        [httpx.AsyncClient, str, dict[str, str], httpx.Timeout], Awaitable[list[ModelRecord]]
    ]
    # Request kind ("chat" or "fim") -> path under api_base.
    paths: dict[str, str]
    # Raises ValueError, with a message for the user, for a request it cannot express.
    build_request: Callable[[str, dict[str, Any], str], bytes]
    # None: the provider already answers in OpenAI's format, pass bytes through.
    translate_response: Callable[[str, dict[str, Any], str], dict[str, Any]] | None = None
    stream_translator: Callable[..., StreamTranslator] | None = None


OPENAI = Wire(
    name="openai",
    api_base=openai_compat.api_base,
    auth_headers=openai_compat.auth_headers,
    discover=openai_compat.discover,
    paths={"chat": "/chat/completions", "fim": "/completions"},
    build_request=lambda _kind, body, model: openai_compat.build_body(body, model),
)

ANTHROPIC = Wire(
    name="anthropic",
    api_base=anthropic.api_base,
    auth_headers=lambda _type, api_key: anthropic.auth_headers(api_key),
    discover=anthropic.discover,
    paths={"chat": "/messages", "fim": "/messages"},
    build_request=anthropic.build_request,
    translate_response=anthropic.translate_response,
    stream_translator=anthropic.StreamTranslator,
)

OLLAMA = Wire(
    name="ollama",
    api_base=ollama.api_base,
    auth_headers=lambda _type, api_key: ollama.auth_headers(api_key),
    discover=ollama.discover,
    paths=ollama.PATHS,
    build_request=ollama.build_request,
    translate_response=ollama.translate_response,
    stream_translator=ollama.StreamTranslator,
)

WIRES: dict[str, Wire] = {w.name: w for w in (OPENAI, ANTHROPIC, OLLAMA)}
