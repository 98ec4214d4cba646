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
    _check_stream_options(body.get("stream_options"))
    return MuxRequest(kind, body, stream)


def _check_stream_options(options: Any) -> None:
    """The mux reads and rewrites `stream_options` (to ask for usage), so its shape is
    checked here rather than failing there."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
    if not isinstance(options.get("include_usage", False), bool):
        raise InvalidRequest(
            "'stream_options.include_usage' must be true or false.",
            param="stream_options.include_usage",
        )


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
# The scan runs on the event loop, so it must be linear in what a client sends whatever it
# holds. Fences are found by a pattern with one quantifier followed by a literal (at most
# one step back per blank), the rest of the line by `str.find`; only bounded info strings,
# and a bounded number of them, reach the token pattern, whose group cannot overlap its
# optional parts (it holds no quote and no `=`).
_FENCE = re.compile(r"^[ \t]*(?:```|~~~)", re.MULTILINE)
_FILE_TOKEN = re.compile(r"""(?:title=)?["']?([\w./\\-]+)["']?""")
_TOKEN_SPLIT = re.compile(r"[\s:]+")
_SEPARATORS = frozenset("./\\")
# An info string longer than this names no file (paths in fences are short).
MAX_INFO = 1024
# Per request: characters of message text scanned, and fences looked at. Enough for any
# real conversation, and a ceiling on what one request can make the loop do.
MAX_SCANNED = 4 << 20
MAX_FENCES = 1000


def mentioned_files(body: dict[str, Any], header: str | None = None) -> tuple[str, ...]:
    """File names a request carries: the `X-Mux-File` header (comma-separated) and the
    paths in code-fence info strings of its messages or prompt (within the first
    MAX_SCANNED characters and MAX_FENCES fences)."""
    files = [f.strip() for f in (header or "").split(",") if f.strip()]
    for info in fence_infos(_texts(body)):
        for token in _TOKEN_SPLIT.split(info.strip()):
            match = _FILE_TOKEN.fullmatch(token)
            if match is None:
                continue
            name = match.group(1)
            if not name.startswith(".") and not _SEPARATORS.isdisjoint(name):
                files.append(name)
    return tuple(dict.fromkeys(files))


def fence_infos(texts: list[str]) -> list[str]:
    """The info strings of the code fences in `texts`: the rest of a line that starts, after
    blanks, with ``` or ~~~, holding no backtick and at most MAX_INFO characters."""
    infos: list[str] = []
    budget = MAX_SCANNED
    for text in texts:
        if budget <= 0:
            break
        text = text[:budget]
        budget -= len(text)
        for fence in _FENCE.finditer(text):
            start = fence.end()
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            if end - start > MAX_INFO:
                continue
            info = text[start:end]
            if "`" not in info:
                infos.append(info)
                if len(infos) == MAX_FENCES:
                    return infos
    return infos


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
