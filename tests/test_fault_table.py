"""The fault table (issue 11): every way an upstream fails, in every upstream wire format
(OpenAI-compatible, Anthropic, Ollama), streamed and not, as a client of the mux sees it.

Before the first byte reaches the client, a failure is a real status with an error that
names the provider, and a retryable one (unreachable, timeout, 5xx, 429, a failure the
upstream reports or the mux cannot read) hands over to the rule's next target; a 401 does
not. After the first byte, the stream carries what came before, then exactly one error
event, and nothing after. Either way, the request's usage row is an error.

The upstreams (tests/scripted_upstream.py) live for the whole module, their fault switched
per test; each test has its own Jupyter server with providers `faulty` and `good` of the
wire format, a workspace `alone` routed to `faulty` only, and `default` routed to
`[faulty, good]`. How a client sends a request and reads the answer is one small helper
per client dialect (`DIALECTS`), so a new dialect is one more parameter.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import MESSAGES, UPSTREAM_KEY, bearer
from .scripted_upstream import (
    ANTHROPIC,
    FORMATS,
    MODEL,
    Refusing,
    ScriptedUpstream,
    Unanswered,
    WireFormat,
)

BEFORE = "before "  # the content a mid-stream fault follows
GOOD = "all good"  # the good upstream's answer

# Small enough to keep the table fast, large enough for a loaded 2-core machine.
TIMEOUTS = {"connect_timeout": 0.5, "read_timeout": 1.0, "discovery_timeout": 1.0}

HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


@pytest.fixture
def mux_config() -> dict[str, Any]:
    return dict(TIMEOUTS)


# -- the rows ---------------------------------------------------------------------------------

Script = Callable[[WireFormat], dict[str, Any]]


def whole(status: int, data: bytes, content_type: str = "application/json") -> dict[str, Any]:
    """A whole answer with a Content-Length."""
    return {"status": status, "pieces": [data], "content_type": content_type, "length": len(data)}


def started(w: WireFormat) -> list[bytes]:
    """A stream's beginning and some content: the first byte goes to the client."""
    return [*w.head(), w.text(BEFORE)]


# The faulty upstream's scripts (see ScriptedUpstream.script).
def not_asked(w: WireFormat) -> dict[str, Any]:
    return {}  # an endpoint fault: the scripted upstream is not asked


def no_answer(w: WireFormat) -> dict[str, Any]:
    return {"status": None, "pieces": [], "stall": True}


def server_error(w: WireFormat) -> dict[str, Any]:
    return whole(w.server_error, w.error_body(w.server_error, "the model crashed"))


def rate_limited(w: WireFormat) -> dict[str, Any]:
    return whole(429, w.error_body(429, "slow down"))


def unauthorized(w: WireFormat) -> dict[str, Any]:
    return whole(401, w.error_body(401, "invalid key"))


def error_first(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [w.error_event("Overloaded")]}


def error_body(w: WireFormat) -> dict[str, Any]:
    return whole(200, w.error_body(200, "Overloaded"))


def empty_stream(w: WireFormat) -> dict[str, Any]:
    return {"pieces": []}


def empty_body(w: WireFormat) -> dict[str, Any]:
    return whole(200, b"")


def html(w: WireFormat) -> dict[str, Any]:
    return whole(200, HTML, "text/html")


def head_then_reset(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [], "reset": True}


def half_then_reset(w: WireFormat) -> dict[str, Any]:
    body = w.body(GOOD)
    return {**whole(200, body[:20]), "length": len(body), "reset": True}


def malformed_first(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [w.malformed()], "endless": True}


def malformed_body(w: WireFormat) -> dict[str, Any]:
    return whole(200, b'{"id": oops}')


def overlong_first(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [w.oversize()]}


def cut_body(w: WireFormat) -> dict[str, Any]:
    """A whole answer's counterpart of a stream without its terminator."""
    return whole(200, w.body(GOOD)[:-5])


def content_then_stall(w: WireFormat) -> dict[str, Any]:
    return {"pieces": started(w), "stall": True}


def content_then_error(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [*started(w), w.error_event("Overloaded")]}


def content_then_reset(w: WireFormat) -> dict[str, Any]:
    return {"pieces": started(w), "reset": True}


def content_then_malformed(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [*started(w), w.malformed()], "endless": True}


def content_then_overlong(w: WireFormat) -> dict[str, Any]:
    return {"pieces": [*started(w), w.oversize()]}


def content_then_end(w: WireFormat) -> dict[str, Any]:
    return {"pieces": started(w)}


@dataclass(frozen=True)
class Row:
    fault: str
    stream: bool
    status: int  # the status the client sees, or (mid-stream) the in-band failure's
    code: str  # the error's code; {server_error} and {error_code} are the wire format's
    says: str  # words the error's message holds (besides the provider's name)
    script: Script  # the faulty upstream's answer to completions
    endpoint: str = "scripted"  # or "refused", "unanswered": the faulty provider's address
    mid: bool = False  # the failure comes after the first byte
    retried: bool = True  # the rule's next target is tried
    gated: bool = False  # the ending waits until the client has seen the content before it

    @property
    def id(self) -> str:
        where = ("mid-" if self.mid else "first-") if self.stream else ""
        return f"{self.fault}-{where}{'stream' if self.stream else 'plain'}"


S, P = True, False  # streamed, plain
MALFORMED, TRUNCATED, TIMEOUT = "upstream_malformed", "upstream_truncated", "upstream_timeout"
ERROR, FAILED, UNREACHABLE = "{error_code}", "upstream_failed", "upstream_unreachable"
CRASHED = "upstream_{server_error}"
GONE, NEVER, ENDED = "connection refused", "Timed out", "ended the stream"

# fmt: off
ROWS: list[Row] = [
    # Before the first byte: a real status; the fallback answers where the fault is retryable.
    Row("refused", S, 502, UNREACHABLE, GONE, not_asked, endpoint="refused"),
    Row("refused", P, 502, UNREACHABLE, GONE, not_asked, endpoint="refused"),
    Row("connect_timeout", S, 504, TIMEOUT, NEVER, not_asked, endpoint="unanswered"),
    Row("connect_timeout", P, 504, TIMEOUT, NEVER, not_asked, endpoint="unanswered"),
    Row("read_timeout", S, 504, TIMEOUT, NEVER, no_answer),
    Row("read_timeout", P, 504, TIMEOUT, NEVER, no_answer),
    Row("5xx", S, 502, CRASHED, "the model crashed", server_error),
    Row("5xx", P, 502, CRASHED, "the model crashed", server_error),
    Row("429", S, 429, "upstream_429", "slow down", rate_limited),
    Row("429", P, 429, "upstream_429", "slow down", rate_limited),
    Row("401", S, 401, "upstream_401", "invalid key", unauthorized, retried=False),
    Row("401", P, 401, "upstream_401", "invalid key", unauthorized, retried=False),
    Row("error", S, 502, ERROR, "Overloaded", error_first),
    Row("error", P, 502, ERROR, "Overloaded", error_body),  # a 200 whose body is an error
    Row("empty", S, 502, TRUNCATED, ENDED, empty_stream),
    Row("empty", P, 502, MALFORMED, "not JSON", empty_body),
    Row("html", S, 502, MALFORMED, "<html>", html),
    Row("html", P, 502, MALFORMED, "<html>", html),
    Row("reset", S, 502, FAILED, "connection", head_then_reset),
    Row("reset", P, 502, FAILED, "connection", half_then_reset),
    Row("malformed", S, 502, MALFORMED, "not JSON", malformed_first),
    Row("malformed", P, 502, MALFORMED, "not JSON", malformed_body),
    Row("overlong", S, 502, MALFORMED, "the limit is", overlong_first),
    Row("unterminated", P, 502, MALFORMED, "not JSON", cut_body),
    # After the first byte: 200, the content before, one error event; no fallback.
    Row("read_timeout", S, 504, TIMEOUT, NEVER, content_then_stall, mid=True),
    Row("error", S, 502, ERROR, "Overloaded", content_then_error, mid=True),
    Row("reset", S, 502, FAILED, "connection", content_then_reset, mid=True, gated=True),
    Row("malformed", S, 502, MALFORMED, "not JSON", content_then_malformed, mid=True),
    Row("overlong", S, 502, MALFORMED, "the limit is", content_then_overlong, mid=True),
    Row("unterminated", S, 502, TRUNCATED, ENDED, content_then_end, mid=True),
]
# fmt: on


# -- the client dialects ----------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


# The `type` of an OpenAI-shaped error, by the status it goes with.
OPENAI_TYPES = {
    401: "authentication_error",
    429: "rate_limit_error",
    502: "upstream_error",
    504: "timeout_error",
}


def openai_error(body: Any, status: int) -> dict[str, Any]:
    """OpenAI's `{"error": {"message", "type", "param", "code"}}`, its type the status's."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["type"] == OPENAI_TYPES[status], error
    return error


class ChatCompletions:
    """OpenAI chat completions: how a client asks, and reads an answer or an error."""

    name = "chat"

    async def send(
        self,
        http: httpx.AsyncClient,
        server_url: str,
        token: str,
        workspace: str,
        *,
        stream: bool,
        seen: Callable[[bytes], None] = lambda received: None,
    ) -> Reply:
        """POST the request; `seen` is told every time more of the answer arrived."""
        url = f"{server_url}mux/w/{workspace}/v1/chat/completions"
        body = {"model": "x", "messages": MESSAGES, "stream": stream}
        async with http.stream("POST", url, headers=bearer(token), json=body) as response:
            received = b""
            async for chunk in response.aiter_raw():
                received += chunk
                seen(received)
        return Reply(response.status_code, response.headers, received)

    def error(self, reply: Reply, status: int) -> dict[str, Any]:
        """The error of a failed answer, in OpenAI's shape."""
        assert reply.headers["content-type"].startswith("application/json"), reply.headers
        return openai_error(reply.json(), status)

    def answer(self, reply: Reply, *, stream: bool) -> str:
        """The text of a good answer, which ended as it should."""
        if not stream:
            return reply.json()["choices"][0]["message"]["content"]
        events = self._events(reply)
        assert events[-1] == "[DONE]", events
        return self._text(events[:-1])

    def cut(self, reply: Reply, status: int) -> tuple[str, dict[str, Any]]:
        """A stream that failed after its first byte: the text before the failure, and the
        one error event that ends it (nothing after it)."""
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = self._events(reply)
        errors = [e for e in events if e.startswith('{"error"')]
        assert len(errors) == 1 and events[-1] == errors[0], events
        assert reply.text.endswith(f"data: {errors[0]}\n\n")
        return self._text(events[:-1]), openai_error(json.loads(errors[0]), status)

    @staticmethod
    def _events(reply: Reply) -> list[str]:
        blocks = reply.text.split("\n\n")
        assert blocks[-1] == "", reply.text  # nothing but whole events
        assert all(b.startswith("data: ") and "\n" not in b for b in blocks[:-1]), blocks
        return [b.removeprefix("data: ") for b in blocks[:-1]]

    @staticmethod
    def _text(events: list[str]) -> str:
        text = ""
        for event in events:
            choices = json.loads(event)["choices"]
            if choices:
                text += choices[0]["delta"].get("content") or ""
        return text


def sse_events(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of a named-event SSE answer (Responses, Messages), which must be
    whole events only."""
    assert reply.headers["content-type"].startswith("text/event-stream"), reply.headers
    blocks = reply.text.split("\n\n")
    assert blocks[-1] == "", reply.text
    events = []
    for block in blocks[:-1]:
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: "), block
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


class Dialect(ChatCompletions):
    """A dialect with its own route, body and answer; errors before the first byte in
    `error_shape`."""

    route = ""

    def body(self, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    async def send(
        self,
        http: httpx.AsyncClient,
        server_url: str,
        token: str,
        workspace: str,
        *,
        stream: bool,
        seen: Callable[[bytes], None] = lambda received: None,
    ) -> Reply:
        url = f"{server_url}mux/w/{workspace}/v1/{self.route}"
        async with http.stream(
            "POST", url, headers=bearer(token), json=self.body(stream)
        ) as response:
            received = b""
            async for chunk in response.aiter_raw():
                received += chunk
                seen(received)
        return Reply(response.status_code, response.headers, received)


class Responses(Dialect):
    """OpenAI's Responses API: errors in OpenAI's shape; a stream of typed events ending
    with `response.completed`, or one `error` event."""

    name = "responses"
    route = "responses"

    def body(self, stream: bool) -> dict[str, Any]:
        return {"model": "x", "input": "Say something.", "stream": stream}

    def answer(self, reply: Reply, *, stream: bool) -> str:
        if not stream:
            [message] = [o for o in reply.json()["output"] if o["type"] == "message"]
            return "".join(part["text"] for part in message["content"])
        events = sse_events(reply)
        assert events[-1][0] == "response.completed", events
        return self._deltas(events)

    def cut(self, reply: Reply, status: int) -> tuple[str, dict[str, Any]]:
        events = sse_events(reply)
        assert [name for name, _ in events].count("error") == 1 and events[-1][0] == "error"
        error = events[-1][1]
        return self._deltas(events), {"message": error["message"], "code": error["code"]}

    @staticmethod
    def _deltas(events: list[tuple[str, dict[str, Any]]]) -> str:
        return "".join(d["delta"] for n, d in events if n == "response.output_text.delta")


# Anthropic's error `type` by status.
ANTHROPIC_TYPES = {
    401: "authentication_error",
    429: "rate_limit_error",
    502: "api_error",
    504: "timeout_error",
}


class Messages(Dialect):
    """Anthropic's Messages API: errors in Anthropic's shape (no code: the tests check its
    type), named events ending with `message_stop`, or one `error` event."""

    name = "messages"
    route = "messages"

    def body(self, stream: bool) -> dict[str, Any]:
        return {"model": "x", "max_tokens": 64, "messages": MESSAGES, "stream": stream}

    def error(self, reply: Reply, status: int) -> dict[str, Any]:
        assert reply.headers["content-type"].startswith("application/json"), reply.headers
        return self._anthropic(reply.json(), status)

    def answer(self, reply: Reply, *, stream: bool) -> str:
        if not stream:
            return "".join(b["text"] for b in reply.json()["content"] if b["type"] == "text")
        events = sse_events(reply)
        assert events[-1][0] == "message_stop", events
        return self._deltas(events)

    def cut(self, reply: Reply, status: int) -> tuple[str, dict[str, Any]]:
        events = sse_events(reply)
        assert [name for name, _ in events].count("error") == 1 and events[-1][0] == "error"
        return self._deltas(events), {"message": events[-1][1]["error"]["message"]}

    @staticmethod
    def _anthropic(body: Any, status: int) -> dict[str, Any]:
        assert set(body) == {"type", "error"} and body["type"] == "error", body
        assert body["error"]["type"] == ANTHROPIC_TYPES[status], body
        return {"message": body["error"]["message"]}

    @staticmethod
    def _deltas(events: list[tuple[str, dict[str, Any]]]) -> str:
        return "".join(
            d["delta"]["text"]
            for n, d in events
            if n == "content_block_delta" and d["delta"]["type"] == "text_delta"
        )


DIALECTS = [ChatCompletions(), Responses(), Messages()]


# -- the table --------------------------------------------------------------------------------


def cases() -> Iterator[Any]:
    for wire in FORMATS:
        for row in ROWS:
            yield pytest.param(wire, row, id=f"{wire.name}-{row.id}")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Any]]:
    """Per wire format a faulty and a good upstream, and the addresses that refuse or never
    answer a connect: started once for the module."""
    with ExitStack() as stack:
        places: dict[str, Any] = {
            w.name: (
                stack.enter_context(ScriptedUpstream(wire=w)),
                stack.enter_context(ScriptedUpstream(wire=w)),
            )
            for w in FORMATS
        }
        places["refused"] = stack.enter_context(Refusing())
        places["unanswered"] = stack.enter_context(Unanswered())
        yield places


@pytest.fixture
def flush(jp_serverapp: Any) -> Callable[[], Any]:
    return jp_serverapp.web_app.settings["jupyter_mux_proxy"].recorder.flush


async def add_providers(api: Any, wire: WireFormat, faulty: str, good: str, at: str) -> None:
    """Providers `faulty` (at `at` in the end) and `good`, and the workspaces `alone`
    ([faulty]) and `default` ([faulty, good])."""
    key = {"api_key": UPSTREAM_KEY} if wire is ANTHROPIC else {"auth_type": "none"}
    for name, endpoint in (("faulty", faulty), ("good", good)):
        provider = {"name": name, "type": wire.provider_type, "endpoint": endpoint, **key}
        await api.ok("POST", "providers", provider, 201)
    target = {"provider": "faulty", "model": MODEL}
    await api.ok("POST", "workspaces", {"name": "alone", "preferred": target}, 201)
    targets = [target, {"provider": "good", "model": MODEL}]
    await api.ok("PUT", "workspaces/default/rules", [{"kind": "catch_all", "targets": targets}])
    if at != faulty:
        # Moved once its model is chosen: a provider that lists no models cannot be.
        await api.ok("PATCH", "providers/faulty", {"endpoint": at})


def usage_rows(db_path: Any) -> list[tuple[str, str, int, bool]]:
    """The recorded requests: workspace, provider, status, streamed."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT workspace, provider, status, streamed FROM mux_usage")
        return [(w, p, s, bool(streamed)) for w, p, s, streamed in rows]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
@pytest.mark.parametrize(("wire", "row"), list(cases()))
async def test_fault(api, server_url, token, flush, db_path, upstreams, dialect, wire, row):
    faulty, good = upstreams[wire.name]
    gate = threading.Event() if row.gated else None
    faulty.script(**row.script(wire), gate=gate)
    good.script()
    faulty.requests = good.requests = 0
    at = faulty.endpoint if row.endpoint == "scripted" else upstreams[row.endpoint].endpoint
    await add_providers(api, wire, faulty.endpoint, good.endpoint, at)
    code = row.code.format(server_error=wire.server_error, error_code=wire.error_code)

    def says(error: dict[str, Any]) -> None:
        assert error.get("code", code) == code, error  # Anthropic's errors carry no code
        assert "'faulty'" in error["message"] and row.says in error["message"], error
        assert UPSTREAM_KEY not in error["message"]

    async with httpx.AsyncClient(timeout=60) as http:

        async def send(workspace: str) -> Reply:
            def seen(received: bytes) -> None:
                if gate is not None and BEFORE.encode() in received:
                    gate.set()

            return await dialect.send(
                http, server_url, token, workspace, stream=row.stream, seen=seen
            )

        if row.mid:
            # The answer is the faulty target's, failure included: no fallback after the
            # first byte.
            reply = await send("default")
            assert reply.status == 200, reply.body[:500]
            assert reply.headers["x-mux-provider"] == "faulty"
            assert reply.headers["x-mux-attempts"] == "1"
            before, error = dialect.cut(reply, row.status)
            assert before == BEFORE
            says(error)
            assert good.requests == 0
            expected = [("default", "faulty", row.status, True)]
        else:
            # Side by side, so that timeouts overlap: the faulty target alone, and with the
            # good one behind it.
            alone, reply = await asyncio.gather(send("alone"), send("default"))
            assert alone.status == row.status, alone.body[:500]
            says(dialect.error(alone, row.status))
            if row.retried:
                assert reply.status == 200, reply.body[:500]
                assert reply.headers["x-mux-provider"] == "good"
                assert reply.headers["x-mux-attempts"] == "2"
                assert dialect.answer(reply, stream=row.stream) == GOOD
                assert good.requests == 1
                served = ("default", "good", 200, row.stream)
            else:
                assert reply.status == row.status, reply.body[:500]
                says(dialect.error(reply, row.status))
                assert good.requests == 0
                served = ("default", "faulty", row.status, row.stream)
            expected = [("alone", "faulty", row.status, row.stream), served]
        if row.endpoint == "scripted":
            assert faulty.requests == len(expected)

    await flush()
    recorded = sorted(usage_rows(db_path))
    assert recorded == expected
    totals = await api.ok("GET", "usage?group_by=workspace")
    errors = {r["key"]: r["errors"] for r in totals["rows"]}
    assert errors == {w: int(s >= 400) for w, _, s, _ in expected}
