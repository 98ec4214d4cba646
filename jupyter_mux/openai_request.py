"""Checks on a client's OpenAI request, done before any upstream is contacted so that a
malformed request gets a 400 that names the field instead of a provider's puzzling answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest

# Path under /v1 -> the request kind that routing rules match on.
ROUTES = {"chat/completions": "chat", "completions": "fim"}


@dataclass(frozen=True, slots=True)
class MuxRequest:
    kind: str
    body: dict[str, Any]
    stream: bool

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True


def parse_request(route: str, raw: bytes) -> MuxRequest:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON: {exc}.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    kind = ROUTES[route]
    if kind == "chat":
        _check_messages(body.get("messages"))
    else:
        _check_prompt(body.get("prompt"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false.", param="stream")
    return MuxRequest(kind, body, stream)


def _check_messages(messages: Any) -> None:
    if messages is None:
        raise InvalidRequest("'messages' is required.", param="messages", code="missing_field")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest(
                f"'messages[{i}]' must be an object with a string 'role'.",
                param=f"messages[{i}]",
            )


def _check_prompt(prompt: Any) -> None:
    if prompt is None:
        raise InvalidRequest("'prompt' is required.", param="prompt", code="missing_field")
    if isinstance(prompt, str):
        return
    if (
        isinstance(prompt, list)
        and prompt
        and (all(isinstance(p, str) for p in prompt) or all(isinstance(p, int) for p in prompt))
    ):
        return
    raise InvalidRequest(
        "'prompt' must be a string, an array of strings, or an array of token ids.",
        param="prompt",
    )
