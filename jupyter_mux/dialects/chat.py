"""OpenAI chat completions and legacy completions, as the mux speaks them to clients.

Both dialects share one encoder: a chat answer streams `chat.completion.chunk` events with a
`delta`, a legacy completion `text_completion` events with `text`; both end with
`data: [DONE]`. An error after the stream began is one last `data: {"error": ...}` event
(what OpenAI's SDK raises as an `APIError`), with no `[DONE]` after it.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..errors import MuxError
from ..framing import Event
from ..items import (
    Done,
    Failure,
    Finish,
    Item,
    Raw,
    Reasoning,
    Start,
    Text,
    ToolCall,
    Usage,
    collect,
    truncated,
)
from ..providers.openai_compat import usage_item
from ..upstream_errors import reported

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
DONE = b"data: [DONE]\n\n"


def error_body(exc: MuxError) -> dict[str, Any]:
    return exc.openai_body()


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + _JSON.encode(obj).encode() + b"\n\n"


def failure_event(failure: Failure) -> bytes:
    error = MuxError(failure.message, status=failure.status, code=failure.code)
    return sse(error.openai_body())


def usage_dict(usage: Usage | None) -> dict[str, Any]:
    """A Usage item in OpenAI's words (counts the upstream did not give are 0)."""
    usage = usage or Usage()
    prompt, completion = usage.prompt_tokens or 0, usage.completion_tokens or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.cached_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


class ChatEncoder:
    """Items -> chat.completion.chunk (kind "chat") or text_completion (kind "fim") SSE.

    A legacy completion has nowhere to put reasoning or tool calls: they are left out.
    `include_usage`: the client asked for the usage chunk (`stream_options`); the mux
    always reads usage, but sends the chunk only then.
    """

    content_type = "text/event-stream"

    def __init__(self, kind: str, model: str, *, include_usage: bool = False) -> None:
        self.chat = kind == "chat"
        self.include_usage = include_usage
        self.id = ""
        self.model = model
        self.created = 0
        self._started = False
        self._finished = False
        self._usage: Usage | None = None

    def stream(self, items: list[Item]) -> bytes:
        out: list[bytes] = []
        for item in items:
            if isinstance(item, Text):
                self._begin(out)
                out.append(self._chunk({"content": item.text} if self.chat else item.text))
            elif isinstance(item, Reasoning):
                if self.chat and item.text:
                    self._begin(out)
                    out.append(self._chunk({"reasoning_content": item.text}))
            elif isinstance(item, ToolCall):
                if self.chat:
                    self._begin(out)
                    out.append(self._chunk({"tool_calls": [tool_call_delta(item)]}))
            elif isinstance(item, Finish):
                self._finish(item.reason, out)
            elif isinstance(item, Usage):
                self._usage = item
            elif isinstance(item, Start):
                self.id = item.id or self.id
                self.model = item.model or self.model
                self.created = item.created or self.created
                self._begin(out)
            elif isinstance(item, Done):
                self._finish("stop", out)
                if self.include_usage:
                    envelope = {**self._envelope(), "choices": [], "usage": usage_dict(self._usage)}
                    out.append(sse(envelope))
                out.append(DONE)
            elif isinstance(item, Raw):
                out.append(item.data)
        return b"".join(out)

    def failure(self, failure: Failure) -> bytes:
        return failure_event(failure)

    def body(self, items: list[Item]) -> dict[str, Any]:
        answer = collect(items)
        start = answer.start
        common = {
            "id": start.id or _new_id(self.chat),
            "created": start.created or int(time.time()),
            "model": start.model or self.model,
        }
        reason = answer.finish.reason if answer.finish else "stop"
        usage = usage_dict(answer.usage)
        if not self.chat:
            choice = {"index": 0, "text": answer.text, "logprobs": None, "finish_reason": reason}
            return {"object": "text_completion", **common, "choices": [choice], "usage": usage}
        calls = [
            {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}
            for id_, name, args in (answer.tool_calls[i] for i in sorted(answer.tool_calls))
        ]
        message: dict[str, Any] = {
            "role": "assistant",
            # OpenAI sends null content, not "", when the answer is only tool calls.
            "content": answer.text if answer.text or not calls else None,
            "refusal": None,
        }
        thinking = "".join(r.text for r in answer.reasoning)
        if thinking:
            message["reasoning_content"] = thinking
        if calls:
            message["tool_calls"] = calls
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
        return {"object": "chat.completion", **common, "choices": [choice], "usage": usage}

    def _begin(self, out: list[bytes]) -> None:
        """The role chunk OpenAI clients expect first, once, whatever item comes first."""
        if self._started:
            return
        self._started = True
        if not self.id:
            self.id = _new_id(self.chat)
        if not self.created:
            self.created = int(time.time())
        if self.chat:
            out.append(self._chunk({"role": "assistant", "content": ""}))

    def _finish(self, reason: str, out: list[bytes]) -> None:
        if self._finished:
            return
        self._begin(out)
        self._finished = True
        out.append(self._chunk({} if self.chat else "", reason))

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk" if self.chat else "text_completion",
            "created": self.created,
            "model": self.model,
        }

    def _chunk(self, delta: dict[str, Any] | str, reason: str | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0}
        if isinstance(delta, dict):
            choice["delta"] = delta
        else:
            choice["text"] = delta
        choice["logprobs"] = None
        choice["finish_reason"] = reason
        event = {**self._envelope(), "choices": [choice]}
        if self.include_usage:
            # OpenAI: with include_usage, every chunk but the last has `usage: null`.
            event["usage"] = None
        return sse(event)


def tool_call_delta(item: ToolCall) -> dict[str, Any]:
    if item.id is None and item.name is None:
        return {"index": item.index, "function": {"arguments": item.arguments}}
    return {
        "index": item.index,
        "id": item.id or "",
        "type": "function",
        "function": {"name": item.name or "", "arguments": item.arguments},
    }


def _new_id(chat: bool) -> str:
    return ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]


class ChatPassthrough:
    """An OpenAI-compatible upstream's chat or completions stream, relayed as it came.

    Each event goes on as `Raw`; the translator only reads what the proxy needs: the usage
    (and drops the usage-only chunk the mux asked for on a client's behalf that did not),
    an error the upstream reports in the stream (a `Failure`, so that one before anything
    was sent still falls over to the next target), and `data: [DONE]`.
    """

    def __init__(self, *, keep_usage_chunk: bool) -> None:
        self.keep = keep_usage_chunk
        self.done = False

    def feed(self, events: list[Event]) -> list[Item]:
        out: list[Item] = []
        for raw, name, data, done in events:
            if self.done:
                break
            if data is None:
                out.append(Raw(raw))
                if done:
                    out.append(Done())
                    self.done = True
                continue
            if name == "error" or "error" in data:
                out.append(reported(data))
                self.done = True
                break
            usage = data.get("usage")
            if isinstance(usage, dict):
                out.append(usage_item(usage))
                if not self.keep and not data.get("choices"):
                    continue
            out.append(Raw(raw))
        return out

    def close(self) -> list[Item]:
        if self.done:
            return []
        self.done = True
        return [truncated("its end marker (data: [DONE])")]
