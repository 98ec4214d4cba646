"""What an upstream's failure means, in words the user can act on, with the provider's
own message kept and every credential the mux sent scrubbed out of it.

The management side (discovery) and the hot path (the proxy) word failures alike, so both
take them from here; neither imports the other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import httpx

from .errors import UpstreamError
from .items import Failure

if TYPE_CHECKING:
    from .routing import Upstream

MAX_ERROR_BODY = 64 * 1024


class ErrorAnswer(Protocol):
    """An upstream's failing answer: an `httpx.Response` (discovery) or the hot path's
    `proxy.Answer`."""

    status_code: int
    reason_phrase: str

    def aiter_bytes(self) -> AsyncIterator[bytes]: ...


REDACTED = "[redacted]"
# A secret shorter than this cannot be told from ordinary text; no real key is this short.
MIN_SECRET = 6


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced: an upstream that echoes the key it was sent (in an
    error message, a URL it quotes) must not hand it on to the client, the log or the store."""
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def excerpt(body: bytes, limit: int = 200) -> str:
    text = body[:limit].decode("utf-8", "replace")
    return repr(text + "…" if len(body) > limit else text)


def malformed(upstream: Upstream, exc: Exception) -> UpstreamError:
    reason = scrub(str(exc), upstream.secrets)
    return UpstreamError(
        f"Provider '{upstream.name}' sent an answer the mux could not read: {reason}.",
        status=502,
        code="upstream_malformed",
    )


def upstream_failure(upstream: Upstream, exc: BaseException) -> UpstreamError:
    """Name the provider and the real cause: refused, timed out, or cut off."""
    cause = exc.__cause__ or exc
    where = f"provider '{upstream.name}' at {upstream.endpoint}"
    if isinstance(cause, (asyncio.TimeoutError, TimeoutError)) or (
        cause is exc and isinstance(exc, httpx.TimeoutException)
    ):
        return UpstreamError(f"Timed out waiting for {where}.", status=504, code="upstream_timeout")
    if isinstance(cause, aiohttp.ClientConnectorError) or isinstance(exc, httpx.ConnectError):
        os_error = getattr(cause, "os_error", None)
        why = (
            "connection refused"
            if isinstance(os_error, ConnectionRefusedError)
            else scrub(str(cause), upstream.secrets)
        )
        return UpstreamError(
            f"Could not connect to {where} ({why}); is it running?",
            status=502,
            code="upstream_unreachable",
        )
    reason = scrub(str(cause), upstream.secrets) or type(cause).__name__
    return UpstreamError(
        f"The connection to {where} failed: {reason}.",
        status=502,
        code="upstream_failed",
    )


async def error_from_response(upstream: Upstream, response: ErrorAnswer) -> UpstreamError:
    """Keep an upstream 4xx's status (401 bad key, 429 rate limit) and the provider's own
    message; any 5xx becomes 502, since the mux, not the client, met a broken server."""
    try:
        raw = b""
        async for chunk in response.aiter_bytes():
            raw += chunk
            if len(raw) > MAX_ERROR_BODY:
                break
    except httpx.HTTPError:
        pass
    message = provider_message(raw) or response.reason_phrase or "no message"
    message = scrub(message, upstream.secrets)
    status = response.status_code if response.status_code < 500 else 502
    return UpstreamError(
        f"Provider '{upstream.name}' answered {response.status_code}: {message}",
        status=status,
        code=f"upstream_{response.status_code}",
    )


def provider_message(raw: bytes) -> str:
    """Pull the human message out of the error shapes providers use."""
    text = raw.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:500]
    return message_of(data) or text[:500]


def message_of(data: Any) -> str | None:
    """The message of a parsed error body or event: OpenAI's `{"error": {"message"}}`,
    Anthropic's `{"type": "error", "error": {...}}`, Ollama's `{"error": "..."}`, FastAPI's
    `{"detail"}`."""
    if not isinstance(data, dict):
        return None
    error = data.get("error", data)
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        for key in ("message", "detail", "error"):
            if isinstance(error.get(key), str):
                return error[key]
    for key in ("message", "detail"):
        if isinstance(data.get(key), str):
            return data[key]
    return None


def reported(data: dict[str, Any], status: int = 502) -> Failure:
    """A failure the upstream reported inside a 200 answer (an error event, an error line):
    its own message; a 4xx it names is kept (a bad request stays the client's to fix)."""
    error = data.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and 400 <= code < 500:
        status = code
    return Failure(f"reported an error: {message_of(data) or 'no message'}", status)
