"""Ollama's native REST API (`/api/tags`, `/api/chat`, `/api/generate`), spoken on behalf of
OpenAI clients.

Ollama also serves an OpenAI-compatible `/v1`, but the native API is the one its reference
documents in full: it reports `done_reason` and token counts on every final answer, streams
a model's `thinking` separately, and lists models with their details (family, size,
quantization). The price is a
translation in both directions, which lives here as pure functions over dicts and bytes so
that it can be tested on recorded payloads without a server: only `discover` does I/O.

Where the two APIs do not line up, the choices are:

* Ollama streams by default and OpenAI does not, so every request states `stream` explicitly.
* Ollama only takes images inline (base64). `data:` URLs are unpacked; an image at an
  http(s) URL raises `ValueError`, because fetching it would be I/O, and silently dropping it
  would have the model answer questions about an image it never saw.
* OpenAI's `developer` role becomes `system`; a `tool` message names its tool (`tool_name`),
  found through the `tool_call_id` of the assistant turn that asked for it.
* Ollama has no `tool_choice`: `"none"` leaves the tools out, anything else sends them.
* `reasoning_effort` becomes Ollama's `think` ("none" turns it off, "minimal" is "low"), and
  a non-standard top-level `think` passes through as is; neither is sent unless asked for,
  since models that cannot think reject the field.
* OpenAI fields with no Ollama meaning (`n`, `logprobs`, `user`, `echo`, ...) are dropped;
  legacy completions get no default `max_tokens` of 16, Ollama's own default applies.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from ..framing import Event
from ..items import (
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
    truncated,
)
from ..store import ModelRecord

# Request kind -> path under `api_base`.
PATHS: dict[str, str] = {"chat": "/api/chat", "fim": "/api/generate", "embeddings": "/api/embed"}

# OpenAI sampling fields that Ollama's `options` take under the same name. `top_k`, `min_p`
# and `repeat_penalty` are not OpenAI's, but clients written for local servers send them.
_SAME_NAME_OPTIONS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "repeat_penalty",
)

# OpenAI `reasoning_effort` -> Ollama `think`; Ollama knows only off/on and three levels.
_THINK_LEVELS: dict[str, bool | str] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
}

# The fields of a `/api/tags` entry's `details` kept as model metadata, flattened.
_DETAIL_FIELDS = (
    "format",
    "family",
    "families",
    "parameter_size",
    "quantization_level",
    "parent_model",
)


# --- endpoint and discovery -------------------------------------------------------------


def api_base(endpoint: str) -> str:
    """Users paste Ollama's root, its OpenAI-compatible `/v1`, or its native `/api`; all
    three mean the same server, and the native paths are appended to the root."""
    base = endpoint.strip().rstrip("/")
    for suffix in ("/v1", "/api"):
        if base.endswith(suffix):
            base = base[: -len(suffix)].rstrip("/")
            break
    return base


def auth_headers(api_key: str | None) -> dict[str, str]:
    """Ollama itself has no authentication, but one published behind a reverse proxy (or
    Ollama's hosted service) expects a bearer token."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def parse_models(payload: Any) -> list[ModelRecord]:
    """Read `GET /api/tags`. The model's `name` ("llama3.2:1b") is what `/api/chat` takes;
    size, digest, date and the `details` (family, parameter size, quantization) are kept
    flat as metadata so the UI can tell a 1B Q4 model from a 70B one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("models"), list):
        raise ValueError("the Ollama tags endpoint did not answer a {'models': [...]} list")
    models = []
    for entry in payload["models"]:
        if not isinstance(entry, dict):
            continue
        name = entry.get("name") or entry.get("model")
        if not isinstance(name, str) or not name:
            continue
        info: dict[str, Any] = {
            k: v
            for k, v in entry.items()
            if k not in ("name", "details") and v is not None and not (k == "model" and v == name)
        }
        details = entry.get("details")
        if isinstance(details, dict):
            info.update({k: details[k] for k in _DETAIL_FIELDS if details.get(k) not in (None, "")})
        models.append(ModelRecord(name, info))
    return models


async def discover(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], timeout: httpx.Timeout
) -> list[ModelRecord]:
    """List the models pulled into this Ollama (its `/api/tags`)."""
    response = await client.get(f"{base_url}/api/tags", headers=headers, timeout=timeout)
    response.raise_for_status()
    return parse_models(response.json())


def error_message(payload: Any) -> str | None:
    """Ollama reports failures as `{"error": "..."}`, both as an error response's body and
    as a line of a stream; a proxy in front of it may use OpenAI's `{"error": {"message"}}`.
    Raw bytes or text are parsed first; anything else yields None."""
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        return error["message"]
    return None


# --- requests ---------------------------------------------------------------------------


def build_request(kind: str, body: dict[str, Any], model: str) -> bytes:
    """Turn an OpenAI request body into the body of Ollama's native endpoint for `kind`.

    The workspace, not the client, decides the model. Raises `ValueError` for content Ollama
    cannot take (an image by URL, a token-id prompt, an unknown role), with a message meant
    for the client."""
    if kind == "chat":
        request = _chat_request(body, model)
    elif kind == "fim":
        request = _generate_request(body, model)
    else:
        raise ValueError(f"unknown request kind {kind!r}")
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()


def _chat_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise ValueError("'messages' must be an array")
    request: dict[str, Any] = {
        "model": model,
        "messages": _messages(messages),
        # Ollama streams unless told otherwise; OpenAI does not.
        "stream": body.get("stream") is True,
    }
    tools = body.get("tools")
    if tools and body.get("tool_choice") != "none":
        if not isinstance(tools, list):
            raise ValueError("'tools' must be an array")
        # Ollama takes OpenAI's {"type": "function", "function": {...}} shape as it is.
        request["tools"] = tools
    fmt = _format(body.get("response_format"))
    if fmt is not None:
        request["format"] = fmt
    think = _think(body)
    if think is not None:
        request["think"] = think
    options = _options(body)
    if options:
        request["options"] = options
    return request


def _generate_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    prompt = body.get("prompt", "")
    if isinstance(prompt, list):
        # One completion per request: an array of prompts is answered for its first.
        prompt = prompt[0] if prompt else ""
    if not isinstance(prompt, str):
        raise ValueError("Ollama takes the prompt as text; token-id prompts cannot be sent to it")
    request: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        # Not raw: Ollama's template is what turns prompt + suffix into the model's own
        # fill-in-the-middle tokens.
        "raw": False,
        "stream": body.get("stream") is True,
    }
    suffix = body.get("suffix")
    if isinstance(suffix, str) and suffix:
        request["suffix"] = suffix
    options = _options(body)
    if options:
        request["options"] = options
    return request


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's sampling fields, in Ollama's `options` (a Modelfile's parameters)."""
    options: dict[str, Any] = {}
    limit = body.get("max_completion_tokens")
    if limit is None:
        limit = body.get("max_tokens")
    if limit is not None:
        options["num_predict"] = limit
    for name in _SAME_NAME_OPTIONS:
        if body.get(name) is not None:
            options[name] = body[name]
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list) and stop:
        options["stop"] = stop
    return options


def _format(response_format: Any) -> str | dict[str, Any] | None:
    """JSON mode is Ollama's `format: "json"`; a JSON schema goes in `format` itself."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict):
            raise ValueError("response_format 'json_schema' needs a 'json_schema.schema' object")
        return schema
    return None


def _think(body: dict[str, Any]) -> bool | str | None:
    think = body.get("think")
    if isinstance(think, (bool, str)):
        return think
    effort = body.get("reasoning_effort")
    if isinstance(effort, str):
        return _THINK_LEVELS.get(effort)
    return None


def _messages(messages: list[Any]) -> list[dict[str, Any]]:
    tool_names: dict[str, str] = {}  # tool_call_id -> function name, for `tool` messages
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"messages[{i}] must be an object")
        role = message.get("role")
        where = f"messages[{i}]"
        text, images = _content(message.get("content"), where)
        if role in ("system", "developer"):
            converted: dict[str, Any] = {"role": "system", "content": text}
        elif role == "user":
            converted = {"role": "user", "content": text}
        elif role == "assistant":
            converted = {"role": "assistant", "content": text}
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                converted["thinking"] = reasoning
            calls = message.get("tool_calls")
            if calls:
                converted["tool_calls"] = _tool_calls_out(calls, where, tool_names)
        elif role in ("tool", "function"):
            converted = {"role": "tool", "content": text}
            name = tool_names.get(message.get("tool_call_id") or "") or message.get("name")
            if isinstance(name, str) and name:
                converted["tool_name"] = name
        else:
            raise ValueError(f"{where} has role {role!r}, which Ollama does not know")
        if images:
            converted["images"] = images
        out.append(converted)
    return out


def _tool_calls_out(calls: Any, where: str, tool_names: dict[str, str]) -> list[dict[str, Any]]:
    """OpenAI's tool calls carry their arguments as a JSON string, Ollama's as an object."""
    if not isinstance(calls, list):
        raise ValueError(f"{where}.tool_calls must be an array")
    out = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise ValueError(f"{where}.tool_calls[{j}] must have a function with a name")
        arguments = function.get("arguments")
        if arguments is None or arguments == "":
            arguments = {}
        elif isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                arguments = None
        if not isinstance(arguments, dict):
            raise ValueError(
                f"{where}.tool_calls[{j}].function.arguments must be a JSON object, "
                "which is how Ollama takes a tool call's arguments"
            )
        if isinstance(call.get("id"), str):
            tool_names[call["id"]] = function["name"]
        out.append({"function": {"name": function["name"], "arguments": arguments}})
    return out


def _content(content: Any, where: str) -> tuple[str, list[str]]:
    """Ollama's message content is one string plus a list of base64 images; OpenAI's may be
    an array of parts. Text parts are joined with newlines, so that words from adjacent
    parts cannot run together."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise ValueError(f"{where}.content must be a string or an array of content parts")
    texts: list[str] = []
    images: list[str] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
        elif kind == "image_url":
            images.append(_image(part.get("image_url"), f"{where}.content[{j}]"))
        else:
            raise ValueError(f"{where}.content[{j}] is a {kind!r} part, which Ollama cannot take")
    return "\n".join(texts), images


def _image(image_url: Any, where: str) -> str:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str) or not url:
        raise ValueError(f"{where}.image_url needs a 'url'")
    if not url.startswith("data:"):
        shown = url if len(url) <= 80 else url[:77] + "..."
        raise ValueError(
            f"{where} is an image at a URL ({shown}); Ollama takes images inline only, "
            "so send it as a base64 'data:' URL"
        )
    header, comma, data = url[5:].partition(",")
    if not comma:
        raise ValueError(f"{where} is not a valid data: URL (no comma)")
    if header.endswith(";base64"):
        data = "".join(data.split())
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{where} is a data: URL whose base64 does not decode") from None
        return data
    return base64.b64encode(unquote_to_bytes(data)).decode("ascii")


# --- responses --------------------------------------------------------------------------


def items_from_body(kind: str, payload: dict[str, Any], model: str) -> list[Item]:
    """Ollama's non-streamed answer (`/api/chat` or `/api/generate`) -> items. An
    `{"error"}` body is a Failure; a chat answer without a message raises `ValueError`."""
    if not isinstance(payload, dict):
        raise ValueError("Ollama's answer is not a JSON object")
    message = error_message(payload)
    if message is not None:
        return [Failure(f"reported an error: {message}")]
    if kind == "chat" and not isinstance(payload.get("message"), dict):
        raise ValueError("Ollama's chat answer has no 'message' object")
    items: list[Item] = [Start("", model, _created(payload))]
    items += _answer_items(kind, payload, ToolCounter())
    items += [_finish(payload, bool(_tool_calls(kind, payload))), _usage(payload), Done()]
    return items


def _tool_calls(kind: str, line: dict[str, Any]) -> list[Any]:
    message = line.get("message") if kind == "chat" else None
    calls = message.get("tool_calls") if isinstance(message, dict) else None
    return calls if isinstance(calls, list) else []


class ToolCounter:
    """Numbers tool calls across the lines of one answer."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count - 1


def _answer_items(kind: str, line: dict[str, Any], tools: ToolCounter) -> list[Item]:
    """The content of one answer or stream line: reasoning, text, tool calls."""
    if kind != "chat":
        # Thinking models also stream `thinking` here; a legacy completion has no place
        # for it, so only the answer is passed on.
        text = line.get("response")
        return [Text(text)] if isinstance(text, str) and text else []
    message = line.get("message")
    if not isinstance(message, dict):
        if line.get("done") is True:
            return []
        raise ValueError("a chat answer without a 'message' object")
    items: list[Item] = []
    thinking = message.get("thinking")
    if isinstance(thinking, str) and thinking:
        items.append(Reasoning(thinking))
    content = message.get("content")
    if isinstance(content, str) and content:
        items.append(Text(content))
    for call in _tool_calls(kind, line):
        call_id, name, arguments = _tool_call_in(call)
        items.append(ToolCall(tools.next(), call_id, name, arguments))
    return items


def _tool_call_in(call: Any) -> tuple[str, str, str]:
    """Ollama's tool call -> (id, name, arguments as a JSON string): Ollama's own id when it
    sends one, else a fresh `call_...`, since clients match results to ids."""
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise ValueError("Ollama sent a tool call without a function name")
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    call_id = call.get("id")
    call_id = call_id if isinstance(call_id, str) and call_id else _new_id("call_")
    return call_id, function["name"], arguments


def _finish(line: dict[str, Any], tool_calls: bool) -> Finish:
    """Ollama's `done_reason` is "stop", "length", or "load"/"unload" for the no-op requests
    that only (un)load a model; items know "stop", "length" and "tool_calls"."""
    if tool_calls:
        return Finish(TOOL_CALLS)
    return Finish(LENGTH if line.get("done_reason") == "length" else STOP)


def _usage(payload: dict[str, Any]) -> Usage:
    """Ollama omits `prompt_eval_count` when the whole prompt came from its cache."""
    return Usage(_count(payload.get("prompt_eval_count")), _count(payload.get("eval_count")))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _created(payload: dict[str, Any]) -> int:
    """OpenAI's `created` is Unix seconds; Ollama's `created_at` is RFC 3339, sometimes with
    nanoseconds, which Python's parser does not take, so the fraction is dropped first."""
    stamp = payload.get("created_at")
    if isinstance(stamp, str) and stamp:
        head, dot, tail = stamp.partition(".")
        if dot:
            digits = len(tail) - len(tail.lstrip("0123456789"))
            stamp = head + tail[digits:]
        try:
            return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
    return int(time.time())


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


# --- streams ----------------------------------------------------------------------------


class StreamTranslator:
    """Ollama's stream (one JSON object per line, NDJSON) -> items. Its last line says
    `"done": true` and carries the token counts; an `{"error"}` line is a Failure."""

    def __init__(self, kind: str, model: str) -> None:
        if kind not in ("chat", "fim"):
            raise ValueError(f"unknown request kind {kind!r}")
        self._kind = kind
        self._model = model
        self._tools = ToolCounter()
        self._started = False
        self.done = False

    def feed(self, events: list[Event]) -> list[Item]:
        out: list[Item] = []
        for event in events:
            if self.done or event.data is None:
                continue
            line = event.data
            message = error_message(line)
            if message is not None:
                out.append(Failure(f"reported an error: {message}"))
                self.done = True
                break
            if not self._started:
                self._started = True
                out.append(Start("", self._model, _created(line)))
            try:
                out += _answer_items(self._kind, line, self._tools)
            except ValueError as exc:
                out.append(
                    Failure(
                        f"sent an answer the mux could not read: {exc}.", 502, "upstream_malformed"
                    )
                )
                self.done = True
                break
            if line.get("done") is True:
                out += [_finish(line, self._tools.count > 0), _usage(line), Done()]
                self.done = True
        return out

    def close(self) -> list[Item]:
        if self.done:
            return []
        self.done = True
        return [truncated("its final message")]


# --- embeddings ---------------------------------------------------------------------------


def build_embeddings(body: dict[str, Any], model: str) -> bytes:
    """OpenAI's embeddings request -> Ollama's `/api/embed`. Ollama embeds text only."""
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("Ollama embeds text only: 'input' must be a string or strings")
    request: dict[str, Any] = {"model": model, "input": texts}
    if isinstance(body.get("dimensions"), int):
        request["dimensions"] = body["dimensions"]
    return json.dumps(request, ensure_ascii=False).encode()


def embeddings_answer(body: dict[str, Any], payload: dict[str, Any], model: str) -> dict[str, Any]:
    """Ollama's `{"embeddings": [[...]], "prompt_eval_count"}` -> OpenAI's list of
    embeddings, base64-encoded when the client asked so (the openai SDK does by default)."""
    vectors = payload.get("embeddings")
    if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
        raise ValueError("Ollama's answer has no 'embeddings' list")
    base64_out = body.get("encoding_format") == "base64"
    tokens = _count(payload.get("prompt_eval_count"))
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": i,
                "embedding": _base64_floats(v) if base64_out else v,
            }
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _base64_floats(vector: list[Any]) -> str:
    """OpenAI's base64 embedding: little-endian float32, as the SDKs decode it."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
