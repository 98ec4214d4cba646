"""A fake Ollama server that speaks Ollama's native REST API.

No installable server here speaks Ollama's native API (llama.cpp and the others speak
OpenAI's), so tests talk to this one instead. It is written from Ollama's API reference
(docs/api.md in the ollama repository), not from Ollama's code, and it answers the way that
reference describes:

* `GET /api/tags`: `{"models": [...]}` with name, model, modified_at, size, digest and the
  `details` object (format, family, families, parameter_size, quantization_level).
* `POST /api/chat` and `POST /api/generate`: with `"stream": false`, one JSON object; with
  `stream` true or absent (Ollama's default), NDJSON, one object per line, sent with chunked
  transfer encoding: a few content pieces with `done: false`, then a final `done: true` line
  carrying done_reason, total_duration, load_duration, prompt_eval_count,
  prompt_eval_duration, eval_count and eval_duration.
* An unknown model answers 404 `{"error": "model \\"X\\" not found, try pulling it first"}`.
* A chat request with `tools` is answered with a call of the first tool; `think: true`
  streams `thinking` before the answer; `options.num_predict` below the answer's length
  cuts it short with done_reason "length" (each piece counts as one token).
* `POST /api/embed`: `input` a string or strings -> `{"model", "embeddings": [[...], ...],
  "prompt_eval_count"}`, one vector per input (`dimensions` long when given).

The answer text names the model, so tests can tell which model served a request. The
server runs on 127.0.0.1 on a free port, in a thread of its own.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from .loopback import LoopbackHandler, LoopbackServer

DEFAULT_MODELS = ("llama3.2:1b", "qwen2.5-coder:0.5b")


def reply_pieces(model: str) -> list[str]:
    """The pieces a chat answer is streamed in; joined, they are the whole answer."""
    return ["Hello", " from", f" {model}", "!"]


def completion_pieces(model: str) -> list[str]:
    """The pieces a `/api/generate` answer is streamed in."""
    return ["    return", " 42", f"  # {model}"]


THINKING_PIECES = ["The user", " says hello."]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _sample(schema: Any) -> Any:
    """A value of the JSON-schema type, for the arguments of a made-up tool call."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(schema, dict) and isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(
        kind, "example"
    )


class FakeOllama(LoopbackServer):
    def __init__(self, models: list[str] | None = None, *, chunk_delay: float = 0.0) -> None:
        self.models = list(models) if models is not None else list(DEFAULT_MODELS)
        self.chunk_delay = chunk_delay
        # (path, JSON body or None for a GET), in arrival order.
        self.requests: list[tuple[str, Any]] = []
        # The headers of each request, in the same order.
        self.headers: list[dict[str, str]] = []
        super().__init__()

    def known(self, name: str) -> str | None:
        """Ollama's tag defaults to `latest`: "m" names "m:latest"."""
        for candidate in (name, f"{name}:latest"):
            if candidate in self.models:
                return candidate
        return None

    def tags(self) -> dict[str, Any]:
        entries = []
        for i, name in enumerate(self.models):
            family = name.split(":")[0].rstrip("0123456789.-") or name
            entries.append(
                {
                    "name": name,
                    "model": name,
                    "modified_at": "2025-01-15T10:20:30.123456789-08:00",
                    "size": 1_000_000_000 + i,
                    "digest": f"{i:02x}" * 32,
                    "details": {
                        "parent_model": "",
                        "format": "gguf",
                        "family": family,
                        "families": [family],
                        "parameter_size": name.rsplit(":", 1)[-1].upper() if ":" in name else "1B",
                        "quantization_level": "Q4_K_M",
                    },
                }
            )
        return {"models": entries}

    def _handler_class(self) -> type[LoopbackHandler]:
        fake = self

        class Handler(LoopbackHandler):
            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", "17")
                self.end_headers()

            def do_GET(self) -> None:
                fake.requests.append((self.path, None))
                fake.headers.append(dict(self.headers))
                if self.path == "/":
                    self._send(200, b"Ollama is running", "text/plain; charset=utf-8")
                elif self.path == "/api/tags":
                    self._json(200, fake.tags())
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.0.0-fake"})
                else:
                    self._send(404, b"404 page not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
                fake.requests.append((self.path, body))
                fake.headers.append(dict(self.headers))
                if self.path not in ("/api/chat", "/api/generate", "/api/embed"):
                    self._send(404, b"404 page not found", "text/plain")
                    return
                if not isinstance(body, dict):
                    self._json(400, {"error": "invalid request body"})
                    return
                name = body.get("model")
                if not isinstance(name, str) or not name:
                    self._json(400, {"error": "model is required"})
                    return
                model = fake.known(name)
                if model is None:
                    self._json(404, {"error": f'model "{name}" not found, try pulling it first'})
                    return
                if self.path == "/api/embed":
                    self._json(200, self._embed(model, body))
                    return
                chat = self.path == "/api/chat"
                lines = self._answer(chat, model, body)
                if body.get("stream", True) is False:
                    self._json(200, self._merge(chat, lines))
                else:
                    self._stream(lines)

            @staticmethod
            def _embed(model: str, body: dict[str, Any]) -> dict[str, Any]:
                """`/api/embed`: `input` a string or strings -> one vector per input (here
                derived from the text, so that equal texts embed equally), with the prompt's
                token count as `prompt_eval_count`."""
                given = body.get("input")
                texts = [given] if isinstance(given, str) else list(given or [])
                size = int(body.get("dimensions") or 8)
                vectors = [[(len(t) + i) / (size + len(t)) for i in range(size)] for t in texts]
                tokens = sum(len(t.split()) for t in texts)
                return {"model": model, "embeddings": vectors, "prompt_eval_count": tokens}

            def _answer(self, chat: bool, model: str, body: dict[str, Any]) -> list[dict]:
                """The lines of a streamed answer; the last is the `done` line."""
                created = _now()
                options = body.get("options") if isinstance(body.get("options"), dict) else {}
                limit = options.get("num_predict")
                tools = body.get("tools") if chat else None
                lines: list[dict[str, Any]] = []
                if chat and body.get("think") is True:
                    for piece in THINKING_PIECES:
                        message = {"role": "assistant", "content": "", "thinking": piece}
                        lines.append({"message": message})
                if tools:
                    function = (tools[0] or {}).get("function") or {}
                    parameters = function.get("parameters") or {}
                    properties = parameters.get("properties") or {}
                    arguments = {
                        key: _sample(properties.get(key))
                        for key in parameters.get("required") or list(properties)
                    }
                    call = {"function": {"name": function.get("name"), "arguments": arguments}}
                    lines.append(
                        {"message": {"role": "assistant", "content": "", "tool_calls": [call]}}
                    )
                    pieces: list[str] = []
                else:
                    pieces = reply_pieces(model) if chat else completion_pieces(model)
                reason = "stop"
                if isinstance(limit, int) and 0 <= limit < len(pieces):
                    pieces, reason = pieces[:limit], "length"
                for piece in pieces:
                    if chat:
                        lines.append({"message": {"role": "assistant", "content": piece}})
                    else:
                        lines.append({"response": piece})
                prompt = json.dumps(body.get("messages")) if chat else str(body.get("prompt", ""))
                final: dict[str, Any] = {
                    "done": True,
                    "done_reason": reason,
                    "total_duration": 123_456_789,
                    "load_duration": 1_234_567,
                    "prompt_eval_count": max(1, len(prompt.split())),
                    "prompt_eval_duration": 12_345_678,
                    "eval_count": len(lines),
                    "eval_duration": 98_765_432,
                }
                if chat:
                    final["message"] = {"role": "assistant", "content": ""}
                else:
                    final["response"] = ""
                    final["context"] = [1, 2, 3]
                lines.append(final)
                for line in lines:
                    line.setdefault("done", False)
                return [{"model": model, "created_at": created, **line} for line in lines]

            @staticmethod
            def _merge(chat: bool, lines: list[dict[str, Any]]) -> dict[str, Any]:
                """Non-streamed: the final line, with the pieces' text put back together."""
                final = dict(lines[-1])
                if not chat:
                    final["response"] = "".join(line.get("response", "") for line in lines)
                    return final
                message: dict[str, Any] = {"role": "assistant", "content": ""}
                thinking = ""
                for line in lines:
                    part = line.get("message") or {}
                    message["content"] += part.get("content", "")
                    thinking += part.get("thinking", "")
                    if part.get("tool_calls"):
                        message.setdefault("tool_calls", []).extend(part["tool_calls"])
                if thinking:
                    message["thinking"] = thinking
                final["message"] = message
                return final

            def _stream(self, lines: list[dict[str, Any]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for line in lines:
                        data = json.dumps(line, ensure_ascii=False).encode() + b"\n"
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                        if fake.chunk_delay:
                            time.sleep(fake.chunk_delay)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self._send(status, data, "application/json; charset=utf-8")

            def _send(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
