"""The Anthropic Messages dialect, for the anthropic SDK and every tool configured by
`ANTHROPIC_BASE_URL` (they post to `<base_url>mux/v1/messages`).

Pure functions and one small encoder, no I/O:

- `to_chat`: a Messages request -> the OpenAI chat body every upstream wire module takes
  (the reverse direction of `providers.anthropic.build_request`);
- `MessagesEncoder`: items -> Anthropic's named SSE events, or a whole `Message`;
- `error_body`, `count_tokens`, `models_page`, `model_object`.

Where the two forms do not match one to one, these rules apply (each is also stated where
it is applied, and every refusal is a 400 naming the field):

- Tool results of a user turn become `role: tool` messages first, in their order, then one
  user message with the rest of the turn: the chat form wants a call's result right after
  the call. Images inside a tool result move to that user message (chat takes images in
  user messages only); `is_error` prefixes the result's text with "Error: ".
- Thinking blocks of the history become the assistant message's `reasoning_content` (the
  field the mux's chat answers and the Ollama wire use); their signatures and
  `redacted_thinking` blocks are dropped, since only Anthropic can read them.
- Documents: a base64 PDF becomes a chat `file` part, a plain-text document a text part
  (its title first), a content document its text and image parts. URL and Files-API
  sources are refused: Anthropic fetches those itself, no other provider does.
- Anthropic-defined tools (web search, code execution, bash, text editor, computer...)
  and `mcp_servers` are refused: their schemas and runtimes live in Anthropic's API.
- `thinking.budget_tokens` becomes the `reasoning_effort` whose Anthropic budget
  (`providers.anthropic.THINKING_BUDGETS`) is the largest not above it, so a request sent on
  to an Anthropic upstream never thinks more than asked; `output_config.effort` wins over
  it ("xhigh" and "max" read "high").
- Fields with no chat meaning (`cache_control`, `service_tier`, `container`,
  `context_management`, `inference_geo`, `speed`) are ignored; `top_k` goes on by name.

And for answers (`MessagesEncoder`):

- Reasoning becomes thinking blocks only when the request turned thinking on; else it is
  left out, as Anthropic sends none then and clients read `content[0]` as the text.
- Finish reasons: stop -> `end_turn` (`stop_sequence` when the upstream named the
  sequence), length -> `max_tokens`, tool_calls -> `tool_use`, content_filter ->
  `refusal`; a "stop" after tool calls reads `tool_use`, the reason agent loops act on.
- Usage: `input_tokens` excludes the cached input that `cache_read_input_tokens` carries.
"""

from __future__ import annotations

import json
import math
import uuid
from http import HTTPStatus
from typing import Any

from ..errors import InvalidRequest, MuxError, UpstreamError
from ..items import (
    CONTENT_FILTER,
    LENGTH,
    STOP,
    TOOL_CALLS,
    Done,
    Failure,
    Finish,
    Item,
    Reasoning,
    Start,
    Text,
    ToolCall,
    Usage,
)
from ..providers.anthropic import THINKING_BUDGETS
from ..providers.anthropic import _arguments as tool_input

# Anthropic's minimum thinking budget, which is also the lowest effort's.
MIN_THINKING_BUDGET = THINKING_BUDGETS["low"]
# Anthropic's effort levels beyond OpenAI's three.
EFFORT_ALIASES = {"xhigh": "high", "max": "high"}
EFFORTS = ("low", "medium", "high", *EFFORT_ALIASES)
# Thinking configurations under which the model may think (so the answer may carry
# thinking blocks); "disabled" and no `thinking` at all mean it does not.
THINKING_ON = ("enabled", "adaptive")

IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# What a tool message says for an `is_error` result, before its text; and for a result that
# was only images or PDFs, which follow it in a user message.
TOOL_ERROR = "Error"
MEDIA_RESULT_TEXT = "(The result is in the next message.)"

STOP_REASONS = {
    STOP: "end_turn",
    LENGTH: "max_tokens",
    TOOL_CALLS: "tool_use",
    CONTENT_FILTER: "refusal",
}

# Anthropic's error types by status (docs.claude.com/en/api/errors); any other 4xx is an
# invalid request, any other 5xx an api_error.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
ANTHROPIC_ERROR_TYPES = frozenset({*ERROR_TYPES.values(), "api_error"})

# count_tokens: characters per token of the estimate, and what one image or PDF counts
# (Anthropic resizes large images to about 1.15 megapixels, about 1,600 tokens).
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 1600

# GET /v1/models: the mux knows no creation date, and Anthropic's model object needs one.
EPOCH = "1970-01-01T00:00:00Z"

_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- requests


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages request -> the OpenAI chat body for the upstream wire modules.

    `max_tokens` becomes chat's `max_tokens` (what OpenAI-compatible servers read; the
    Anthropic and Ollama wires read it too). A streamed request asks for usage
    (`stream_options.include_usage`), since every Anthropic answer reports it.
    """
    _check_object(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required: the name of a model, a string.", param="model")
    max_tokens = _max_tokens(body.get("max_tokens"))
    chat: dict[str, Any] = {"model": model, "messages": _messages(body)}
    chat["max_tokens"] = max_tokens
    chat.update(_tools(body))
    _sampling(body, chat)
    effort = _reasoning_effort(body, max_tokens)
    if effort is not None:
        chat["reasoning_effort"] = effort
    response_format = _response_format(body.get("output_config"))
    if response_format is not None:
        chat["response_format"] = response_format
    user = _user_id(body.get("metadata"))
    if user:
        chat["user"] = user
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false.", param="stream")
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _check_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")


def _max_tokens(value: Any) -> int:
    # Anthropic requires it, so its clients always send it; a missing one is a client bug
    # that Anthropic would answer with a 400 too.
    if value is None:
        raise InvalidRequest(
            "'max_tokens' is required: the most tokens the answer may have, a positive integer.",
            param="max_tokens",
        )
    if not _is_int(value) or value < 1:
        raise InvalidRequest("'max_tokens' must be a positive integer.", param="max_tokens")
    return value


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """`system` and `messages` -> chat messages, the system prompt first."""
    out: list[dict[str, Any]] = []
    system = _system(body.get("system"), "system")
    if system:
        out.append({"role": "system", "content": system})
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest(
            "'messages' is required: a non-empty array of user and assistant messages.",
            param="messages",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(
                f"'{where}' must be an object with 'role' and 'content'.", param=where
            )
        role = message.get("role")
        content = message.get("content")
        if role == "user":
            out.extend(_user_turn(content, where))
        elif role == "assistant":
            turn = _assistant_turn(content, where)
            if turn is not None:
                out.append(turn)
        elif role == "system":
            # Newer Anthropic models take system messages between turns.
            text = _system(content, f"{where}.content")
            if text:
                out.append({"role": "system", "content": text})
        else:
            raise InvalidRequest(
                f"'{where}.role' must be 'user' or 'assistant', not {role!r}.",
                param=f"{where}.role",
            )
    if all(m["role"] == "system" for m in out):
        raise InvalidRequest(
            "'messages' has nothing a model can read: only empty or redacted assistant turns.",
            param="messages",
        )
    return out


def _system(system: Any, where: str) -> str | list[dict[str, Any]] | None:
    """A system prompt: a string, or text blocks (kept as chat text parts, so that nothing
    is joined with a separator Anthropic would not have put there)."""
    if system is None or isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise InvalidRequest(f"'{where}' must be a string or an array of text blocks.", param=where)
    parts = []
    for j, block in enumerate(system):
        at = f"{where}[{j}]"
        if not isinstance(block, dict) or block.get("type") != "text":
            raise InvalidRequest(f"'{at}' must be a text block.", param=at)
        parts.append({"type": "text", "text": _string(block, "text", at, empty=True)})
    return parts


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A message's content blocks, each checked to be an object with a string `type`."""
    if not isinstance(content, list):
        raise InvalidRequest(
            f"'{where}.content' must be a string or an array of content blocks.",
            param=f"{where}.content",
        )
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            at = f"{where}.content[{j}]"
            raise InvalidRequest(f"'{at}' must be a content block with a 'type'.", param=at)
    return content


def _user_turn(content: Any, where: str) -> list[dict[str, Any]]:
    """A user turn -> its tool results as tool messages, then one user message with the
    rest (images of the tool results first, as they belong to what came before)."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    blocks = _blocks(content, where)
    if not blocks:
        raise InvalidRequest(
            f"'{where}.content' is empty: a user message needs at least one block.",
            param=f"{where}.content",
        )
    results: list[dict[str, Any]] = []
    carried: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        at = f"{where}.content[{j}]"
        kind = block["type"]
        if kind == "tool_result":
            message, images = _tool_result(block, at)
            results.append(message)
            carried.extend(images)
        elif kind in ("text", "image", "document"):
            parts.extend(_part(block, at))
        elif kind in ("tool_use", "thinking", "redacted_thinking"):
            raise InvalidRequest(
                f"'{at}' is a {kind} block, which belongs in an assistant message.", param=at
            )
        else:
            raise _unknown_block(kind, at)
    if carried or parts:
        results.append({"role": "user", "content": carried + parts})
    return results


def _assistant_turn(content: Any, where: str) -> dict[str, Any] | None:
    """An assistant turn -> one assistant message: its text, its thinking as
    `reasoning_content`, its tool_use blocks as `tool_calls`. Nothing left (only redacted
    thinking, or no blocks) -> no message."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, where)):
        at = f"{where}.content[{j}]"
        kind = block["type"]
        if kind == "text":
            texts.append(_string(block, "text", at, empty=True))
        elif kind == "thinking":
            thinking.append(_string(block, "thinking", at, empty=True))
        elif kind == "redacted_thinking":
            continue  # encrypted for Anthropic alone
        elif kind == "tool_use":
            calls.append(_tool_call(block, at))
        elif kind in ("image", "document", "tool_result"):
            raise InvalidRequest(
                f"'{at}' is a {kind} block, which belongs in a user message.", param=at
            )
        else:
            raise _unknown_block(kind, at)
    if not (texts or thinking or calls):
        return None
    # OpenAI's convention: null content when the turn is only tool calls.
    content = "".join(texts) if texts or not calls else None
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call(block: dict[str, Any], at: str) -> dict[str, Any]:
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"'{at}.input' must be an object.", param=f"{at}.input")
    return {
        "id": _string(block, "id", at),
        "type": "function",
        "function": {"name": _string(block, "name", at), "arguments": _JSON.encode(arguments)},
    }


def _tool_result(block: dict[str, Any], at: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tool_result block -> (its tool message, the image and file parts it carried)."""
    call_id = _string(block, "tool_use_id", at)
    content = block.get("content")
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for k, item in enumerate(_blocks(content, at)):
            where = f"{at}.content[{k}]"
            if item["type"] not in ("text", "image", "document"):
                raise InvalidRequest(
                    f"'{where}' must be a text, image or document block, not {item['type']!r}.",
                    param=where,
                )
            for part in _part(item, where):
                if part["type"] == "text":
                    texts.append(part["text"])
                else:
                    media.append(part)
    elif content is not None:
        raise InvalidRequest(
            f"'{at}.content' must be a string or an array of content blocks.",
            param=f"{at}.content",
        )
    text = "\n".join(t for t in texts if t)
    if not text and media:
        text = MEDIA_RESULT_TEXT
    is_error = block.get("is_error")
    if is_error is not None and not isinstance(is_error, bool):
        raise InvalidRequest(f"'{at}.is_error' must be true or false.", param=f"{at}.is_error")
    if is_error:
        text = f"{TOOL_ERROR}: {text}" if text else TOOL_ERROR
    return {"role": "tool", "tool_call_id": call_id, "content": text}, media


def _part(block: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """A text, image or document block -> chat content parts."""
    kind = block["type"]
    if kind == "text":
        return [{"type": "text", "text": _string(block, "text", at, empty=True)}]
    if kind == "image":
        return [{"type": "image_url", "image_url": {"url": _image_url(block.get("source"), at)}}]
    return _document(block, at)


def _image_url(source: Any, at: str) -> str:
    where = f"{at}.source"
    kind = _source_type(source, where)
    if kind == "base64":
        media_type = source.get("media_type")
        if media_type not in IMAGE_MEDIA_TYPES:
            raise InvalidRequest(
                f"'{where}.media_type' must be one of {', '.join(IMAGE_MEDIA_TYPES)}.",
                param=f"{where}.media_type",
            )
        return f"data:{media_type};base64,{_string(source, 'data', where)}"
    if kind == "url":
        return _http_url(source, where)
    if kind == "file":
        raise _files_api(where, "image")
    raise InvalidRequest(f"'{where}.type' must be 'base64' or 'url'.", param=f"{where}.type")


def _document(block: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """A document block -> chat parts (see the module's rules)."""
    where = f"{at}.source"
    source = block.get("source")
    kind = _source_type(source, where)
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if kind == "base64":
        if source.get("media_type") != "application/pdf":
            raise InvalidRequest(
                f"'{where}.media_type' must be 'application/pdf'.", param=f"{where}.media_type"
            )
        data = _string(source, "data", where)
        file = {
            "filename": title or "document.pdf",
            "file_data": f"data:application/pdf;base64,{data}",
        }
        return [{"type": "file", "file": file}]
    if kind == "text":
        text = _string(source, "data", where, empty=True)
        return [{"type": "text", "text": f"{title}\n\n{text}" if title else text}]
    if kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            return [{"type": "text", "text": content}]
        parts = []
        for k, item in enumerate(_blocks(content, where)):
            inner = f"{where}.content[{k}]"
            if item["type"] not in ("text", "image"):
                raise InvalidRequest(f"'{inner}' must be a text or image block.", param=inner)
            parts.extend(_part(item, inner))
        return parts
    if kind == "url":
        raise InvalidRequest(
            f"'{where}' is a PDF URL, which Anthropic's API fetches itself and no other provider "
            "does: send the PDF as a base64 source instead.",
            param=where,
        )
    if kind == "file":
        raise _files_api(where, "document")
    raise InvalidRequest(
        f"'{where}.type' must be 'base64', 'text' or 'content'.", param=f"{where}.type"
    )


def _source_type(source: Any, where: str) -> Any:
    if not isinstance(source, dict):
        raise InvalidRequest(f"'{where}' must be an object with a 'type'.", param=where)
    return source.get("type")


def _http_url(source: dict[str, Any], where: str) -> str:
    url = source.get("url")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidRequest(f"'{where}.url' must be an http(s) URL.", param=f"{where}.url")
    return url


def _files_api(where: str, what: str) -> InvalidRequest:
    return InvalidRequest(
        f"'{where}' refers to Anthropic's Files API, which the mux does not serve: send the "
        f"{what} as base64{' or a URL' if what == 'image' else ''} instead.",
        param=where,
    )


def _unknown_block(kind: str, at: str) -> InvalidRequest:
    if kind in ("server_tool_use", "container_upload") or kind.endswith("_tool_result"):
        return InvalidRequest(
            f"'{at}' is a {kind} block of an Anthropic server tool, which no provider behind "
            "the mux can run.",
            param=at,
        )
    return InvalidRequest(
        f"'{at}' has type {kind!r}; the mux takes text, image, document, tool_use, "
        "tool_result, thinking and redacted_thinking blocks.",
        param=at,
    )


def _tools(body: dict[str, Any]) -> dict[str, Any]:
    """`tools` and `tool_choice` -> chat's `tools`, `tool_choice`, `parallel_tool_calls`."""
    tools = body.get("tools")
    functions: list[dict[str, Any]] = []
    if tools is not None and not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array of tools.", param="tools")
    for i, tool in enumerate(tools or []):
        at = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"'{at}' must be an object.", param=at)
        kind = tool.get("type")
        if kind not in (None, "custom"):
            raise InvalidRequest(
                f"'{at}' has type {kind!r}, a tool defined and run by Anthropic's API, which "
                "no provider behind the mux can run: define a custom tool (name, "
                "input_schema) instead.",
                param=f"{at}.type",
            )
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise InvalidRequest(
                f"'{at}.input_schema' is required: the JSON schema of the tool's input.",
                param=f"{at}.input_schema",
            )
        function: dict[str, Any] = {"name": _string(tool, "name", at)}
        description = tool.get("description")
        if isinstance(description, str) and description:
            function["description"] = description
        function["parameters"] = schema
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        functions.append({"type": "function", "function": function})
    if body.get("mcp_servers"):
        raise InvalidRequest(
            "'mcp_servers' asks Anthropic's API to call MCP servers, which no provider behind "
            "the mux does: connect the MCP tools on the client side instead.",
            param="mcp_servers",
        )
    out: dict[str, Any] = {"tools": functions} if functions else {}
    choice = body.get("tool_choice")
    if choice is None:
        return out
    if not isinstance(choice, dict):
        raise InvalidRequest("'tool_choice' must be an object with a 'type'.", param="tool_choice")
    kind = choice.get("type")
    names = [f["function"]["name"] for f in functions]
    if kind in ("any", "tool") and not functions:
        raise InvalidRequest(
            f"'tool_choice' is {kind!r}, but the request has no tools.", param="tool_choice"
        )
    if kind == "any":
        out["tool_choice"] = "required"
    elif kind == "tool":
        name = choice.get("name")
        if name not in names:
            raise InvalidRequest(
                f"'tool_choice.name' must name one of the tools ({', '.join(names)}).",
                param="tool_choice.name",
            )
        out["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif kind in ("auto", "none"):
        if functions:  # chat refuses a tool_choice without tools
            out["tool_choice"] = kind
    else:
        raise InvalidRequest(
            "'tool_choice.type' must be 'auto', 'any', 'tool' or 'none'.", param="tool_choice.type"
        )
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise InvalidRequest(
            "'tool_choice.disable_parallel_tool_use' must be true or false.",
            param="tool_choice.disable_parallel_tool_use",
        )
    if disable and functions and kind != "none":
        out["parallel_tool_calls"] = False
    return out


def _sampling(body: dict[str, Any], chat: dict[str, Any]) -> None:
    """temperature, top_p (Anthropic's ranges, [0, 1]), top_k and stop_sequences.

    `top_k` goes on under its name: OpenAI-compatible servers (vLLM, llama.cpp, LM Studio)
    and the Ollama wire read it; the Anthropic wire leaves it out."""
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is None:
            continue
        if not _is_number(value) or not 0 <= value <= 1:
            raise InvalidRequest(f"'{name}' must be a number from 0 to 1.", param=name)
        chat[name] = value
    top_k = body.get("top_k")
    if top_k is not None:
        if not _is_int(top_k) or top_k < 0:
            raise InvalidRequest("'top_k' must be a non-negative integer.", param="top_k")
        chat["top_k"] = top_k
    stop = body.get("stop_sequences")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise InvalidRequest(
                "'stop_sequences' must be an array of strings.", param="stop_sequences"
            )
        if stop:
            chat["stop"] = stop


def _reasoning_effort(body: dict[str, Any], max_tokens: int) -> str | None:
    """`thinking` and `output_config.effort` -> chat's `reasoning_effort` (module rules)."""
    thinking = body.get("thinking")
    effort = None
    if thinking is not None:
        if not isinstance(thinking, dict):
            raise InvalidRequest("'thinking' must be an object with a 'type'.", param="thinking")
        kind = thinking.get("type")
        if kind == "disabled":
            return None
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not _is_int(budget) or budget < MIN_THINKING_BUDGET:
                raise InvalidRequest(
                    f"'thinking.budget_tokens' must be an integer of at least "
                    f"{MIN_THINKING_BUDGET}.",
                    param="thinking.budget_tokens",
                )
            if budget >= max_tokens:
                raise InvalidRequest(
                    "'max_tokens' must be greater than 'thinking.budget_tokens'.",
                    param="max_tokens",
                )
            effort = _effort_for_budget(budget)
        elif kind not in ("adaptive", "between_tools"):
            raise InvalidRequest(
                "'thinking.type' must be 'enabled', 'adaptive' or 'disabled'.",
                param="thinking.type",
            )
    config = _output_config(body.get("output_config"))
    asked = config.get("effort")
    if asked is not None:
        if asked not in EFFORTS:
            raise InvalidRequest(
                f"'output_config.effort' must be one of {', '.join(EFFORTS)}.",
                param="output_config.effort",
            )
        effort = EFFORT_ALIASES.get(asked, asked)
    return effort


def _effort_for_budget(budget: int) -> str:
    """The effort whose Anthropic budget is the largest not above `budget`."""
    fitting = [e for e, b in THINKING_BUDGETS.items() if b <= budget]
    return max(fitting, key=THINKING_BUDGETS.__getitem__, default="low")


def _output_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidRequest("'output_config' must be an object.", param="output_config")
    return config


def _response_format(config: Any) -> dict[str, Any] | None:
    """`output_config.format` (structured outputs) -> chat's json_schema response format."""
    fmt = _output_config(config).get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise InvalidRequest(
            '\'output_config.format\' must be {"type": "json_schema", "schema": {...}}.',
            param="output_config.format",
        )
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise InvalidRequest(
            "'output_config.format.schema' must be a JSON schema object.",
            param="output_config.format.schema",
        )
    return {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def _user_id(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise InvalidRequest("'metadata' must be an object.", param="metadata")
    user_id = metadata.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise InvalidRequest("'metadata.user_id' must be a string.", param="metadata.user_id")
    return user_id


def _string(obj: dict[str, Any], key: str, at: str, *, empty: bool = False) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or (not value and not empty):
        raise InvalidRequest(
            f"'{at}.{key}' must be a {'' if empty else 'non-empty '}string.", param=f"{at}.{key}"
        )
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------------- answers


class MessagesEncoder:
    """Items -> Anthropic's answer: named SSE events (`stream`, `failure`) or a whole
    `Message` (`body`), for one request.

    Content blocks are numbered 0, 1, 2... in the order they start, whatever their kind,
    as Anthropic numbers them; a new block starts whenever the kind changes (thinking ->
    text -> tool_use), and each tool call is a block of its own. The previous block is
    stopped when the next starts, so one block is open at a time. `message_start` goes out
    with the first block (or the end): until then nothing is written, so a failure before
    any content can still be answered with its real status and sent to the next target,
    and `message_start` can carry the input usage an upstream reported first. An upstream that
    interleaves the argument deltas of parallel calls still gets each delta to its own
    call's block index (the SDK's accumulator reads them so).

    Thinking reaches the client only when its request turned thinking on (`enabled` or
    `adaptive`): a client that did not is entitled to read `content[0]` as the text. The
    stop reason and usage are sent when the answer ends (`Done`), since OpenAI-compatible
    upstreams report usage after their finish reason. A tool call ended by a plain "stop"
    reads `tool_use`: agent loops run tools only on that reason.

    A passthrough (`Raw` items) is not this encoder's: `dialects.Passthrough` relays those
    bytes and asks this encoder only for its `failure`.
    """

    content_type = "text/event-stream"

    def __init__(self, body: dict[str, Any], model: str) -> None:
        thinking = body.get("thinking") if isinstance(body, dict) else None
        self._thinking = isinstance(thinking, dict) and thinking.get("type") in THINKING_ON
        self._model = model
        self._id = ""
        self._began = False
        self._ended = False
        self._blocks: list[dict[str, Any]] = []  # the content so far, as in a Message
        self._open: int | None = None  # index of the block not yet stopped
        self._signed = False  # the open thinking block has its signature: no more deltas
        self._calls: dict[int, int] = {}  # tool call index -> block index
        self._arguments: dict[int, list[str]] = {}  # block index -> argument fragments
        self._finish: Finish | None = None
        self._usage = Usage()

    # -- the Encoder protocol

    def stream(self, items: list[Item]) -> bytes:
        out: list[bytes] = []
        for item in items:
            self._item(item, out)
        return b"".join(out)

    def failure(self, failure: Failure) -> bytes:
        """Anthropic ends a failing stream with one `error` event and nothing after it; the
        SDK raises it as an APIStatusError carrying this body. An Anthropic upstream's own
        error type (the Failure's `code`, e.g. overloaded_error) is kept; else the type
        follows the status."""
        if self._ended:
            return b""
        self._ended = True
        kind = failure.code if failure.code in ANTHROPIC_ERROR_TYPES else error_type(failure.status)
        return _event({"type": "error", "error": {"type": kind, "message": failure.message}})

    def body(self, items: list[Item]) -> dict[str, Any]:
        """A whole `Message`. A `Failure` among the items is raised as an UpstreamError, so
        that the handler answers with its status and `error_body`; Anthropic's 529, which
        is no HTTP status Tornado knows, becomes 503 (overloaded too, retried by SDKs)."""
        for item in items:
            if isinstance(item, Failure):
                status = _http_status(item.status)
                raise UpstreamError(item.message, status=status, code=item.code)
            self._item(item, [])
        self._close([])
        return self._message(final=True)

    # -- items

    def _item(self, item: Item, out: list[bytes]) -> None:
        if self._ended:
            return
        if isinstance(item, Failure):
            out.append(self.failure(item))
        elif isinstance(item, Usage):
            self._usage = item
        elif isinstance(item, Finish):
            self._finish = item
        elif isinstance(item, Start):
            if not self._began:
                self._id = item.id or self._id
                self._model = item.model or self._model
        elif isinstance(item, Done):
            self._end(out)
        elif isinstance(item, Text):
            self._text(item, out)
        elif isinstance(item, Reasoning):
            self._reasoning(item, out)
        elif isinstance(item, ToolCall):
            self._tool_call(item, out)

    def _begin(self, out: list[bytes]) -> None:
        if self._began:
            return
        self._began = True
        self._id = self._id or "msg_" + uuid.uuid4().hex[:24]
        out.append(_event({"type": "message_start", "message": self._message(final=False)}))

    def _end(self, out: list[bytes]) -> None:
        self._begin(out)
        self._close(out)
        reason, sequence = self._stop_reason()
        delta = {"stop_reason": reason, "stop_sequence": sequence}
        out.append(_event({"type": "message_delta", "delta": delta, "usage": self._usage_body()}))
        out.append(_event({"type": "message_stop"}))
        self._ended = True

    def _text(self, item: Text, out: list[bytes]) -> None:
        if not item.text:
            return
        index = self._current("text")
        if index is None:
            index = self._start({"type": "text", "text": ""}, out)
        self._blocks[index]["text"] += item.text
        self._delta(index, {"type": "text_delta", "text": item.text}, out)

    def _reasoning(self, item: Reasoning, out: list[bytes]) -> None:
        if not self._thinking:
            return
        if item.redacted:
            self._start({"type": "redacted_thinking", "data": item.redacted}, out)
            return
        if not item.text and not item.signature:
            return
        index = self._current("thinking")
        if index is None or self._signed:
            index = self._start({"type": "thinking", "thinking": "", "signature": ""}, out)
        block = self._blocks[index]
        if item.text:
            block["thinking"] += item.text
            self._delta(index, {"type": "thinking_delta", "thinking": item.text}, out)
        if item.signature:
            block["signature"] = item.signature
            self._signed = True
            self._delta(index, {"type": "signature_delta", "signature": item.signature}, out)

    def _tool_call(self, item: ToolCall, out: list[bytes]) -> None:
        index = self._calls.get(item.index)
        if index is None:
            call_id = item.id or "toolu_" + uuid.uuid4().hex[:24]
            block = {"type": "tool_use", "id": call_id, "name": item.name or "", "input": {}}
            index = self._start(block, out)
            self._calls[item.index] = index
            self._arguments[index] = []
        if item.arguments:
            self._arguments[index].append(item.arguments)
            delta = {"type": "input_json_delta", "partial_json": item.arguments}
            self._delta(index, delta, out)

    # -- blocks

    def _current(self, kind: str) -> int | None:
        """The open block's index when it is of `kind`, else None."""
        if self._open is not None and self._blocks[self._open]["type"] == kind:
            return self._open
        return None

    def _start(self, block: dict[str, Any], out: list[bytes]) -> int:
        self._begin(out)
        self._close(out)
        index = len(self._blocks)
        self._blocks.append(block)
        self._open = index
        self._signed = False
        start = {"type": "content_block_start", "index": index, "content_block": dict(block)}
        out.append(_event(start))
        return index

    def _delta(self, index: int, delta: dict[str, Any], out: list[bytes]) -> None:
        out.append(_event({"type": "content_block_delta", "index": index, "delta": delta}))

    def _close(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(_event({"type": "content_block_stop", "index": self._open}))
            self._open = None

    # -- the message

    def _stop_reason(self) -> tuple[str, str | None]:
        finish = self._finish or Finish(TOOL_CALLS if self._calls else STOP)
        if finish.reason == STOP and finish.stop_sequence:
            return "stop_sequence", finish.stop_sequence
        if finish.reason == STOP and self._calls:
            return "tool_use", None
        return STOP_REASONS.get(finish.reason, "end_turn"), None

    def _usage_body(self) -> dict[str, Any]:
        """Anthropic's usage: `input_tokens` without the cached part, which
        `cache_read_input_tokens` carries (items count it inside `prompt_tokens`)."""
        usage = self._usage
        cached = usage.cached_tokens or 0
        body: dict[str, Any] = {
            "input_tokens": max((usage.prompt_tokens or 0) - cached, 0),
            "output_tokens": usage.completion_tokens or 0,
            "cache_read_input_tokens": cached,
        }
        if usage.reasoning_tokens is not None:
            body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
        return body

    def _message(self, *, final: bool) -> dict[str, Any]:
        reason, sequence = self._stop_reason() if final else (None, None)
        return {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [self._finished(i, b) for i, b in enumerate(self._blocks)] if final else [],
            "stop_reason": reason,
            "stop_sequence": sequence,
            "usage": self._usage_body(),
        }

    def _finished(self, index: int, block: dict[str, Any]) -> dict[str, Any]:
        if block["type"] != "tool_use":
            return block
        return {**block, "input": tool_input("".join(self._arguments[index]))}


def _http_status(status: int) -> int:
    """A status MuxError can carry (it needs an HTTPStatus): 529 becomes 503, any other
    unknown one 502."""
    try:
        return HTTPStatus(status).value
    except ValueError:
        return 503 if status == 529 else 502


def _event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {_JSON.encode(data)}\n\n".encode()


# --------------------------------------------------------------------------- errors


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP status (the SDKs pick their exception class from
    the status, users and agents read the type)."""
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(exc: MuxError) -> dict[str, Any]:
    """Anthropic's error body for a MuxError, sent with the error's own status."""
    return {"type": "error", "error": {"type": error_type(exc.status), "message": exc.message}}


# --------------------------------------------------------------------------- count_tokens


def count_tokens(body: dict[str, Any]) -> int:
    """An estimate of a request's input tokens, for `/v1/messages/count_tokens` when the
    upstream has no count of its own.

    The request is read as `to_chat` reads it (so a request it would refuse gets the same
    400; `max_tokens` is not needed here), then: one token per `CHARS_PER_TOKEN` characters,
    rounded up, of the text the model sees (system prompt, messages, tool calls with their
    arguments, tool results, the tools' names, descriptions and JSON schemas), plus
    `IMAGE_TOKENS` per image or PDF. Thinking of earlier turns is not counted, as Anthropic
    does not count it. Deterministic: the same request always counts the same.
    """
    _check_object(body)
    characters = 0
    media = 0
    for message in _messages(body):
        content = message.get("content")
        if isinstance(content, str):
            characters += len(content)
        for part in content if isinstance(content, list) else []:
            if part["type"] == "text":
                characters += len(part["text"])
            else:
                media += 1
        for call in message.get("tool_calls", []):
            characters += len(call["function"]["name"]) + len(call["function"]["arguments"])
    for tool in _tools(body).get("tools", []):
        characters += len(_JSON.encode(tool["function"]))
    return math.ceil(characters / CHARS_PER_TOKEN) + media * IMAGE_TOKENS


# --------------------------------------------------------------------------- models


def model_object(model_id: str, provider: str) -> dict[str, Any]:
    """Anthropic's model object (`GET /v1/models/{id}`) for a model of the workspace.
    `lifecycle` is required by current SDKs; the mux only lists models it can serve."""
    return {
        "type": "model",
        "id": model_id,
        "display_name": f"{model_id} ({provider})" if provider else model_id,
        "created_at": EPOCH,
        "lifecycle": "active",
    }


def models_page(entries: list[tuple[str, str]]) -> dict[str, Any]:
    """Anthropic's `GET /v1/models` page for (model id, provider name) entries: always the
    whole list in one page, so `has_more` is false."""
    data = [model_object(model_id, provider) for model_id, provider in entries]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
