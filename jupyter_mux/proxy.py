"""Upstream calls: one pooled client, streaming relay, and upstream failures in OpenAI's shape.

Before the first byte reaches the client every failure is raised as a `MuxError` (so the
client sees a real status); after it, the failure can only be told in-band, as a last SSE
`data: {"error": ...}` event.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from .errors import InvalidRequest, MuxError, UpstreamError
from .openai_request import MuxRequest
from .routing import Rule, Target, Upstream
from .sse import ProviderErrorEvent
from .upstream_errors import (
    error_from_response,
    excerpt,
    malformed,
    provider_message,
    upstream_failure,
)
from .usage import UsageEvent, UsageRecorder, UsageTap

KEEPALIVE_EXPIRY = 3.0


class Sink(Protocol):
    """Where the relay writes the answer: the mux handler's response."""

    def begin(self, status: int, content_type: str, target: Target, attempts: int) -> None:
        """Called once, just before the first byte: which target answers, after how many
        tries."""

    async def send(self, chunk: bytes) -> None: ...


class Upstreams:
    """The one pool of upstream connections, with httpx's API on aiohttp's transport
    (several times the throughput of httpx's own transport here).

    Discovery and other cold paths use `client`. The mux's hot path hands requests straight
    to `transport`: it skips the client's cookie jar (an upstream's cookies must never
    reach another request), redirect and auth hooks, which it has no use for.
    """

    def __init__(self, connect_timeout: float, read_timeout: float, max_connections: int):
        # Idle connections are dropped before the usual 5 s server keep-alive (uvicorn,
        # llama.cpp) would close them under us; a race that still happens is resent below.
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
        self.transport = AiohttpTransport(limits=limits)
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout)
        self.client = httpx.AsyncClient(
            transport=self.transport,
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self._request_extensions = {"timeout": self.timeout.as_dict()}

    def request(self, url: httpx.URL, headers: dict[str, str], content: bytes) -> httpx.Request:
        return httpx.Request(
            "POST",
            url,
            headers=headers,
            content=content,
            extensions=self._request_extensions,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class Proxy:
    def __init__(
        self,
        upstreams: Upstreams,
        *,
        max_attempts: int = 3,
        fallback_budget: float = 60.0,
        log: logging.Logger | None = None,
        recorder: UsageRecorder | None = None,
    ) -> None:
        self.upstreams = upstreams
        self.recorder = recorder
        self.max_attempts = max_attempts
        self.fallback_budget = fallback_budget
        self.log = log or logging.getLogger(__name__)

    async def relay(
        self, rule: Rule, request: MuxRequest, *, sink: Sink, workspace: str = ""
    ) -> None:
        """Serve the request from the rule's targets in order: a target that fails before
        anything reached the client (unreachable, timeout, 5xx, 429) hands over to the next,
        within `max_attempts` tries and `fallback_budget` seconds; after the first byte the
        answer is the target's, failures included."""
        usage = UsageEvent(workspace, rule_label(rule), request.stream)
        targets = [t for t in rule.targets if t.upstream is not None][: self.max_attempts]
        deadline = time.monotonic() + self.fallback_budget
        failures: list[str] = []
        try:
            for attempt, target in enumerate(targets, 1):
                usage.provider, usage.model = target.provider, target.model
                try:
                    await self._attempt(target, request, sink, attempt, usage)
                    return
                except UpstreamError as exc:
                    last = attempt == len(targets) or time.monotonic() >= deadline
                    if not exc.retryable or last:
                        if failures:
                            exc.message = f"{exc.message} (after: {'; '.join(failures)})"
                            exc.args = (exc.message,)
                        raise
                    failures.append(f"{target.provider}/{target.model}: {exc.message}")
                    self.log.warning(
                        "jupyter-mux: %s/%s failed (%s); trying the next target",
                        target.provider,
                        target.model,
                        exc.message,
                    )
        except MuxError as exc:
            usage.status = exc.status
            raise
        finally:
            if self.recorder is not None:
                self.recorder.record(usage)

    async def _attempt(
        self, target: Target, request: MuxRequest, sink: Sink, attempt: int, usage: UsageEvent
    ) -> None:
        upstream = target.upstream
        assert upstream is not None
        wire = upstream.wire
        body = request.body
        if request.stream and not request.include_usage and wire.stream_translator is None:
            # Usage is recorded for every stream; the extra chunk is dropped again (UsageTap).
            options = body.get("stream_options")
            body = {**body, "stream_options": {**(options or {}), "include_usage": True}}
        try:
            content = wire.build_request(request.kind, body, target.model)
        except ValueError as exc:
            raise InvalidRequest(f"{exc} (provider '{upstream.name}', {upstream.type})") from None
        outgoing = self.upstreams.request(upstream.urls[request.kind], upstream.headers, content)
        for resend in range(STALE_RESENDS + 1):
            try:
                response = await self.upstreams.transport.handle_async_request(outgoing)
                break
            except httpx.HTTPError as exc:
                if resend == STALE_RESENDS or not stale_connection(exc):
                    raise upstream_failure(upstream, exc) from None
        try:
            if response.status_code >= 400:
                raise await error_from_response(upstream, response)
            usage.status = response.status_code
            exchange = Exchange(target, upstream, request, response, sink, attempt, usage)
            await (relay_stream(exchange) if request.stream else relay_body(exchange))
        finally:
            await response.aclose()


@dataclass(slots=True)
class Exchange:
    """One attempt's request and answer, on its way to the client."""

    target: Target
    upstream: Upstream
    request: MuxRequest
    response: httpx.Response
    sink: Sink
    attempt: int
    usage: UsageEvent

    def begin(self, content_type: str) -> None:
        self.usage.first_byte = time.monotonic()
        self.sink.begin(self.response.status_code, content_type, self.target, self.attempt)


async def relay_body(x: Exchange) -> None:
    """The answer is read whole and parsed before it goes on: an upstream that answers 200
    with something other than a JSON object (an HTML page from a proxy in between, a cut
    body) gets a 502 that says so, not a 200 the client's SDK cannot read."""
    try:
        body = await x.response.aread()
    except httpx.HTTPError as exc:
        raise upstream_failure(x.upstream, exc) from None
    content_type = x.response.headers.get("content-type", "application/json")
    translate = x.upstream.wire.translate_response
    try:
        try:
            answer = json.loads(body)
        except ValueError:
            raise ValueError(f"a {content_type} body that is not JSON ({excerpt(body)})") from None
        if not isinstance(answer, dict):
            raise ValueError(f"a JSON body that is not an object ({excerpt(body)})")
        if translate is not None:
            answer = translate(x.request.kind, answer, x.target.model)
            body = json.dumps(answer).encode()
            content_type = "application/json"
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise malformed(x.upstream, exc) from None
    usage = answer.get("usage")
    x.usage.usage = usage if isinstance(usage, dict) else None
    x.begin(content_type)
    await x.sink.send(body)


async def relay_stream(x: Exchange) -> None:
    """Chunks go on as they come; a translated stream is re-framed as OpenAI SSE. Either
    way the usage tap reads the usage chunk (and drops it if the client did not ask), and
    checks every event: the first malformed one, and anything after it, is not relayed.

    The answer begins (status and headers) with its first event, not with the upstream's
    headers: a failure before then is raised, so the client gets a real status and the
    rule's next target a chance; after it, the failure ends the stream as an error event.
    """
    make = x.upstream.wire.stream_translator
    translator = make(x.request.kind, x.target.model, include_usage=True) if make else None
    tap = UsageTap(x.usage, keep_usage_chunk=x.request.include_usage)
    begun = False
    out = b""
    failure: UpstreamError | None = None
    try:
        async for chunk in x.response.aiter_raw():
            out = tap.feed(translator.feed(chunk) if translator else chunk)
            if tap.error is not None:
                break  # the upstream is closed unread (see _attempt)
            if out:
                if not begun:
                    x.begin(stream_content_type(x, translator is not None))
                    begun = True
                await x.sink.send(out)
        else:
            out = tap.feed(translator.close()) if translator else b""
            out += tap.close()
        if isinstance(tap.error, ProviderErrorEvent):
            failure = UpstreamError(
                f"Provider '{x.upstream.name}' reported an error: "
                f"{provider_message(tap.error.raw) or 'no message'}"
            )
        elif tap.error is not None:
            failure = malformed(x.upstream, tap.error)
        elif not translator and not tap.done:  # translators report their own truncation
            failure = UpstreamError(
                f"Provider '{x.upstream.name}' ended the stream before its end marker "
                "(data: [DONE]); the answer may be incomplete.",
                code="upstream_truncated",
            )
    except httpx.HTTPError as exc:
        # An event cut short is dropped: glued to the error event, it would spoil both.
        out, failure = b"", upstream_failure(x.upstream, exc)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        out, failure = b"", malformed(x.upstream, exc)
    if not begun:
        if failure is not None and not out:
            if failure.code == "upstream_malformed":
                failure = not_sse(x, failure)
            raise failure
        x.begin(stream_content_type(x, translator is not None))
    if failure is not None:
        out += sse_error(failure)
    if out:
        await x.sink.send(out)


def stream_content_type(x: Exchange, translated: bool) -> str:
    """The upstream's own type (with its parameters) when it says SSE; the mux has checked
    that what it relays is SSE, so any other type would be wrong."""
    content_type = x.response.headers.get("content-type", "")
    if not translated and content_type.startswith("text/event-stream"):
        return content_type
    return "text/event-stream"


def not_sse(x: Exchange, failure: UpstreamError) -> UpstreamError:
    """A malformed first event: say what the upstream said it was sending, which is usually
    the real story (an HTML error page, a JSON body that ignored `stream`)."""
    content_type = x.response.headers.get("content-type", "no content-type")
    if x.upstream.wire.stream_translator is None and not content_type.startswith(
        "text/event-stream"
    ):
        failure.message = f"{failure.message} (it answered {content_type}, not an SSE stream)"
        failure.args = (failure.message,)
    return failure


def rule_label(rule: Rule) -> str:
    return rule.kind if rule.pattern is None else f"{rule.kind}:{rule.pattern}"


# A pooled keep-alive connection that the upstream closed meanwhile fails as soon as it is
# used, before any answer: sending again on a fresh connection is what a client would do.
# (Should the upstream have died mid-request instead, the request is generated twice at
# worst; completions have no other side effect.) Refused connections are not retried here.
STALE_RESENDS = 3


def stale_connection(exc: httpx.HTTPError) -> bool:
    cause = exc.__cause__
    return isinstance(
        cause, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
    ) and not isinstance(cause, aiohttp.ClientConnectorError)


def sse_error(error: MuxError) -> bytes:
    return b"data: " + json.dumps(error.openai_body()).encode() + b"\n\n"
