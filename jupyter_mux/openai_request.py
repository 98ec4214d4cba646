"""Checks on a client's OpenAI request, done before any upstream is contacted so that a
malformed request gets a 400 that names the field instead of a provider's puzzling answer."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest

# Path under /v1 -> the request kind that routing rules match on.
ROUTES = {"chat/completions": "chat", "completions": "fim"}


@dataclass(frozen=True, slots=True)
class MuxRequest:
    """A client's request, whatever its dialect.

    `kind` is the client's dialect: "chat", "fim" (legacy completions), "responses",
    "messages" or "embeddings". `body` is what the client sent; `chat` is the same request
    as an OpenAI chat body, for upstreams that do not speak the dialect (None for chat and
    fim, whose body is already that). `headers`: the client's headers the upstream should
    see (Anthropic's `anthropic-version` and `anthropic-beta`)."""

    kind: str
    body: dict[str, Any]
    stream: bool
    chat: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    # What an upstream that speaks the dialect is sent (model aside), where it differs from
    # `body`: a Responses request's `previous_response_id` becomes the stored conversation.
    upstream_body: dict[str, Any] | None = None

    @property
    def chat_body(self) -> dict[str, Any]:
        return self.body if self.chat is None else self.chat

    @property
    def model(self) -> str:
        """The model the client asked for: a placeholder, unless a `model` rule maps it."""
        model = self.body.get("model")
        return model if isinstance(model, str) else ""

    @property
    def request_type(self) -> str:
        """What `request_type` rules match: FIM for /completions, or any prompt carrying a
        suffix; embeddings; chat otherwise (chat, Responses and Messages alike)."""
        if self.kind == "embeddings":
            return "embeddings"
        return "fim" if self.kind == "fim" or self.body.get("suffix") is not None else "chat"

    @property
    def include_usage(self) -> bool:
        options = self.chat_body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body as JSON; every dialect's body is an object."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON: {exc}.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_body")
    return body


def parse_request(route: str, raw: bytes) -> MuxRequest:
    body = json_object(raw)
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


# A code fence's info string names a file in the forms editors and assistants write:
# ```python src/app.py, ```src/app.py, ```py:src/app.py or ```python title="src/app.py".
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)[ \t]*([^\n`]*)$", re.MULTILINE)
_FILE_TOKEN = re.compile(r"""(?:title=)?["']?([\w./\\-]*[./\\][\w./\\-]*)["']?""")


def mentioned_files(body: dict[str, Any], header: str | None = None) -> tuple[str, ...]:
    """File names a request carries: the `X-Mux-File` header (comma-separated) and the
    paths in code-fence info strings of its messages or prompt."""
    files = [f.strip() for f in (header or "").split(",") if f.strip()]
    for text in _texts(body):
        for info in _FENCE.findall(text):
            for token in re.split(r"[\s:]+", info.strip()):
                match = _FILE_TOKEN.fullmatch(token)
                if match and not match.group(1).startswith("."):
                    files.append(match.group(1))
    return tuple(dict.fromkeys(files))


def _texts(body: dict[str, Any]) -> list[str]:
    texts = []
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        texts.append(prompt)
    elif isinstance(prompt, list):
        texts += [p for p in prompt if isinstance(p, str)]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [
                part["text"]
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            ]
    return texts
