"""Items -> the Responses API's typed event stream, or a whole `Response` object."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from ...errors import UpstreamError
from ...items import (
    CONTENT_FILTER,
    LENGTH,
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
)

# Finish reasons after which a Responses answer is `incomplete`, and why.
INCOMPLETE = {LENGTH: "max_output_tokens", CONTENT_FILTER: "content_filter"}

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def new_id(prefix: str) -> str:
    """An id in OpenAI's style (`resp_...`, `msg_...`), unguessable: a stored response is
    fetched by its id alone."""
    return f"{prefix}_{secrets.token_hex(16)}"


def _usage_object(usage: Usage) -> dict[str, Any]:
    """An item's token counts -> Responses usage. Both count cached input inside the input
    tokens. The mux has no count of tokens written to a cache, so that one is 0."""
    prompt = usage.prompt_tokens or 0
    completion = usage.completion_tokens or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens or 0,
            "cache_write_tokens": 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": prompt + completion,
    }


class ResponsesEncoder:
    """Items -> the Responses API's typed event stream, or a whole `Response` object.

    The stream is the one the OpenAI SDK accumulates: `response.created` and
    `response.in_progress`, then per output item `output_item.added`, its content part, its
    deltas and the `.done` events in reverse, and last `response.completed` (or
    `response.incomplete` after a `length` or `content_filter` finish) with the whole
    response and its usage; every event numbered by `sequence_number`. Text and reasoning
    items are closed when another kind of output starts; function calls stay open until the
    end, since chat streams may interleave the arguments of parallel calls. Reasoning is
    `reasoning_text` content (the model's own reasoning, not a summary); an Anthropic
    thinking signature or redacted block has no Responses field a client could send back
    through chat, so it is not written.

    `.response` is the response as it stands and `.chat_messages()` its output as chat
    messages, which is what a stored conversation keeps.
    """

    content_type = "text/event-stream"

    def __init__(
        self,
        body: dict[str, Any],
        model: str,
        response_id: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.id = response_id or new_id("resp")
        self.model = model
        self._request = body
        self._clock = clock
        self._created_at = int(clock())
        self._completed_at: int | None = None
        self._status = "in_progress"
        self._error: dict[str, Any] | None = None
        self._incomplete: dict[str, Any] | None = None
        self._usage: Usage | None = None
        self._finish: Finish | None = None
        self._output: list[dict[str, Any]] = []
        self._current: int | None = None  # the open message or reasoning item
        self._calls: dict[int, int] = {}  # ToolCall.index -> output index, while open
        self._started = False
        self._ended = False
        self._sequence = 0
        self._frames: list[bytes] | None = None  # None: making a body, no events

    # -- the Encoder protocol

    def stream(self, items: list[Item]) -> bytes:
        self._frames = frames = []
        for item in items:
            if isinstance(item, Failure):
                frames.append(self.failure(item))
            elif isinstance(item, Raw):
                frames.append(item.data)
            else:
                self._apply(item)
        self._frames = None
        return b"".join(frames)

    def failure(self, failure: Failure) -> bytes:
        """One `error` event, then nothing more. It carries the fields of the API reference's
        error event (`code`, `message`, `param`) and the nested `error` object the hosted API
        sends, which is what makes the openai SDK raise an APIError with the message."""
        if self._ended:
            return b""
        self._ended = True
        self._status = "failed"
        self._error = {
            "code": "rate_limit_exceeded" if failure.status == 429 else "server_error",
            "message": failure.message,
        }
        error = UpstreamError(failure.message, status=failure.status, code=failure.code)
        event = {
            "type": "error",
            "sequence_number": self._sequence,
            "code": failure.code,
            "message": failure.message,
            "param": None,
            **error.openai_body(),
        }
        self._sequence += 1
        return _frame(event)

    def body(self, items: list[Item]) -> dict[str, Any]:
        """A whole answer as a `Response`. A `Failure` among the items raises it."""
        for item in items:
            if isinstance(item, Failure):
                raise UpstreamError(item.message, status=item.status, code=item.code)
            self._apply(item)
        self._apply(Done())
        return self.response

    # -- what the proxy keeps

    @property
    def response(self) -> dict[str, Any]:
        """The `Response` as it stands, a copy: what the proxy stores for
        `GET /responses/{id}`, and the body of a whole answer."""
        return self._response_object(json.loads(_JSON.encode(self._output)))

    def chat_messages(self) -> list[dict[str, Any]]:
        """The output as one assistant chat message: text joined, reasoning as
        `reasoning_content`, function calls as `tool_calls` (as `input_messages` reads the
        same output items sent back)."""
        text, reasoning, calls = [], [], []
        for item in self._output:
            if item["type"] == "message":
                text += [part["text"] for part in item["content"]]
            elif item["type"] == "reasoning":
                reasoning += [part["text"] for part in item["content"]]
            else:
                function = {"name": item["name"], "arguments": item["arguments"]}
                calls.append({"id": item["call_id"], "type": "function", "function": function})
        message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
        if calls:
            message["content"] = message["content"] or None
            message["tool_calls"] = calls
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        return [message]

    # -- items

    def _apply(self, item: Item) -> None:
        """Nothing is written until the answer has content, a finish or an end: a failure
        right after the upstream began (Anthropic's `overloaded_error` after
        `message_start`) then still finds nothing sent, and the proxy can fall over."""
        if self._ended:
            return
        if isinstance(item, Start):
            if item.model and not self._started:
                self.model = item.model
        elif isinstance(item, Usage):
            self._usage = item
        elif isinstance(item, (Text, Reasoning)):
            if item.text:
                self._begin()
                self._delta("message" if isinstance(item, Text) else "reasoning", item.text)
        elif isinstance(item, ToolCall):
            self._begin()
            self._tool_call(item)
        elif isinstance(item, Finish):
            self._begin()
            self._finish = item
        elif isinstance(item, Done):
            self._begin()
            self._end()

    def _begin(self) -> None:
        if self._started:
            return
        self._started = True
        for kind in ("response.created", "response.in_progress"):
            self._emit(kind, response=self._response_object([]))

    def _delta(self, kind: str, text: str) -> None:
        if self._current is None or self._output[self._current]["type"] != kind:
            self._close_current()
            self._current = self._open(kind)
        index = self._current
        item = self._output[index]
        item["content"][0]["text"] += text
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        if kind == "message":
            self._emit("response.output_text.delta", **where, delta=text, logprobs=[])
        else:
            self._emit("response.reasoning_text.delta", **where, delta=text)

    def _open(self, kind: str) -> int:
        """Add a message or reasoning item with its one content part; its output index."""
        if kind == "message":
            item = {"id": new_id("msg"), "type": "message", "status": "in_progress"}
            item.update(role="assistant", content=[])
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        else:
            item = {"id": new_id("rs"), "type": "reasoning", "status": "in_progress"}
            item.update(summary=[], content=[])
            part = {"type": "reasoning_text", "text": ""}
        index = len(self._output)
        self._output.append(item)
        self._emit("response.output_item.added", output_index=index, item=item)
        self._emit(
            "response.content_part.added",
            item_id=item["id"],
            output_index=index,
            content_index=0,
            part=part,
        )
        item["content"].append(part)
        return index

    def _tool_call(self, call: ToolCall) -> None:
        index = self._calls.get(call.index)
        if index is None:
            self._close_current()
            index = len(self._output)
            item = {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.id or new_id("call"),
                "name": call.name or "",
                "arguments": "",
            }
            self._output.append(item)
            self._calls[call.index] = index
            self._emit("response.output_item.added", output_index=index, item=item)
        item = self._output[index]
        if call.arguments:
            item["arguments"] += call.arguments
            self._emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=call.arguments,
            )

    def _close_current(self) -> None:
        if self._current is None:
            return
        index, self._current = self._current, None
        item = self._output[index]
        part = item["content"][0]
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        if item["type"] == "message":
            self._emit("response.output_text.done", **where, text=part["text"], logprobs=[])
        else:
            self._emit("response.reasoning_text.done", **where, text=part["text"])
        self._emit("response.content_part.done", **where, part=part)
        self._close_item(index)

    def _close_item(self, index: int) -> None:
        item = self._output[index]
        # A cut answer leaves its last text incomplete, not the reasoning before it.
        cut = self._finish is not None and self._finish.reason in INCOMPLETE
        item["status"] = "incomplete" if cut and item["type"] != "reasoning" else "completed"
        self._emit("response.output_item.done", output_index=index, item=item)

    def _end(self) -> None:
        self._close_current()
        for index in sorted(self._calls.values()):
            item = self._output[index]
            self._emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
            self._close_item(index)
        self._calls.clear()
        reason = INCOMPLETE.get(self._finish.reason) if self._finish else None
        self._status = "completed" if reason is None else "incomplete"
        if reason is None:
            self._completed_at = int(self._clock())
        else:
            self._incomplete = {"reason": reason}
        self._ended = True
        self._emit(f"response.{self._status}", response=self._response_object(self._output))

    # -- the wire

    def _emit(self, kind: str, **fields: Any) -> None:
        if self._frames is not None:
            event = {"type": kind, "sequence_number": self._sequence, **fields}
            self._frames.append(_frame(event))
        self._sequence += 1

    def _response_object(self, output: list[dict[str, Any]]) -> dict[str, Any]:
        """The `Response`: this answer's state, and the request's settings echoed back."""
        request = self._request

        def given(field: str, default: Any = None) -> Any:
            value = request.get(field)
            return default if value is None else value

        reasoning = request.get("reasoning") if isinstance(request.get("reasoning"), dict) else {}
        text = request.get("text") if isinstance(request.get("text"), dict) else {}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self._created_at,
            "status": self._status,
            "background": False,
            "completed_at": self._completed_at,
            "error": self._error,
            "incomplete_details": self._incomplete,
            "instructions": given("instructions"),
            "max_output_tokens": given("max_output_tokens"),
            "metadata": given("metadata", {}),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": given("parallel_tool_calls", True),
            "previous_response_id": given("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "temperature": given("temperature"),
            "text": {**text, "format": text.get("format") or {"type": "text"}},
            "tool_choice": given("tool_choice", "auto"),
            "tools": given("tools", []),
            "top_p": given("top_p"),
            "truncation": given("truncation", "disabled"),
            "usage": None if self._usage is None else _usage_object(self._usage),
            "user": given("user"),
        }


def _frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {_JSON.encode(event)}\n\n".encode()
