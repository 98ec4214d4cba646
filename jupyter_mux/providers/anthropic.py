"""The Anthropic Messages API wire format, spoken to from OpenAI's.

Clients of the mux speak OpenAI's chat completions (and legacy completions); Anthropic speaks
its Messages API. Everything here is a pure translation between the two (only `discover`
does I/O), so that every rule can be tested on recorded payloads without a network.

The translations are written against failures seen in other OpenAI-to-Anthropic bridges:
tool-call arguments must stream as `tool_calls`, never as `content`; parallel tool calls are
numbered by tool call, not by content block; images are never dropped silently; the finish
reason follows Anthropic's stop reason; the first text after a thinking block is kept; and a
stream always opens with the `role` chunk that OpenAI clients expect.

Requests that cannot be expressed for Anthropic (token-id prompts, unreadable image URLs) raise
`ValueError` with a message meant for the client, so the caller can answer 400 rather than
send a request that is bound to fail or, worse, succeed with part of the input missing.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from ..framing import Event
from ..items import (
    Done,
    Failure,
    Finish,
    Item,
    Reasoning,
    Start,
    Text,
    ToolCall,
    Usage,
    truncated,
)
from ..store import ModelRecord

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

# GET /v1/models pages: Anthropic's largest page size, and a bound so that a provider that
# keeps answering `has_more` cannot keep discovery going forever.
MODELS_PAGE_LIMIT = 1000
MAX_MODEL_PAGES = 20

# OpenAI's `reasoning_effort` -> Anthropic's thinking budget. Anthropic's minimum budget is
# 1024 tokens; "minimal" and "none" mean no thinking at all.
THINKING_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
# With thinking on, Anthropic accepts top_p only in [0.95, 1].
THINKING_MIN_TOP_P = 0.95

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

FIM_INSTRUCTIONS = (
    "Continue the text in the user's message from exactly where it stops. Reply with only "
    "the continuation: do not repeat the text, and add no commentary or formatting."
)
FIM_SUFFIX_INSTRUCTIONS = (
    "The user's message is the text before a gap; the text after the gap is given below "
    "between <suffix> tags. Reply with only the text that fills the gap, so that before + "
    "your reply + after reads as one piece: do not repeat either side, and add no commentary "
    "or formatting.\n\n<suffix>{suffix}</suffix>"
)
FIM_EMPTY_PREFIX = "(The text before the gap is empty.)"

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def api_base(endpoint: str) -> str:
    """Users paste endpoints with and without the `/v1` suffix; both mean the same API."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Anthropic authenticates with `x-api-key`, not a bearer token, and refuses any request
    without an `anthropic-version`, models listing included."""
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


# --------------------------------------------------------------------------- models


def parse_models(payload: Any) -> tuple[list[ModelRecord], str | None]:
    """Read one page of GET /v1/models. Returns the page's models and the `after_id` of the
    next page, or None when this was the last one. Each entry's other fields (display name,
    creation date, capabilities, token limits) are kept as metadata for the UI."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError("the models endpoint did not answer an Anthropic model list")
    models = []
    for entry in payload["data"]:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
            info = {k: v for k, v in entry.items() if k not in ("id", "type")}
            models.append(ModelRecord(entry["id"], info))
    last_id = payload.get("last_id")
    more = payload.get("has_more") is True and isinstance(last_id, str) and bool(last_id)
    return models, (last_id if more else None)


async def discover(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], timeout: httpx.Timeout
) -> list[ModelRecord]:
    """List every model, page by page. `headers` must carry `auth_headers(key)`: Anthropic
    answers 401 without `x-api-key` and 400 without `anthropic-version`. Stops after
    MAX_MODEL_PAGES pages or when a cursor repeats, so a misbehaving server cannot loop us."""
    models: list[ModelRecord] = []
    params: dict[str, str | int] = {"limit": MODELS_PAGE_LIMIT}
    seen: set[str] = set()
    for _ in range(MAX_MODEL_PAGES):
        response = await client.get(
            f"{base_url}/models", params=params, headers=headers, timeout=timeout
        )
        if response.status_code >= 400:
            response.raise_for_status()
        page, after_id = parse_models(response.json())
        models.extend(page)
        if after_id is None or after_id in seen:
            break
        seen.add(after_id)
        params = {"limit": MODELS_PAGE_LIMIT, "after_id": after_id}
    return models


# --------------------------------------------------------------------------- requests


def build_request(kind: str, body: dict[str, Any], model: str) -> bytes:
    """An OpenAI request body -> the JSON bytes of an Anthropic Messages request for `model`.

    `kind` is "chat" (a /chat/completions body) or "fim" (a legacy /completions body). Only
    fields with an Anthropic meaning are carried over; the rest (`n`, `seed`, `logprobs`,
    `response_format`, penalties, `stream_options`...) are dropped, since Anthropic rejects
    unknown fields. Raises ValueError for input Anthropic cannot be given faithfully.
    """
    if kind == "fim":
        system, messages = _fim_messages(body)
    else:
        system, messages = _chat_messages(body.get("messages"))
    request: dict[str, Any] = {"model": model}
    max_tokens = _positive_int(body.get("max_completion_tokens"))
    if max_tokens is None:
        max_tokens = _positive_int(body.get("max_tokens"))
    request["max_tokens"] = max_tokens or DEFAULT_MAX_TOKENS
    if system:
        request["system"] = system
    request["messages"] = messages

    tools = _tools(body.get("tools")) if kind == "chat" else []
    tool_choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if tools:
        request["tools"] = tools
        if tool_choice is not None:
            request["tool_choice"] = tool_choice

    stop = _stop_sequences(body.get("stop"))
    if stop:
        request["stop_sequences"] = stop

    temperature = _number(body.get("temperature"))
    top_p = _number(body.get("top_p"))
    budget = _thinking_budget(kind, body.get("reasoning_effort"), request)
    if budget is not None:
        request["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if request["max_tokens"] <= budget:
            # OpenAI counts reasoning inside max_completion_tokens, Anthropic requires the
            # budget to be below max_tokens: keep the asked-for room for the answer itself.
            request["max_tokens"] = budget + request["max_tokens"]
        # Anthropic refuses a temperature with thinking, and a top_p below 0.95.
        temperature = None
        if top_p is not None and top_p < THINKING_MIN_TOP_P:
            top_p = None
    if temperature is not None:
        # OpenAI's range is [0, 2], Anthropic's [0, 1].
        request["temperature"] = min(max(temperature, 0.0), 1.0)
        # Recent Claude models refuse temperature and top_p together; the temperature is
        # the one clients set on purpose (top_p=1 is a common library default).
        top_p = None
    if top_p is not None:
        request["top_p"] = top_p

    user = body.get("user")
    if isinstance(user, str) and user:
        request["metadata"] = {"user_id": user}
    stream = body.get("stream")
    if isinstance(stream, bool):
        request["stream"] = stream
    return _JSON.encode(request).encode()


def _chat_messages(messages: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """OpenAI messages -> (Anthropic `system`, Anthropic `messages`).

    System and developer messages, wherever they are, become the one top-level `system`
    (joined by blank lines), as Anthropic has no system role. Tool messages become
    `tool_result` blocks of a user turn. Consecutive turns of one role are merged, because
    Anthropic requires user and assistant to alternate: this is what puts the results of
    parallel tool calls into the single user turn Anthropic expects.
    """
    if not isinstance(messages, list):
        raise ValueError("'messages' must be an array of messages")
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"'messages[{i}]' must be an object")
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            text = _text_of(content)
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _content_blocks(content, f"messages[{i}]", images=True)
            _append_turn(turns, "user", blocks)
        elif role == "assistant":
            blocks = _content_blocks(content, f"messages[{i}]", images=False)
            blocks.extend(_tool_uses(message.get("tool_calls")))
            _append_turn(turns, "assistant", blocks)
        elif role == "tool":
            _append_turn(turns, "user", [_tool_result(message, f"messages[{i}]")])
        else:
            raise ValueError(f"'messages[{i}]' has a role Anthropic cannot take: {role!r}")
    for turn in turns:
        if turn["role"] == "user":
            # Anthropic wants a turn's tool results before any other content.
            blocks = turn["content"]
            turn["content"] = [b for b in blocks if b["type"] == "tool_result"] + [
                b for b in blocks if b["type"] != "tool_result"
            ]
    _trim_prefill(turns)
    if not turns:
        raise ValueError("the conversation needs at least one user or assistant message")
    return ("\n\n".join(system) or None), turns


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    # An empty turn is dropped rather than sent: Anthropic rejects empty content, and the
    # merge below keeps the roles alternating without it.
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _trim_prefill(turns: list[dict[str, Any]]) -> None:
    """A final assistant turn is a prefill, and Anthropic rejects one that ends in
    whitespace; trailing whitespace carries no meaning to keep."""
    if not turns or turns[-1]["role"] != "assistant":
        return
    blocks = turns[-1]["content"]
    if blocks and blocks[-1]["type"] == "text":
        text = blocks[-1]["text"].rstrip()
        if text:
            blocks[-1] = {"type": "text", "text": text}
        else:
            blocks.pop()
    if not blocks:
        turns.pop()


def _text_of(content: Any) -> str:
    """The text of a system message: a string, or text parts joined by blank lines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n\n".join(p for p in parts if isinstance(p, str) and p)
    return ""


def _content_blocks(content: Any, where: str, *, images: bool) -> list[dict[str, Any]]:
    """OpenAI content (a string or a list of parts) -> Anthropic content blocks.

    Empty text is skipped, since Anthropic rejects empty text blocks. Images go to user turns
    only (Anthropic has no assistant images); a part type with no Anthropic counterpart
    (audio, uploaded file ids) is dropped.
    """
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise ValueError(f"'{where}.content' must be a string or an array of content parts")
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        if isinstance(part, str):
            part = {"type": "text", "text": part}
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if isinstance(text, str) and text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url" and images:
            blocks.append(_image_block(part.get("image_url"), f"{where}.content[{j}]"))
        elif kind == "file" and images:
            document = _document_block(part.get("file"))
            if document is not None:
                blocks.append(document)
    return blocks


def _image_block(image_url: Any, where: str) -> dict[str, Any]:
    """An OpenAI image_url part -> an Anthropic image block. data: URLs become base64
    sources, http(s) URLs become url sources (Anthropic fetches them itself). Anything else
    raises: answering without the image would be a wrong answer, not a partial one."""
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if isinstance(url, str):
        if url.startswith("data:"):
            source = _data_url(url)
            if source is not None:
                return {"type": "image", "source": source}
        elif url.startswith(("https://", "http://")):
            return {"type": "image", "source": {"type": "url", "url": url}}
    raise ValueError(f"'{where}.image_url.url' must be an http(s) URL or a base64 data: URL")


def _document_block(file: Any) -> dict[str, Any] | None:
    """An OpenAI file part carrying a PDF as a data: URL -> an Anthropic document block."""
    if not isinstance(file, dict) or not isinstance(file.get("file_data"), str):
        return None
    source = _data_url(file["file_data"])
    if source is None or source["media_type"] != "application/pdf":
        return None
    return {"type": "document", "source": source}


def _data_url(url: str) -> dict[str, str] | None:
    """Parse `data:[<media type>][;base64],<data>` (RFC 2397) into an Anthropic base64
    source; a percent-encoded payload is re-encoded as base64."""
    header, comma, data = url[len("data:") :].partition(",")
    if not comma:
        return None
    params = [p.strip() for p in header.split(";")]
    media_type = params[0].lower()
    if not media_type:
        return None
    if "base64" in (p.lower() for p in params[1:]):
        data = "".join(data.split())
    else:
        data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
    return {"type": "base64", "media_type": media_type, "data": data}


def _tool_uses(tool_calls: Any) -> list[dict[str, Any]]:
    """An assistant's OpenAI `tool_calls` -> Anthropic tool_use blocks.

    OpenAI carries arguments as a JSON string, Anthropic as an object. Empty arguments mean
    `{}`. Arguments that are not a JSON object (a model can emit broken JSON) are kept as
    `{"_raw": <the string>}`: Anthropic insists on an object, and the model should still
    see what it wrote rather than have the call vanish from the history.
    """
    if not isinstance(tool_calls, list):
        return []
    blocks = []
    for call in tool_calls:
        if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
            continue
        function = call["function"]
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": _arguments(function.get("arguments")),
            }
        )
    return blocks


def _arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        parsed = json.loads(arguments)
    except (TypeError, ValueError):
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_raw": str(arguments)}


def _tool_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    """An OpenAI tool message -> an Anthropic tool_result block for the call it answers."""
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": str(message.get("tool_call_id") or ""),
    }
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif isinstance(content, list):
        parts = _content_blocks(content, where, images=True)
        parts = [p for p in parts if p["type"] in ("text", "image")]
        if parts:
            block["content"] = parts
    return block


def _tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI function tools -> Anthropic tools. Other tool types have no counterpart."""
    if not isinstance(tools, list):
        return []
    result = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            continue
        schema = function.get("parameters")
        if not isinstance(schema, dict) or not schema:
            schema = {"type": "object", "properties": {}}
        elif "type" not in schema:
            schema = {"type": "object", **schema}
        entry: dict[str, Any] = {"name": function["name"]}
        description = function.get("description")
        if isinstance(description, str) and description:
            entry["description"] = description
        entry["input_schema"] = schema
        result.append(entry)
    return result


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    """OpenAI `tool_choice` -> Anthropic's: auto/none/required/a named function ->
    auto/none/any/tool. `parallel_tool_calls: false` becomes `disable_parallel_tool_use`."""
    mapped: dict[str, Any] | None = None
    if choice in ("auto", "none"):
        mapped = {"type": choice}
    elif choice == "required":
        mapped = {"type": "any"}
    elif isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str) and name:
            mapped = {"type": "tool", "name": name}
    if parallel is False:
        if mapped is None:
            mapped = {"type": "auto"}
        if mapped["type"] != "none":
            mapped["disable_parallel_tool_use"] = True
    return mapped


def _thinking_budget(kind: str, effort: Any, request: dict[str, Any]) -> int | None:
    """The thinking budget for OpenAI's `reasoning_effort`, or None to leave thinking off.

    Thinking stays off where Anthropic would refuse it: with a forced tool choice, with a
    prefilled answer, and when the last assistant turn called tools. Anthropic then demands
    that turn's signed thinking blocks back, and OpenAI clients have no way to return them;
    so inside a tool loop only the first step thinks.
    """
    budget = THINKING_BUDGETS.get(effort) if kind == "chat" and isinstance(effort, str) else None
    if budget is None:
        return None
    if request.get("tool_choice", {}).get("type") in ("any", "tool"):
        return None
    if request["messages"][-1]["role"] == "assistant":
        return None  # Anthropic takes no prefilled answer with thinking on
    assistant = [t for t in request["messages"] if t["role"] == "assistant"]
    if assistant and any(b["type"] == "tool_use" for b in assistant[-1]["content"]):
        return None
    return budget


def _fim_messages(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A legacy completions body -> (system, one user message).

    Anthropic has no completion endpoint, so the prompt becomes the user message and the
    system prompt tells the model to continue it, or to fill the gap before `suffix`.
    A list of prompts becomes one message with a text block per prompt: Anthropic answers
    once per request, so a batch cannot be answered separately anyway.
    """
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        prompts = prompt
    else:
        raise ValueError("Anthropic models take 'prompt' as text, not as token ids")
    blocks = [{"type": "text", "text": p} for p in prompts if p]
    suffix = body.get("suffix")
    if isinstance(suffix, str) and suffix:
        system = FIM_SUFFIX_INSTRUCTIONS.format(suffix=suffix)
        if not blocks:
            blocks = [{"type": "text", "text": FIM_EMPTY_PREFIX}]
    else:
        system = FIM_INSTRUCTIONS
    if not blocks:
        raise ValueError("'prompt' is empty: there is no text to complete")
    return system, [{"role": "user", "content": blocks}]


def _stop_sequences(stop: Any) -> list[str]:
    """OpenAI `stop` (a string or a list) -> `stop_sequences`. Anthropic rejects stop
    sequences made only of whitespace, so those are left out."""
    values = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    return [s for s in values if isinstance(s, str) and s.strip()]


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


# --------------------------------------------------------------------------- responses


def build_embeddings(body: dict[str, Any], model: str) -> bytes:
    raise ValueError(
        "Anthropic has no embeddings API: route embeddings to another provider with a "
        "workspace rule of request type 'embeddings'"
    )


def finish_reason(stop_reason: Any) -> str | None:
    """Anthropic's `stop_reason` -> OpenAI's `finish_reason`; an unknown reason still ended
    the answer, so it reads as "stop"."""
    if stop_reason is None:
        return None
    return FINISH_REASONS.get(stop_reason, "stop")


def usage(anthropic_usage: Any) -> Usage:
    """Anthropic usage -> a Usage item. Anthropic's `input_tokens` excludes cached input;
    the item's `prompt_tokens` includes it and tells the cached part separately."""
    u = anthropic_usage if isinstance(anthropic_usage, dict) else {}

    def count(key: str) -> int:
        value = u.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    cached = count("cache_read_input_tokens")
    prompt = count("input_tokens") + cached + count("cache_creation_input_tokens")
    return Usage(prompt, count("output_tokens"), cached)


def items_from_body(kind: str, payload: dict[str, Any], model: str) -> list[Item]:
    """An Anthropic Messages response -> items. `model` is used only when the payload names
    none."""
    if payload.get("type") == "error":
        return [failure(payload.get("error"))]
    items: list[Item] = [Start(str(payload.get("id") or ""), str(payload.get("model") or model))]
    tools = 0
    for block in payload.get("content") or []:
        if not isinstance(block, dict):
            continue
        kind_ = block.get("type")
        if kind_ == "text" and isinstance(block.get("text"), str):
            items.append(Text(block["text"]))
        elif kind_ == "thinking":
            items.append(Reasoning(str(block.get("thinking") or ""), block.get("signature")))
        elif kind_ == "redacted_thinking":
            items.append(Reasoning(redacted=str(block.get("data") or "")))
        elif kind_ == "tool_use":
            given = block.get("input")
            arguments = _JSON.encode(given if given is not None else {})
            items.append(
                ToolCall(tools, str(block.get("id") or ""), str(block.get("name") or ""), arguments)
            )
            tools += 1
    stop = payload.get("stop_sequence")
    items.append(
        Finish(
            finish_reason(payload.get("stop_reason")) or "stop",
            stop if isinstance(stop, str) else None,
        )
    )
    items += [usage(payload.get("usage")), Done()]
    return items


# Anthropic error types -> the status a client of the mux sees. Anthropic's own server-side
# types (overloaded, api_error) are the mux's 502: an upstream broke, and the next target
# may do better.
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
}


def failure(anthropic_error: Any) -> Failure:
    """An Anthropic error object `{"type", "message"}` -> a Failure, the Anthropic type kept
    as `code` so that clients can tell overload from a bad request."""
    error = anthropic_error if isinstance(anthropic_error, dict) else {}
    code = error.get("type") if isinstance(error.get("type"), str) else "api_error"
    message = error.get("message") if isinstance(error.get("message"), str) else None
    return Failure(f"reported an error: {message or code}", ERROR_STATUS.get(code, 502), code)


# --------------------------------------------------------------------------- streams


class StreamTranslator:
    """Anthropic's stream events -> items.

    Items number tool calls 0, 1, 2... while Anthropic numbers content blocks, which
    include text and thinking; the translator keeps the mapping from one to the other.
    """

    def __init__(self, kind: str, model: str) -> None:
        self.model = model
        self._tool_index: dict[int, int] = {}  # content block index -> tool call index
        self._usage: dict[str, Any] = {}
        self._started = False
        self._finished = False
        self.done = False

    def feed(self, events: list[Event]) -> list[Item]:
        out: list[Item] = []
        for event in events:
            if self.done:
                break
            data = event.data
            if data is not None:
                self._handle(data.get("type") or event.name, data, out)
        return out

    def close(self) -> list[Item]:
        """The body ended: a stream that never reached `message_stop` is truncated, so that a
        client cannot mistake a cut answer for a whole one."""
        if self.done:
            return []
        self.done = True
        return [truncated("the answer was complete")]

    def _handle(self, kind: Any, event: dict[str, Any], out: list[Item]) -> None:
        if kind == "message_start":
            message = event.get("message") if isinstance(event.get("message"), dict) else {}
            self.model = message.get("model") or self.model
            self._start(out, str(message.get("id") or ""))
            self._add_usage(message.get("usage"), out)
        elif kind == "content_block_start":
            self._block_start(event, out)
        elif kind == "content_block_delta":
            self._block_delta(event, out)
        elif kind == "message_delta":
            self._add_usage(event.get("usage"), out)
            delta = event.get("delta") if isinstance(event.get("delta"), dict) else {}
            reason = finish_reason(delta.get("stop_reason"))
            if reason is not None:
                stop = delta.get("stop_sequence")
                self._finish(Finish(reason, stop if isinstance(stop, str) else None), out)
        elif kind == "message_stop":
            self._start(out)
            self._finish(Finish(), out)
            out.append(Done())
            self.done = True
        elif kind == "error":
            out.append(failure(event.get("error")))
            self.done = True
        # ping, content_block_stop and event types added later carry nothing to translate.

    def _block_start(self, event: dict[str, Any], out: list[Item]) -> None:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return
        self._start(out)
        kind = block.get("type")
        if kind == "text":
            if isinstance(block.get("text"), str) and block["text"]:
                out.append(Text(block["text"]))
        elif kind == "thinking":
            if isinstance(block.get("thinking"), str) and block["thinking"]:
                out.append(Reasoning(block["thinking"]))
        elif kind == "redacted_thinking":
            out.append(Reasoning(redacted=str(block.get("data") or "")))
        elif kind == "tool_use":
            index = len(self._tool_index)
            self._tool_index[event.get("index", -1)] = index
            given = block.get("input")
            # Anthropic starts tool_use with `input: {}` and streams the arguments.
            arguments = _JSON.encode(given) if given else ""
            name = str(block.get("name") or "")
            out.append(ToolCall(index, str(block.get("id") or ""), name, arguments))

    def _block_delta(self, event: dict[str, Any], out: list[Item]) -> None:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return
        self._start(out)
        kind = delta.get("type")
        if kind == "text_delta":
            if isinstance(delta.get("text"), str) and delta["text"]:
                out.append(Text(delta["text"]))
        elif kind == "thinking_delta":
            if isinstance(delta.get("thinking"), str) and delta["thinking"]:
                out.append(Reasoning(delta["thinking"]))
        elif kind == "signature_delta":
            if isinstance(delta.get("signature"), str):
                out.append(Reasoning(signature=delta["signature"]))
        elif kind == "input_json_delta":
            index = self._tool_index.get(event.get("index", -1))
            fragment = delta.get("partial_json")
            if index is not None and isinstance(fragment, str) and fragment:
                out.append(ToolCall(index, arguments=fragment))
        # citations_delta has no counterpart in the items.

    def _add_usage(self, update: Any, out: list[Item]) -> None:
        # message_delta's usage is cumulative: later counts replace earlier ones.
        if isinstance(update, dict):
            self._usage.update({k: v for k, v in update.items() if v is not None})
            out.append(usage(self._usage))

    def _start(self, out: list[Item], message_id: str = "") -> None:
        if not self._started:
            self._started = True
            out.append(Start(message_id, self.model))

    def _finish(self, finish: Finish, out: list[Item]) -> None:
        if not self._finished:
            self._finished = True
            out.append(finish)
