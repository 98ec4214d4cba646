"""A Responses upstream relayed untouched: its events -> `Raw` items, plus the usage,
failure and end the proxy needs to read from them."""

from __future__ import annotations

from typing import Any

from ...framing import Event
from ...items import Done, Failure, Item, Raw, Usage, truncated
from .request import _is_int, chat_to_input

# Failure messages are the rest of a sentence the proxy begins with "Provider '<name>' ".


def usage_from_body(payload: Any) -> Usage | None:
    """The usage of a whole Responses answer (or of the `response` of a terminal event)."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None

    def count(where: dict[str, Any] | Any, key: str) -> int | None:
        value = where.get(key) if isinstance(where, dict) else None
        return value if _is_int(value) else None

    return Usage(
        prompt_tokens=count(usage, "input_tokens"),
        completion_tokens=count(usage, "output_tokens"),
        cached_tokens=count(usage.get("input_tokens_details"), "cached_tokens"),
        reasoning_tokens=count(usage.get("output_tokens_details"), "reasoning_tokens"),
    )


def passthrough_body(body: dict[str, Any], history: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The request for an upstream that speaks Responses: the client's body, but a
    `previous_response_id` (the mux's id, which the upstream never saw) replaced by the
    stored conversation as input items. The caller still sets the model, and checks the
    body with `to_chat` first so that a bad request is the mux's 400 either way."""
    request = {k: v for k, v in body.items() if k != "previous_response_id"}
    if history:
        given = body.get("input")
        turn = (
            [{"type": "message", "role": "user", "content": given}]
            if isinstance(given, str)
            else given or []
        )
        request["input"] = chat_to_input(history) + list(turn)
    return request


class ResponsesPassthrough:
    """A Responses upstream's events -> `Raw` items for the client, plus what the proxy
    reads from them: `Usage` (from the terminal event), `Failure`, `Done`.

    A failure (`error` or `response.failed`) comes out as a `Failure` *instead of* its
    event, so that the proxy still decides: fall over to the next target when nothing has
    reached the client, else end the stream with the encoder's own error event.
    `.response` is the upstream's
    final `Response` object (from `response.completed` / `response.incomplete`), for the
    proxy to store: `input_messages({"input": response["output"]})` is its output as chat
    messages.

    Relayed means untouched: llama.cpp's server, for one, streams events without
    `sequence_number`, `output_index` and `content_index` (tests/payloads/responses), which
    the openai SDK's `responses.stream` helper cannot accumulate.
    """

    def __init__(self) -> None:
        self._ended = False
        self.response: dict[str, Any] | None = None

    def feed(self, events: list[Event]) -> list[Item]:
        items: list[Item] = []
        for event in events:
            if self._ended:
                break
            items += self._event(event)
        return items

    def close(self) -> list[Item]:
        if self._ended:
            return []
        self._ended = True
        return [truncated("response.completed")]

    def _event(self, event: Event) -> list[Item]:
        data = event.data
        kind = data.get("type") if data is not None else None
        if event.done:
            self._ended = True
            return [Raw(event.raw), Done()]
        if data is None:
            return [Raw(event.raw)]  # a comment or keep-alive
        if kind == "error" or event.name == "error" or (kind is None and "error" in data):
            self._ended = True
            return [self._failure(data.get("error", data))]
        if kind == "response.failed":
            self._ended = True
            response = data.get("response")
            return [self._failure(response.get("error") if isinstance(response, dict) else None)]
        if kind in ("response.completed", "response.incomplete"):
            self._ended = True
            response = data.get("response")
            self.response = response if isinstance(response, dict) else None
            usage = usage_from_body(response)
            return [Raw(event.raw), *([usage] if usage else []), Done()]
        return [Raw(event.raw)]

    def _failure(self, error: Any) -> Failure:
        """The upstream's own message and code; its status where its code tells one."""
        if isinstance(error, str):
            error = {"message": error}
        error = error if isinstance(error, dict) else {}
        message = error.get("message")
        code = error.get("code") if isinstance(error.get("code"), str) else error.get("type")
        code = code if isinstance(code, str) and code else "upstream_error"
        status = 502
        if "rate_limit" in code or code in ("too_many_requests", "insufficient_quota"):
            status = 429
        elif code.startswith("invalid_") or error.get("type") == "invalid_request_error":
            status = 400
        text = message if isinstance(message, str) and message else "no message"
        return Failure(f"reported an error ({code}): {text}", status, code)
