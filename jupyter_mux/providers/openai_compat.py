"""The OpenAI wire format, spoken natively by OpenAI, OpenRouter, vLLM, LM Studio and
llama.cpp: requests pass through with the model replaced, answers pass through untouched."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..framing import Event
from ..items import STOP, Done, Finish, Item, Reasoning, Start, Text, ToolCall, Usage, truncated
from ..store import ModelRecord
from ..upstream_errors import reported

OPENROUTER_HEADERS = {
    "HTTP-Referer": "https://github.com/jupyter-mux/jupyter-mux",
    "X-Title": "jupyter-mux",
}


def api_base(endpoint: str) -> str:
    """Users paste endpoints with and without the `/v1` suffix; both mean the same API."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


def auth_headers(provider_type: str, api_key: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if provider_type == "openrouter":
        headers.update(OPENROUTER_HEADERS)
    return headers


def parse_models(payload: Any) -> list[ModelRecord]:
    """Read an OpenAI `list` of models; llama.cpp's extra `models` array is ignored, and each
    entry's other fields (owner, context length, OpenRouter's pricing) are kept as metadata."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError("the models endpoint did not answer an OpenAI model list")
    models = []
    for entry in payload["data"]:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
            info = {k: v for k, v in entry.items() if k not in ("id", "object")}
            models.append(ModelRecord(entry["id"], info))
    return models


async def discover(
    client: httpx.AsyncClient, base_url: str, headers: dict[str, str], timeout: httpx.Timeout
) -> list[ModelRecord]:
    response = await client.get(f"{base_url}/models", headers=headers, timeout=timeout)
    response.raise_for_status()
    return parse_models(response.json())


def build_body(body: dict[str, Any], model: str) -> bytes:
    """The workspace, not the client, decides the model."""
    return json.dumps({**body, "model": model}, separators=(",", ":")).encode()


def build_request(kind: str, body: dict[str, Any], model: str) -> bytes:
    """The workspace, not the client, decides the model; a stream always reports its usage
    (the mux records it for every request, and drops the chunk again for a client that did
    not ask for it)."""
    if body.get("stream") is True:
        options = body.get("stream_options")
        options = options if isinstance(options, dict) else {}
        if options.get("include_usage") is not True:
            body = {**body, "stream_options": {**options, "include_usage": True}}
    return build_body(body, model)


# --------------------------------------------------------------------------- answers


def usage_item(usage: dict[str, Any]) -> Usage:
    details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    return Usage(
        _count(usage.get("prompt_tokens")),
        _count(usage.get("completion_tokens")),
        _count(details.get("cached_tokens")) if isinstance(details, dict) else None,
        _count(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_items(message: dict[str, Any]) -> list[Item]:
    """The reasoning and text of a message or a stream's delta. llama.cpp and vLLM name the
    reasoning `reasoning_content`, OpenRouter and newer vLLM `reasoning`."""
    items: list[Item] = []
    reasoning = message.get("reasoning_content")
    if reasoning is None:
        reasoning = message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        items.append(Reasoning(reasoning))
    if isinstance(message.get("content"), str) and message["content"]:
        items.append(Text(message["content"]))
    return items


def items_from_body(kind: str, payload: dict[str, Any], model: str) -> list[Item]:
    """A chat.completion or text_completion -> items (for clients of another dialect)."""
    if "error" in payload and not payload.get("choices"):
        return [reported(payload)]
    items: list[Item] = [
        Start(str(payload.get("id") or ""), str(payload.get("model") or model), _created(payload))
    ]
    choices = payload.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    if not isinstance(choice, dict):
        raise ValueError("a choice that is not an object")
    message = choice.get("message") if kind == "chat" else None
    if isinstance(message, dict):
        items += _text_items(message)
        for index, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                arguments = function.get("arguments")
                items.append(
                    ToolCall(
                        index,
                        str(call.get("id") or ""),
                        str(function.get("name") or ""),
                        arguments if isinstance(arguments, str) else json.dumps(arguments),
                    )
                )
    elif isinstance(choice.get("text"), str) and choice["text"]:
        items.append(Text(choice["text"]))
    items.append(Finish(choice.get("finish_reason") or STOP))
    if isinstance(payload.get("usage"), dict):
        items.append(usage_item(payload["usage"]))
    items.append(Done())
    return items


def _created(payload: dict[str, Any]) -> int:
    created = payload.get("created")
    return created if isinstance(created, int) else 0


class StreamTranslator:
    """An OpenAI-compatible chat or completions stream -> items, for a client of another
    dialect (a Responses or Messages client on a chat upstream)."""

    def __init__(self, kind: str, model: str) -> None:
        self.chat = kind == "chat"
        self.model = model
        self.started = False
        self.done = False
        self.tool_ids: set[int] = set()

    def feed(self, events: list[Event]) -> list[Item]:
        out: list[Item] = []
        for event in events:
            if self.done:
                break
            data = event.data
            if data is None:
                if event.done:
                    out.append(Done())
                    self.done = True
                continue
            if event.name == "error" or "error" in data:
                out.append(reported(data))
                self.done = True
                break
            if not self.started:
                self.started = True
                model = str(data.get("model") or self.model)
                out.append(Start(str(data.get("id") or ""), model, _created(data)))
            choices = data.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                self._choice(choices[0], out)
            if isinstance(data.get("usage"), dict):
                out.append(usage_item(data["usage"]))
        return out

    def _choice(self, choice: dict[str, Any], out: list[Item]) -> None:
        delta = choice.get("delta") if self.chat else None
        if isinstance(delta, dict):
            out += _text_items(delta)
            for call in delta.get("tool_calls") or []:
                if isinstance(call, dict):
                    out.append(self._tool_call(call))
        elif isinstance(choice.get("text"), str) and choice["text"]:
            out.append(Text(choice["text"]))
        if choice.get("finish_reason"):
            out.append(Finish(str(choice["finish_reason"])))

    def _tool_call(self, call: dict[str, Any]) -> ToolCall:
        index = call.get("index") if isinstance(call.get("index"), int) else 0
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        arguments = function.get("arguments")
        arguments = arguments if isinstance(arguments, str) else ""
        if index in self.tool_ids:
            return ToolCall(index, arguments=arguments)
        self.tool_ids.add(index)
        name = str(function.get("name") or "")
        return ToolCall(index, str(call.get("id") or ""), name, arguments)

    def close(self) -> list[Item]:
        if self.done:
            return []
        self.done = True
        return [truncated()]
