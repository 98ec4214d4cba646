"""A zero-latency OpenAI-format upstream for the benchmark: canned JSON and SSE answers.

Written on raw asyncio protocols so that it costs as little as possible and the figures
measure the mux, not this server. Run: python bench/upstream.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

MODELS = json.dumps({"object": "list", "data": [{"id": "bench-model", "object": "model"}]})
COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Hello from the bench."},
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }
)
CHUNKS = [
    "data: "
    + json.dumps(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench-model",
            "choices": [{"index": 0, "delta": {"content": f"tok{i} "}}],
        }
    )
    + "\n\n"
    for i in range(16)
] + ["data: [DONE]\n\n"]


DRIP_GAP = 0.005


def response(body: str, content_type: str) -> bytes:
    data = body.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


ANSWERS = {
    "models": response(MODELS, "application/json"),
    "json": response(COMPLETION, "application/json"),
    "sse": response("".join(CHUNKS), "text/event-stream"),
}


class Upstream(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            if head.startswith("GET"):
                self.transport.write(ANSWERS["models"])
            elif b'"drip"' in body:
                asyncio.get_running_loop().create_task(self.drip())
            elif b'"stream":true' in body.replace(b" ", b""):
                self.transport.write(ANSWERS["sse"])
            else:
                self.transport.write(ANSWERS["json"])

    async def drip(self) -> None:
        """A stream whose chunks leave DRIP_GAP apart, as tokens do, so a test can see
        whether a proxy passes each on at once or holds them back."""
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for event in CHUNKS:
            data = event.encode()
            self.transport.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await asyncio.sleep(DRIP_GAP)
        self.transport.write(b"0\r\n\r\n")


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
