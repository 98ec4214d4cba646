"""A Responses request -> the OpenAI chat body, the one request form inside the mux.

How request fields map to chat:

- `input` (a string, or items: messages with input_text / input_image / input_file /
  output_text / refusal parts, `function_call`, `function_call_output`, `reasoning`) ->
  `messages`, after `instructions` (one system message) and the `history` of
  `previous_response_id`. System and developer messages become `system`, which every
  upstream takes. Consecutive function calls join the assistant turn before them, as chat
  carries parallel calls; a reasoning item's text becomes the `reasoning_content` of the
  assistant turn after it (its `encrypted_content` is OpenAI's own and is dropped).
- function `tools` (flat) -> chat's nested function tools; `tool_choice` (an
  `allowed_tools` choice narrows `tools` to the allowed ones); `max_output_tokens` ->
  `max_completion_tokens`; `reasoning.effort` -> `reasoning_effort`; `text.format` ->
  `response_format`; `text.verbosity` -> `verbosity`; `temperature`, `top_p`,
  `parallel_tool_calls`, `user`, `safety_identifier`, `prompt_cache_key`, `service_tier`
  keep their names. A stream asks for `stream_options.include_usage`, since the final
  `response.completed` event carries usage.

The rule for a field with no chat counterpart: it is accepted and not sent upstream when it
only concerns how the mux keeps or reports the response (`store`, `metadata`,
`previous_response_id`, `include`, `truncation`, `reasoning.summary`, `stream_options`,
`top_logprobs`, `max_tool_calls`, `prompt_cache_retention`; echoed in the `Response` where
it has a field), and refused with a 400 naming it when dropping it would change the answer:
built-in tools (web_search, file_search, computer_use...) and their items, which no upstream
behind the mux can run; `background`, `conversation` and stored `prompt`s, which need
OpenAI's own storage; `item_reference` items; images given by file id. Fields this module
does not know are dropped, so that a newer client still gets an answer.
"""

from __future__ import annotations

from typing import Any

from ...errors import InvalidRequest

# `reasoning.effort` values the Responses API takes.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# Chat fields that Responses carries under the same name and meaning.
SAME_NAME = ("user", "safety_identifier", "prompt_cache_key", "service_tier")


def to_chat(body: dict[str, Any], history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Responses request -> the OpenAI chat body upstreams take. `history` is the chat
    messages of the conversation so far (from `previous_response_id`), put before the new
    input. Raises `InvalidRequest` naming the field for what cannot be answered faithfully."""
    for field in ("background", "conversation", "prompt"):
        if body.get(field) not in (None, False):
            raise InvalidRequest(
                f"'{field}' needs OpenAI's own storage, which the mux does not have; "
                "continue a conversation with 'previous_response_id' instead.",
                param=field,
            )
    _check_bookkeeping(body)
    chat: dict[str, Any] = {}
    if isinstance(body.get("model"), str):
        chat["model"] = body["model"]
    chat["messages"] = _instructions(body) + (history or [])
    if body.get("input") is not None or not history:
        chat["messages"] += input_messages(body)
    chat.update(_tooling(body))
    chat.update(_sampling(body))
    chat.update(_text_config(body.get("text")))
    for field in SAME_NAME:
        value = body.get(field)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidRequest(f"'{field}' must be a string.", param=field)
            chat[field] = value
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _check_bookkeeping(body: dict[str, Any]) -> None:
    """Fields the mux keeps rather than sends: still a 400 when malformed."""
    for field in ("stream", "store"):
        if body.get(field) is not None and not isinstance(body[field], bool):
            raise InvalidRequest(f"'{field}' must be true or false.", param=field)
    previous = body.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise InvalidRequest(
            "'previous_response_id' must be the id of a stored response.",
            param="previous_response_id",
        )
    metadata = body.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise InvalidRequest("'metadata' must be an object of string values.", param="metadata")


def _instructions(body: dict[str, Any]) -> list[dict[str, Any]]:
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise InvalidRequest("'instructions' must be a string.", param="instructions")
    return [{"role": "system", "content": instructions}] if instructions else []


def _tooling(body: dict[str, Any]) -> dict[str, Any]:
    """`tools`, `tool_choice` and `parallel_tool_calls`, in chat's form; the last two only
    with tools, since chat refuses them alone."""
    chat: dict[str, Any] = {}
    tools = _tools(body.get("tools"))
    choice, allowed = _tool_choice(body.get("tool_choice"), tools)
    if allowed is not None:
        tools = [t for t in tools if t["function"]["name"] in allowed]
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise InvalidRequest(
            "'parallel_tool_calls' must be true or false.", param="parallel_tool_calls"
        )
    if tools:
        chat["tools"] = tools
        if choice is not None:
            chat["tool_choice"] = choice
        if parallel is not None:
            chat["parallel_tool_calls"] = parallel
    return chat


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    """The answer's length, randomness and reasoning effort, in chat's names."""
    chat: dict[str, Any] = {}
    limit = body.get("max_output_tokens")
    if limit is not None:
        if not _is_int(limit) or limit < 1:
            raise InvalidRequest(
                "'max_output_tokens' must be a positive integer.", param="max_output_tokens"
            )
        chat["max_completion_tokens"] = limit
    for field, top in (("temperature", 2), ("top_p", 1)):
        value = body.get(field)
        if value is not None:
            if not _is_number(value) or not 0 <= value <= top:
                raise InvalidRequest(f"'{field}' must be a number from 0 to {top}.", param=field)
            chat[field] = value
    effort = _effort(body.get("reasoning"))
    if effort is not None:
        chat["reasoning_effort"] = effort
    return chat


def input_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's `input` as chat messages, without `instructions` or history: what a
    stored conversation keeps of this turn (instructions apply to one request only)."""
    value = body.get("input")
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if value is None:
        raise InvalidRequest(
            "'input' is required: a string, or an array of input items.",
            param="input",
            code="missing_field",
        )
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'input' must be a string or a non-empty array of input items.", param="input"
        )
    messages: list[dict[str, Any]] = []
    reasoning: list[str] = []  # reasoning text waiting for the assistant turn after it
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"'{where}' must be an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            message = _message(item, where)
            if message["role"] == "assistant":
                _take_reasoning(message, reasoning)
            messages.append(message)
        elif kind == "function_call":
            call = _function_call(item, where)
            last = messages[-1] if messages else None
            if last is None or last["role"] != "assistant":
                last = {"role": "assistant", "content": None}
                messages.append(last)
            _take_reasoning(last, reasoning)
            last.setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            messages.append(_function_call_output(item, where))
        elif kind == "reasoning":
            reasoning += _reasoning_text(item, where)
        elif kind == "item_reference":
            raise InvalidRequest(
                f"'{where}' is an item_reference: the mux keeps no items by id; send the "
                "item itself, or continue with 'previous_response_id'.",
                param=f"{where}.type",
            )
        elif isinstance(kind, str):
            raise InvalidRequest(
                f"'{where}' is a '{kind}' item, which the mux cannot take: no upstream behind "
                "it runs built-in tools. Allowed: message, function_call, "
                "function_call_output, reasoning.",
                param=f"{where}.type",
            )
        else:
            raise InvalidRequest(f"'{where}.type' must be a string.", param=f"{where}.type")
    return messages


def chat_to_input(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages (a stored conversation) -> Responses input items: the inverse of
    `input_messages`, for an upstream that speaks Responses and so cannot be handed the
    mux's own `previous_response_id`. Reasoning is left out: a reasoning input item must
    carry the id the upstream gave it, which chat does not keep."""
    items: list[dict[str, Any]] = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role == "tool":
            output = content if isinstance(content, str) else _input_parts(content)
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": output,
                }
            )
            continue
        if role == "assistant":
            if content:
                items.append({"type": "message", "role": "assistant", "content": content})
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id"),
                        "name": function.get("name"),
                        "arguments": function.get("arguments") or "",
                    }
                )
            continue
        if not isinstance(content, str):
            content = _input_parts(content)
        # `type` is optional in OpenAI's API, but servers such as llama.cpp require it.
        items.append({"type": "message", "role": role, "content": content})
    return items


def _input_parts(parts: Any) -> list[dict[str, Any]]:
    """Chat content parts -> Responses input parts (what `_part` reads back)."""
    result = []
    for part in parts or []:
        kind = part.get("type")
        if kind == "text":
            result.append({"type": "input_text", "text": part["text"]})
        elif kind == "image_url":
            image = part["image_url"]
            result.append({"type": "input_image", "image_url": image["url"], **_detail(image)})
        elif kind == "file":
            result.append({"type": "input_file", **part["file"]})
    return result


def _detail(image: dict[str, Any]) -> dict[str, Any]:
    return {"detail": image["detail"]} if "detail" in image else {}


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(
            f"'{where}.role' must be one of user, assistant, system, developer.",
            param=f"{where}.role",
        )
    content = item.get("content")
    if isinstance(content, str):
        parts: list[dict[str, Any]] | str = content
    elif isinstance(content, list):
        parts = [_part(p, f"{where}.content[{j}]", role) for j, p in enumerate(content)]
    else:
        raise InvalidRequest(
            f"'{where}.content' must be a string or an array of content parts.",
            param=f"{where}.content",
        )
    if role == "assistant":
        # One string: what every upstream takes for an assistant turn.
        text = parts if isinstance(parts, str) else "".join(p["text"] for p in parts)
        return {"role": "assistant", "content": text}
    return {"role": "user" if role == "user" else "system", "content": parts}


def _part(part: Any, where: str, role: str) -> dict[str, Any]:
    """A Responses content part -> a chat content part."""
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "refusal"):
        text = part.get("refusal" if kind == "refusal" else "text")
        if not isinstance(text, str):
            raise InvalidRequest(f"'{where}.text' must be a string.", param=f"{where}.text")
        return {"type": "text", "text": text}
    if kind in ("input_image", "input_file") and role != "user":
        raise InvalidRequest(
            f"'{where}' is an {kind} part: images and files go in user messages only.",
            param=f"{where}.type",
        )
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest(
                f"'{where}.image_url' must be an http(s) or data: URL (images given by "
                "'file_id' need OpenAI's file storage, which the mux does not have).",
                param=f"{where}.image_url",
            )
        image: dict[str, Any] = {"url": url}
        if isinstance(part.get("detail"), str):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if part.get("file_url") is not None:
            raise InvalidRequest(
                f"'{where}.file_url' has no counterpart upstream; send the file as "
                "'file_data' (a base64 data: URL).",
                param=f"{where}.file_url",
            )
        file = {
            k: part[k] for k in ("file_data", "file_id", "filename") if isinstance(part.get(k), str)
        }
        if "file_data" not in file and "file_id" not in file:
            raise InvalidRequest(
                f"'{where}' needs 'file_data' or 'file_id'.", param=f"{where}.file_data"
            )
        return {"type": "file", "file": file}
    raise InvalidRequest(
        f"'{where}' must be a content part of type input_text, input_image, input_file, "
        "output_text or refusal.",
        param=f"{where}.type",
    )


def _function_call(item: dict[str, Any], where: str) -> dict[str, Any]:
    for field in ("call_id", "name"):
        if not isinstance(item.get(field), str) or not item[field]:
            raise InvalidRequest(
                f"'{where}.{field}' must be a non-empty string.", param=f"{where}.{field}"
            )
    arguments = item.get("arguments", "")
    if not isinstance(arguments, str):
        raise InvalidRequest(
            f"'{where}.arguments' must be a string (the arguments as JSON text).",
            param=f"{where}.arguments",
        )
    return {
        "id": item["call_id"],
        "type": "function",
        "function": {"name": item["name"], "arguments": arguments},
    }


def _function_call_output(item: dict[str, Any], where: str) -> dict[str, Any]:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            f"'{where}.call_id' must name the function call it answers.",
            param=f"{where}.call_id",
        )
    output = item.get("output")
    if isinstance(output, list):
        parts = [_part(p, f"{where}.output[{j}]", "user") for j, p in enumerate(output)]
        if all(p["type"] == "text" for p in parts):
            output = "".join(p["text"] for p in parts)
        else:
            output = parts
    elif not isinstance(output, str):
        raise InvalidRequest(
            f"'{where}.output' must be a string or an array of content parts.",
            param=f"{where}.output",
        )
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def _reasoning_text(item: dict[str, Any], where: str) -> list[str]:
    """A reasoning item's text: its full reasoning where given, else its summary."""
    for field, kind in (("content", "reasoning_text"), ("summary", "summary_text")):
        parts = item.get(field)
        if parts is None:
            continue
        if not isinstance(parts, list) or not all(
            isinstance(p, dict) and p.get("type") == kind and isinstance(p.get("text"), str)
            for p in parts
        ):
            raise InvalidRequest(
                f"'{where}.{field}' must be an array of {kind} parts.", param=f"{where}.{field}"
            )
        if parts:
            return [p["text"] for p in parts]
    return []


def _take_reasoning(message: dict[str, Any], reasoning: list[str]) -> None:
    if reasoning:
        message["reasoning_content"] = message.get("reasoning_content", "") + "".join(reasoning)
        reasoning.clear()


def _tools(value: Any) -> list[dict[str, Any]]:
    """Flat Responses function tools -> chat's nested ones; a built-in tool is refused."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest("'tools' must be an array of function tools.", param="tools")
    tools = []
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            if not isinstance(kind, str):
                raise InvalidRequest(
                    f"'{where}' must be an object with a 'type'.", param=f"{where}.type"
                )
            raise InvalidRequest(
                f"'{where}' is a built-in '{kind}' tool, which no upstream behind the mux can "
                "run; only 'function' tools are accepted.",
                param=f"{where}.type",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(
                f"'{where}.name' must be a non-empty string.", param=f"{where}.name"
            )
        function: dict[str, Any] = {"name": name}
        for field, kinds in (("description", str), ("parameters", dict), ("strict", bool)):
            given = tool.get(field)
            if given is None:
                continue
            if not isinstance(given, kinds):
                what = {str: "a string", dict: "a JSON schema object", bool: "true or false"}
                raise InvalidRequest(
                    f"'{where}.{field}' must be {what[kinds]}.", param=f"{where}.{field}"
                )
            function[field] = given
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(value: Any, tools: list[dict[str, Any]]) -> tuple[Any, set[str] | None]:
    """Responses `tool_choice` -> (chat's `tool_choice`, the allowed tool names or None)."""
    if value is None or value in ("auto", "none", "required"):
        return value, None
    kind = value.get("type") if isinstance(value, dict) else None
    names = {t["function"]["name"] for t in tools}
    if kind == "function":
        name = value.get("name")
        if name not in names:
            raise InvalidRequest(
                "'tool_choice.name' must name one of the function tools in 'tools'.",
                param="tool_choice.name",
            )
        return {"type": "function", "function": {"name": name}}, None
    if kind == "allowed_tools":
        mode = value.get("mode")
        if mode not in ("auto", "required"):
            raise InvalidRequest(
                "'tool_choice.mode' must be auto or required.", param="tool_choice.mode"
            )
        allowed = value.get("tools")
        if not isinstance(allowed, list) or not all(
            isinstance(t, dict) and t.get("type") == "function" and t.get("name") in names
            for t in allowed
        ):
            raise InvalidRequest(
                "'tool_choice.tools' must list function tools of 'tools' by "
                '{"type": "function", "name": ...}.',
                param="tool_choice.tools",
            )
        return mode, {t["name"] for t in allowed}
    if isinstance(kind, str):
        raise InvalidRequest(
            f"'tool_choice' names a built-in '{kind}' tool, which no upstream behind the mux "
            "can run.",
            param="tool_choice",
        )
    raise InvalidRequest(
        "'tool_choice' must be auto, none, required, a function "
        '({"type": "function", "name": ...}) or an allowed_tools choice.',
        param="tool_choice",
    )


def _effort(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest("'reasoning' must be an object.", param="reasoning")
    effort = value.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise InvalidRequest(
            f"'reasoning.effort' must be one of {', '.join(EFFORTS)}.", param="reasoning.effort"
        )
    return effort


def _text_config(value: Any) -> dict[str, Any]:
    """`text` -> chat's `response_format` and `verbosity`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("'text' must be an object.", param="text")
    chat: dict[str, Any] = {}
    verbosity = value.get("verbosity")
    if verbosity is not None:
        if verbosity not in ("low", "medium", "high"):
            raise InvalidRequest(
                "'text.verbosity' must be low, medium or high.", param="text.verbosity"
            )
        chat["verbosity"] = verbosity
    fmt = value.get("format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return chat
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        name, schema = fmt.get("name"), fmt.get("schema")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(
                "'text.format.name' must be a non-empty string.", param="text.format.name"
            )
        if not isinstance(schema, dict):
            raise InvalidRequest(
                "'text.format.schema' must be a JSON schema object.", param="text.format.schema"
            )
        spec: dict[str, Any] = {"name": name, "schema": schema}
        for field in ("description", "strict"):
            if fmt.get(field) is not None:
                spec[field] = fmt[field]
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    else:
        raise InvalidRequest(
            "'text.format.type' must be text, json_object or json_schema.",
            param="text.format.type",
        )
    return chat


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
