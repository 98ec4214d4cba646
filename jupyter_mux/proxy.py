"""Upstream calls: one pooled client, the relay, and the policy over an answer's failures.

An answer flows framer -> translator -> encoder (docs/architecture.md); the policy is here
alone. Before the first byte reaches the client every failure is raised as a `MuxError`
(a real status, and the rule's next target tried); after it, the failure can only be told
in-band, as one last error event in the client's dialect. Usage items are recorded as they
pass.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions
from yarl import URL

from .dialects import Encoder, Passthrough, messages
from .dialects.table import DIALECTS, Dialect
from .errors import InvalidRequest, MuxError, NoUsableModel, UpstreamError
from .framing import SSEFramer
from .items import Failure, Item, Usage
from .openai_request import MuxRequest
from .providers import Translator
from .providers.openai_compat import build_body
from .providers.wire import ANTHROPIC
from .routing import Rule, Target, Upstream
from .upstream_errors import error_from_response, excerpt, malformed, scrub, upstream_failure
from .usage import UsageEvent, UsageRecorder

KEEPALIVE_EXPIRY = 3.0


class Sink(Protocol):
    """Where the relay writes the answer: the mux handler's response."""

    def begin(self, status: int, content_type: str, target: Target, attempts: int) -> None:
        """Called once, just before the first byte: which target answers, after how many
        tries."""

    async def send(self, chunk: bytes) -> None: ...


class _Body:
    """An upstream answer's body, from aiohttp's payload: each step hands over whatever has
    arrived (all of it, however many upstream chunks that is), with no async generators in
    between (httpx-aiohttp's stream reads the same payload through two of them, plus
    httpx's own on top: several frames per streamed chunk). Errors are httpx's, as
    httpx-aiohttp maps them, so one `except httpx.HTTPError` covers both clients.

    The read timeout of the body is kept here too, lazily: aiohttp's own (the connection's
    `read_timeout`, turned off for the body) cancels and schedules a loop timer for every
    chunk that arrives, about a tenth of the mux's work per streamed chunk. This one notes
    when each read starts waiting and has one timer, which looks when it fires: a read that
    has waited `timeout` seconds fails as aiohttp's would (`httpx.ReadTimeout`); otherwise
    the timer is set again for the time left. Time spent writing to a slow client is not
    waiting on the upstream, so it never times a stream out."""

    __slots__ = ("_content", "_loop", "_response", "_since", "_timeout", "_timer")

    def __init__(self, response: aiohttp.ClientResponse, timeout: float | None) -> None:
        self._response = response
        self._content = response.content
        self._timeout = timeout
        self._since: float | None = None  # when the read now waiting began; None: none is
        self._timer: asyncio.TimerHandle | None = None
        if timeout:
            self._loop = asyncio.get_running_loop()
            self._timer = self._loop.call_later(timeout, self._check)

    def _check(self) -> None:
        since, now = self._since, self._loop.time()
        if since is not None and now >= since + self._timeout:
            self._timer = None
            self._content.set_exception(
                aiohttp.SocketTimeoutError("Timeout on reading data from socket")
            )
            return
        due = now + self._timeout if since is None else since + self._timeout
        self._timer = self._loop.call_at(due, self._check)

    def __aiter__(self) -> _Body:
        return self

    async def __anext__(self) -> bytes:
        if self._timer is not None:
            self._since = self._loop.time()
        try:
            data = await self._content.readany()
        except Exception:
            self._stop()
            with map_aiohttp_exceptions():
                raise
        finally:
            self._since = None
        if not data:
            self._stop()
            raise StopAsyncIteration
        return data

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def aclose(self) -> None:
        self._stop()
        with map_aiohttp_exceptions():
            await self._response.__aexit__(None, None, None)


class Answer:
    """An upstream's answer on the mux's hot path: its head, and its body still to read.

    The relay and the forwarder send on aiohttp directly rather than through an
    `httpx.Request` and `httpx.Response` (httpx-aiohttp's transport builds both around
    aiohttp's own request and answer), which was about a tenth of the mux's work per whole
    answer in a profile (bench/README.md). This keeps the little of `httpx.Response`'s API
    that the relay and the error paths read."""

    __slots__ = ("headers", "reason_phrase", "status_code", "stream")

    def __init__(self, response: aiohttp.ClientResponse, read_timeout: float | None) -> None:
        self.status_code = response.status
        self.headers = response.headers  # case-insensitive, as httpx's are
        self.reason_phrase = response.reason or httpx.codes.get_reason_phrase(response.status)
        self.stream = _Body(response, read_timeout)

    async def aread(self) -> bytes:
        return b"".join([chunk async for chunk in self.stream])

    def aiter_bytes(self) -> _Body:
        return self.stream

    async def aclose(self) -> None:
        await self.stream.aclose()


def no_cookies() -> CookieJar:
    """A jar that keeps nothing: one client serves every user, and an upstream's cookie
    must never go back with anybody's next request."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


class Upstreams:
    """The one pool of upstream connections (aiohttp's, several times the throughput of
    httpx's own transport here).

    Discovery and other cold paths use `client`, httpx's API on that pool. The mux's hot
    path (the relay, the remote-mode forwarder) uses `send`: aiohttp straight, without the
    client's cookie jar (an upstream's cookies must never reach another request), redirect
    and auth hooks, which it has no use for.
    """

    def __init__(
        self,
        connect_timeout: float,
        read_timeout: float,
        max_connections: int,
        max_per_provider: int,
    ):
        self._max_connections = max_connections
        self._max_per_provider = max_per_provider
        self._session: aiohttp.ClientSession | None = None
        self.transport = AiohttpTransport(client=self.session)
        # A request queued for a connection waits as long as its client does (a hang-up
        # cancels it); only connecting and reading are timed.
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=None)
        self._read_timeout = read_timeout
        self._send_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self.client = httpx.AsyncClient(
            transport=self.transport,
            timeout=self.timeout,
            follow_redirects=False,
            trust_env=False,
            cookies=no_cookies(),
        )

    def session(self) -> aiohttp.ClientSession:
        """The pool, made on first use (on the running loop), shared by `client` and
        `send`."""
        if self._session is None:
            # The limit is per provider (aiohttp's per host, port and scheme), so a busy
            # provider queues its own requests without starving the others; 0 is no limit.
            # Idle connections are dropped before the usual 5 s server keep-alive (uvicorn,
            # llama.cpp) would close them under us.
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_per_provider,
                keepalive_timeout=KEEPALIVE_EXPIRY,
            )
            # No cookie jar: an upstream's Set-Cookie must never ride along on another
            # request (another user's, under the Hub service).
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def send(
        self, method: str, url: str | URL, headers: Mapping[str, str], body: bytes | None
    ) -> Answer:
        """The answer's head, its body to be read (and the answer closed) by the caller.

        A pooled keep-alive connection that the upstream closed meanwhile fails as soon as
        it is used; the request is sent again on a fresh one where it provably never
        reached the upstream whole (see `unsent`). Failures are httpx's exceptions."""
        session = self.session()
        for resend in range(UNSENT_RESENDS + 1):
            try:
                with map_aiohttp_exceptions():
                    response = await session.request(
                        method,
                        url,
                        headers=headers,
                        data=body or None,
                        allow_redirects=False,
                        timeout=self._send_timeout,
                    )
                break
            except httpx.HTTPError as exc:
                if resend == UNSENT_RESENDS or not unsent(exc):
                    raise
            except aiohttp.ClientResponseError as exc:
                # A head aiohttp cannot read (or a body encoding it cannot decode): a broken
                # answer, like any other failure of the upstream's.
                raise httpx.RemoteProtocolError(str(exc)) from exc
        # The body's read timeout is `_Body`'s from here (aiohttp sets it per request, so
        # the connection's next request has its own again).
        protocol = response.connection.protocol if response.connection else None
        if protocol is not None:
            protocol.read_timeout = None
        return Answer(response, self._read_timeout if protocol is not None else None)

    async def aclose(self) -> None:
        await self.client.aclose()  # closes the pool where the client made it
        if self._session is not None and not self._session.closed:
            await self._session.close()


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
        self,
        rule: Rule,
        request: MuxRequest,
        *,
        sink: Sink,
        workspace: str = "",
        key: str = "",
        hold: str = "",
    ) -> Exchange:
        """Serve the request from the rule's targets in order: a target that fails before
        anything reached the client (unreachable, timeout, 5xx, 429) hands over to the next,
        within `max_attempts` tries and `fallback_budget` seconds; after the first byte the
        answer is the target's, failures included. Answers the exchange that served."""
        usage = UsageEvent(workspace, rule_label(rule), request.stream, key, hold)
        targets = [t for t in rule.targets if t.upstream is not None][: self.max_attempts]
        deadline = time.monotonic() + self.fallback_budget
        failures: list[str] = []
        try:
            for attempt, target in enumerate(targets, 1):
                usage.provider, usage.model = target.provider, target.model
                try:
                    return await self._attempt(target, request, sink, attempt, usage)
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
            raise NoUsableModel(f"Workspace '{workspace}' has no provider for this request.")
        except MuxError as exc:
            usage.status = exc.status
            raise
        finally:
            if self.recorder is not None:
                self.recorder.record(usage)

    def refused(self, workspace: str, status: int, key: str = "") -> None:
        """Record a request refused before it could be routed (its usage row is an error)."""
        if self.recorder is not None:
            usage = UsageEvent(workspace, "", False, key)
            usage.status = status
            self.recorder.record(usage)

    async def count_tokens(self, rule: Rule, request: MuxRequest) -> dict[str, Any]:
        """Anthropic's `count_tokens` for a Messages request: the serving provider's own
        count where it is Anthropic, else the mux's estimate (`messages.count_tokens`)."""
        target = next((t for t in rule.targets if t.upstream is not None), None)
        if target is None or target.upstream is None or target.upstream.wire is not ANTHROPIC:
            return {"input_tokens": messages.count_tokens(request.body)}
        upstream = target.upstream
        body = {k: v for k, v in request.body.items() if k not in ("stream", "max_tokens")}
        headers = {**upstream.headers, **(request.headers or {})}
        try:
            response = await self.upstreams.client.post(
                upstream.base_url + "/messages/count_tokens",
                content=build_body(body, target.model),
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise upstream_failure(upstream, exc) from None
        if response.status_code >= 400:
            raise await error_from_response(upstream, response)
        try:
            answer = response.json()
            return {"input_tokens": int(answer["input_tokens"])}
        except (ValueError, KeyError, TypeError) as exc:
            raise malformed(upstream, exc) from None

    async def _attempt(
        self, target: Target, request: MuxRequest, sink: Sink, attempt: int, usage: UsageEvent
    ) -> Exchange:
        upstream = target.upstream
        assert upstream is not None
        passthrough = request.kind in upstream.native
        # What the upstream is sent: the client's own request where it speaks the dialect,
        # else the request as OpenAI chat (or legacy completions) in its wire format.
        kind = request.kind if passthrough or request.kind in ("fim", "embeddings") else "chat"
        try:
            if passthrough and kind not in ("chat", "fim"):
                content = build_body(request.upstream_body or request.body, target.model)
            elif kind == "embeddings":
                content = upstream.wire.build_embeddings(request.body, target.model)
            else:
                content = upstream.wire.build_request(kind, request.chat_body, target.model)
        except ValueError as exc:
            raise InvalidRequest(f"{exc} (provider '{upstream.name}', {upstream.type})") from None
        headers = upstream.headers
        if request.headers and (passthrough or upstream.wire is ANTHROPIC):
            headers = {**headers, **request.headers}
        try:
            response = await self.upstreams.send("POST", upstream.urls[kind], headers, content)
        except httpx.HTTPError as exc:
            raise upstream_failure(upstream, exc) from None
        try:
            if response.status_code >= 400:
                raise await error_from_response(upstream, response)
            usage.status = response.status_code
            exchange = Exchange(
                target, upstream, request, response, sink, attempt, usage, passthrough, kind
            )
            await (relay_stream(exchange) if request.stream else relay_body(exchange))
            return exchange
        finally:
            await response.aclose()


@dataclass(slots=True)
class Exchange:
    """One attempt's request and answer, on its way to the client: the upstream's answer is
    read by its wire's framer and translator, and written by the client dialect's encoder
    (or, where the upstream speaks the client's dialect, relayed as it came)."""

    target: Target
    upstream: Upstream
    request: MuxRequest
    response: Answer
    sink: Sink
    attempt: int
    usage: UsageEvent
    passthrough: bool
    kind: str  # what the upstream was sent (see Proxy._attempt)
    dialect: Dialect = field(init=False)
    encoder: Encoder = field(init=False)
    # What the answer was read with: the stream's translator, or the whole JSON answer.
    reader: Translator | None = None
    answer: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.dialect = DIALECTS.get(self.request.kind, DIALECTS["chat"])
        encoder = self.dialect.encoder(self.request, self.target.model)
        if self.passthrough:
            # The mux has checked that what it relays is SSE: the upstream's own type (with
            # its parameters) when it says so, else the one it should have said.
            content_type = self.response.headers.get("content-type", "")
            if not content_type.startswith(encoder.content_type):
                content_type = encoder.content_type
            self.encoder = Passthrough(encoder, content_type)
        else:
            self.encoder = encoder

    def translator(self) -> Translator:
        if self.passthrough:
            return self.dialect.passthrough(self.request, self.target.model)
        return self.upstream.wire.translator(self.kind, self.target.model)

    def begin(self, content_type: str) -> None:
        self.usage.first_byte = time.monotonic()
        self.sink.begin(self.response.status_code, content_type, self.target, self.attempt)

    def take(self, items: list[Item]) -> tuple[list[Item], UpstreamError | None]:
        """The policy over a translator's items: usage is recorded here, and a failure ends
        the answer (the items before it still go out)."""
        for i, item in enumerate(items):
            if isinstance(item, Usage):
                self.usage.usage = item
            elif isinstance(item, Failure):
                return items[:i], self.failed(item)
        return items, None

    def failed(self, failure: Failure) -> UpstreamError:
        """A translator's failure in the mux's words: which provider, and what it did."""
        message = scrub(f"Provider '{self.upstream.name}' {failure.message}", self.upstream.secrets)
        return UpstreamError(message, status=failure.status, code=failure.code)


async def relay_body(x: Exchange) -> None:
    """The answer is read whole and parsed before it goes on: an upstream that answers 200
    with something other than a JSON object (an HTML page from a proxy in between, a cut
    body) gets a 502 that says so, not a 200 the client's SDK cannot read."""
    try:
        body = await x.response.aread()
    except httpx.HTTPError as exc:
        raise upstream_failure(x.upstream, exc) from None
    content_type = x.response.headers.get("content-type", "application/json")
    try:
        try:
            answer = json.loads(body)
        except ValueError:
            raise ValueError(f"a {content_type} body that is not JSON ({excerpt(body)})") from None
        if not isinstance(answer, dict):
            raise ValueError(f"a JSON body that is not an object ({excerpt(body)})")
        x.answer = answer
        if x.kind == "embeddings" and not x.passthrough:
            answer = x.upstream.wire.embeddings_answer(x.request.body, answer, x.target.model)
            body = json.dumps(answer).encode()
        if x.passthrough or x.kind == "embeddings":
            # A 200 whose body is an error (OpenRouter sends these) is a failure too.
            reported = x.dialect.failure(answer)
            usage = x.dialect.usage(answer)
            items: list[Item] = [reported or usage] if reported or usage else []
        else:
            items = x.upstream.wire.items_from_body(x.kind, answer, x.target.model)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise malformed(x.upstream, exc) from None
    items, failure = x.take(items)
    if failure is not None:
        raise failure
    if not x.passthrough and x.kind != "embeddings":
        body = json.dumps(x.encoder.body(items), ensure_ascii=False).encode()
        content_type = "application/json"
    x.begin(content_type)
    await x.sink.send(body)


async def relay_stream(x: Exchange) -> None:
    """framer -> translator -> encoder, chunk by chunk, each chunk encoded once.

    The answer begins (status and headers) with its first bytes for the client, not with
    the upstream's headers: a failure before then is raised, so the client gets a real
    status and the rule's next target a chance; after it, the failure ends the stream as
    one error event in the client's dialect.
    """
    framer = x.upstream.wire.framer()
    translator = x.reader = x.translator()
    encoder = x.encoder
    begun = False
    out = b""
    failure: UpstreamError | None = None
    try:
        async for chunk in x.response.stream:
            items, failure = x.take(translator.feed(framer.feed(chunk)))
            if failure is None and framer.error is not None:
                failure = malformed(x.upstream, framer.error)
            out = encoder.stream(items) if items else b""
            if failure is not None:
                break  # the upstream is closed unread (see _attempt)
            if out:
                if not begun:
                    x.begin(encoder.content_type)
                    begun = True
                await x.sink.send(out)
        else:
            items, failure = x.take(translator.feed(framer.close()))
            if failure is None and framer.error is not None:
                failure = malformed(x.upstream, framer.error)
            if failure is None:
                more, failure = x.take(translator.close())
                items += more
            out = encoder.stream(items) if items else b""
    except httpx.HTTPError as exc:
        # An event cut short is dropped: glued to the error event, it would spoil both.
        out, failure = b"", upstream_failure(x.upstream, exc)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        out, failure = b"", malformed(x.upstream, exc)
    if not begun:
        if failure is not None and not out:
            raise not_sse(x, failure)
        x.begin(encoder.content_type)
    if failure is not None:
        x.usage.status = failure.status  # an answer cut short by a failure is an error
        out += encoder.failure(Failure(failure.message, failure.status, failure.code))
    if out:
        await x.sink.send(out)


def not_sse(x: Exchange, failure: UpstreamError) -> UpstreamError:
    """A malformed first event: say what the upstream said it was sending, which is usually
    the real story (an HTML error page, a JSON body that ignored `stream`)."""
    content_type = x.response.headers.get("content-type", "no content-type")
    if (
        failure.code == "upstream_malformed"
        and x.upstream.wire.framer is SSEFramer
        and not content_type.startswith("text/event-stream")
    ):
        failure.message = f"{failure.message} (it answered {content_type}, not an SSE stream)"
        failure.args = (failure.message,)
    return failure


def rule_label(rule: Rule) -> str:
    return rule.kind if rule.pattern is None else f"{rule.kind}:{rule.pattern}"


# A pooled keep-alive connection that the upstream closed meanwhile fails as soon as it is
# used. Where the request provably never reached the upstream whole (aiohttp could not write
# its body, so the upstream is still waiting for the rest of it and has run nothing), it is
# sent again on a fresh connection, up to this many times. Any other failure (a reset or a
# disconnect after the request went out) is not resent: the upstream may have read the
# request, and the client decides whether to try again.
UNSENT_RESENDS = 3
_UNSENT = ("Can not write request body", "Failed to send bytes into the underlying connection")


def unsent(exc: httpx.HTTPError) -> bool:
    cause = exc.__cause__
    return (
        isinstance(cause, aiohttp.ClientConnectionError)
        and not isinstance(cause, aiohttp.ClientConnectorError)
        and any(words in str(cause) for words in _UNSENT)
    )
