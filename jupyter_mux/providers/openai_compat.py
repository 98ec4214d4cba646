"""The OpenAI wire format, spoken natively by OpenAI, OpenRouter, vLLM, LM Studio and
llama.cpp: requests pass through with the model replaced, answers pass through untouched."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..store import ModelRecord

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
