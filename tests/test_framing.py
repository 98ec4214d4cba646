"""The SSE framer that cuts and checks every upstream stream: every valid stream comes out
whole and unchanged (line endings aside) however it is cut, every malformed one stops at the
first bad event, and no complete event is ever held back. The NDJSON framer's own cases are
in test_ollama_wire.py; the passthrough translator's at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mux.dialects.chat import ChatPassthrough
from jupyter_mux.framing import MAX_EVENT_BYTES, FramingError, SSEFramer
from jupyter_mux.items import Done, Failure, Finish, Raw, Start, Usage, collect
from jupyter_mux.providers import openai_compat

PAYLOADS = Path(__file__).parent / "payloads"


def chunk(content: str, **extra: object) -> bytes:
    body = {"object": "chat.completion.chunk", "choices": [{"delta": {"content": content}}]}
    return b"data: " + json.dumps({**body, **extra}, ensure_ascii=False).encode() + b"\n\n"


# An OpenAI-compatible stream using everything SSE allows that such providers send:
# keep-alive comments, `event:`/`id:`/`retry:` fields, `data:` without its space, a payload
# over two data lines, multi-byte UTF-8, CRLF framing, and the end marker.
OPENAI_STREAM = (
    b": keep-alive\r\n\r\n"
    + chunk("Voil\u00e0, un caf\u00e9 \u2615 ")
    + b"retry: 3000\nid: 7\nevent: message\n"
    + chunk("\u65e5\u672c\u8a9e \U0001f389")
    + b'data:{"object": "chat.completion.chunk",\r\ndata: "choices": []}\r\n\r\n'
    + chunk("", choices=[], usage={"prompt_tokens": 3, "completion_tokens": 2})
    + b"data: [DONE]\n\n"
)


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")


class SSEReader:
    """The framer, with what the tests look at: (raw, payload) pairs, and whether the end
    marker came."""

    def __init__(self, max_event: int = MAX_EVENT_BYTES) -> None:
        self.framer = SSEFramer(max_event)
        self.done = False
        self.names: list[str | None] = []

    @property
    def error(self) -> FramingError | None:
        return self.framer.error

    def feed(self, data: bytes) -> list[tuple[bytes, object]]:
        return self._seen(self.framer.feed(data))

    def close(self) -> list[tuple[bytes, object]]:
        return self._seen(self.framer.close())

    def _seen(self, events: list) -> list[tuple[bytes, object]]:
        self.done = self.done or any(e.done for e in events)
        self.names += [e.name for e in events]
        return [(e.raw, e.data) for e in events]


def read(pieces: list[bytes], reader: SSEReader | None = None) -> tuple[bytes, list, SSEReader]:
    """Feed `pieces`, then close: what came out, the payloads, and the reader."""
    reader = reader or SSEReader()
    events = [e for piece in pieces for e in reader.feed(piece)] + reader.close()
    return b"".join(raw for raw, _ in events), [p for _, p in events], reader


def cuts(data: bytes) -> list[list[bytes]]:
    """`data` in two pieces, cut at every byte."""
    return [[data[:i], data[i:]] for i in range(len(data) + 1)]


def recorded_streams() -> list[Path]:
    return sorted(p for p in (PAYLOADS / "anthropic").glob("*.sse") if "truncated" not in p.name)


@pytest.mark.parametrize("name", ["openai", *(p.name for p in recorded_streams())], ids=lambda n: n)
def test_valid_streams_pass_whole_however_cut(name: str) -> None:
    data = OPENAI_STREAM if name == "openai" else (PAYLOADS / "anthropic" / name).read_bytes()
    whole, payloads, reader = read([data])
    assert whole == lf(data) and reader.error is None
    assert all(isinstance(p, dict) for p in payloads if p is not None)
    assert reader.done is (name == "openai")
    for pieces in [*cuts(data), [bytes([b]) for b in data]]:
        out, got, again = read(pieces)
        assert (out, got, again.error, again.done) == (whole, payloads, None, reader.done)


def test_lone_cr_line_endings() -> None:
    data = lf(OPENAI_STREAM).replace(b"\n", b"\r")
    for pieces in cuts(data):
        out, _, reader = read(pieces)
        assert out == lf(OPENAI_STREAM) and reader.done and reader.error is None


def test_every_complete_event_goes_on_at_once() -> None:
    reader = SSEReader()
    first, second = chunk("a"), chunk("b")
    assert reader.feed(first + second[:9]) == [(first, json.loads(first[6:]))]
    assert reader.feed(second[9:-1]) == []  # only the blank line is missing
    assert [raw for raw, _ in reader.feed(b"\n")] == [second]


BAD = {
    "not json": (b"data: Internal Server Error\n\n", "not JSON ('Internal Server Error')"),
    "not an object": (b"data: [1, 2]\n\n", "not a JSON object ('[1, 2]')"),
    "string": (b'data: "text"\n\n', "not a JSON object"),
    "html": (b"<html><body>Bad gateway</body></html>\n\n", "not an SSE field ('<html>"),
    "json line": (b'{"error": "no streaming"}\n\n', "not an SSE field"),
    "unknown field": (b"delta: hi\ndata: {}\n\n", "not an SSE field ('delta: hi')"),
    "latin-1 payload": (b'data: {"content": "caf\xe9"}\n\n', "not UTF-8"),
    "latin-1 comment": (b": caf\xe9\n\n", "not UTF-8"),
    "latin-1 event name": (b"event: caf\xe9\ndata: {}\n\n", "not UTF-8"),
}


@pytest.mark.parametrize("bad", BAD, ids=lambda k: k)
def test_malformed_event_stops_the_stream_however_cut(bad: str) -> None:
    event, reason = BAD[bad]
    good = b": hi\n\n" + chunk("caf\u00e9")
    data = good + event + chunk("after") + b"data: [DONE]\n\n"
    for pieces in [*cuts(data), [bytes([b]) for b in data]]:
        out, _, reader = read(pieces)
        assert out == good, pieces
        assert reader.error is not None and reason in str(reader.error), pieces
        assert not reader.done
        assert reader.feed(chunk("more") + b"data: [DONE]\n\n") == []


# llama.cpp's server (tools/server) writes a failure mid-stream as `error: <json>`.
LLAMACPP_ERROR = b'error: {"code": 500, "message": "context full", "type": "server_error"}\n\n'


def test_error_field_is_the_providers_report_however_cut() -> None:
    good = chunk("partial")
    data = good + LLAMACPP_ERROR + b"data: [DONE]\n\n"
    for pieces in cuts(data):
        out, payloads, reader = read(pieces)
        assert out == good + LLAMACPP_ERROR + b"data: [DONE]\n\n", pieces
        assert reader.error is None and reader.names == [None, "error", None], pieces
        assert payloads[1]["message"] == "context full"
    # In plain words rather than JSON, it is still the provider's message.
    _, payloads, reader = read([b"error: context full\n\n"])
    assert reader.names == ["error"] and payloads == [{"error": {"message": "context full"}}]


def test_oversize_event_without_a_boundary() -> None:
    reader = SSEReader(max_event=100)
    assert [raw for raw, _ in reader.feed(chunk("ok") + b"data: " + b"x" * 90)] == [chunk("ok")]
    assert reader.error is None
    assert reader.feed(b"x" * 10) == [] and reader.error is not None
    assert "without the blank line that ends an SSE event" in str(reader.error)
    assert reader.feed(b"\n\n") == [] and reader.close() == []


def test_default_bound_is_one_mebibyte_fed_in_network_sized_pieces() -> None:
    big = b'data: {"content": "' + b"x" * (MAX_EVENT_BYTES // 2) + b'"}\n\n'
    out, _, reader = read([big[i : i + 16384] for i in range(0, len(big), 16384)])
    assert out == big and reader.error is None  # a large event under the bound is fine
    reader = SSEReader()
    endless = b"data: " + b"x" * 16384
    fed = 0
    while reader.error is None:
        assert reader.feed(endless) == []
        fed += len(endless)
    assert MAX_EVENT_BYTES < fed <= MAX_EVENT_BYTES + len(endless)


def test_stream_cut_mid_event_is_truncated_not_malformed() -> None:
    data = (PAYLOADS / "anthropic" / "stream_truncated.sse").read_bytes()
    complete = data[: data.rindex(b"\n\n") + 2]
    for pieces in cuts(data):
        out, _, reader = read(pieces)
        assert out == complete and reader.error is None and not reader.done


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r", b"\r\n"], ids=repr)
def test_last_event_lacking_only_its_blank_line_is_read(ending: bytes) -> None:
    out, payloads, reader = read([chunk("a") + b"data: [DONE]" + ending])
    assert out == chunk("a") + b"data: [DONE]\n\n" and reader.done and reader.error is None
    out, payloads, reader = read([chunk("a")[:-2] + ending])
    assert out == chunk("a") and payloads == [json.loads(chunk("a")[6:])]
    assert reader.error is None and not reader.done


def test_garbage_at_the_end_is_malformed() -> None:
    out, _, reader = read([chunk("a"), b"<html>"])
    assert out == chunk("a") and "not an SSE field" in str(reader.error)


def test_blank_lines_between_events_pass() -> None:
    data = chunk("a") + b"\n\n\n" + chunk("b") + b"\r\n" + b"data: [DONE]\n\n"
    for pieces in cuts(data):
        out, payloads, reader = read(pieces)
        assert out == lf(data) and reader.done and reader.error is None
        assert [p["choices"][0]["delta"]["content"] for p in payloads if p] == ["a", "b"]


def passthrough(pieces: list[bytes], keep: bool) -> list:
    framer, translator = SSEFramer(), ChatPassthrough(keep_usage_chunk=keep)
    items = [i for piece in pieces for i in translator.feed(framer.feed(piece))]
    items += translator.feed(framer.close())
    if framer.error is not None:
        items.append(framer.error)
    return items + translator.close()


@pytest.mark.parametrize("keep", [False, True])
def test_passthrough_over_every_cut(keep: bool) -> None:
    """Each event goes on as it came; the usage is read, and its chunk dropped when the
    client did not ask for it; [DONE] ends the answer."""
    usage_chunk = chunk("", choices=[], usage={"prompt_tokens": 3, "completion_tokens": 2})
    expected = lf(OPENAI_STREAM) if keep else lf(OPENAI_STREAM).replace(usage_chunk, b"")
    for pieces in cuts(OPENAI_STREAM):
        items = passthrough(pieces, keep)
        assert b"".join(i.data for i in items if isinstance(i, Raw)) == expected
        assert [i for i in items if isinstance(i, Usage)] == [Usage(3, 2)]
        assert isinstance(items[-1], Done)


def test_passthrough_stops_at_a_malformed_event() -> None:
    items = passthrough([chunk("a") + b"data: oops\n\n" + chunk("b")], keep=False)
    assert items[0] == Raw(chunk("a"))
    assert isinstance(items[1], FramingError) and "not JSON ('oops')" in str(items[1])
    # No end marker came: the translator reports the answer truncated as well.
    assert isinstance(items[2], Failure) and items[2].code == "upstream_truncated"


@pytest.mark.parametrize(
    "event", [LLAMACPP_ERROR, b'data: {"error": {"message": "context full", "code": 500}}\n\n']
)
def test_passthrough_reports_the_providers_error_as_a_failure(event: bytes) -> None:
    items = passthrough([chunk("a") + event + chunk("b") + b"data: [DONE]\n\n"], keep=False)
    assert items == [Raw(chunk("a")), Failure("reported an error: context full")]


# -- the OpenAI-compatible translator (chat chunks -> items, for clients of other dialects) --


def openai_items(pieces: list[bytes]) -> list:
    framer, translator = SSEFramer(), openai_compat.StreamTranslator("chat", "served")
    items = [i for piece in pieces for i in translator.feed(framer.feed(piece))]
    items += translator.feed(framer.close()) + translator.close()
    assert framer.error is None
    return items


def test_openai_translator_is_the_same_however_cut() -> None:
    """A recorded-shape stream with reasoning, text, two interleaved tool calls and cached
    usage: the same items whole, byte by byte and cut in two anywhere."""
    data = (PAYLOADS / "openai" / "stream_tools.sse").read_bytes()
    whole = openai_items([data])
    assert whole[0] == Start("chatcmpl-7Qx", "qwen3-4b", 1764590000)
    assert [i for i in whole if isinstance(i, Usage)] == [Usage(41, 23, 16)]
    assert isinstance(whole[-1], Done)
    answer = collect(whole)
    assert answer.text == "Checking caf\u00e9s \u2615 in \u65e5\u672c"
    assert answer.reasoning[0].text == "Two cities, two calls."
    assert answer.tool_calls == {
        0: ["call_a1", "get_weather", '{"city": "Paris"}'],
        1: ["call_b2", "get_weather", '{"city": "Tokyo"}'],
    }
    assert answer.finish == Finish("tool_calls")
    for pieces in [*cuts(data), [bytes([b]) for b in data]]:
        assert openai_items(pieces) == whole


def test_openai_translator_reports_errors_and_truncation() -> None:
    data = (PAYLOADS / "openai" / "stream_tools.sse").read_bytes()
    cut_short = data[: data.index(b"data: [DONE]")]
    assert openai_items([cut_short])[-1].code == "upstream_truncated"
    failed = openai_items([chunk("a"), b'data: {"error": {"message": "boom"}}\n\n', chunk("b")])
    assert failed[-1] == Failure("reported an error: boom")
