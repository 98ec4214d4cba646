"""A zero-latency upstream for the benchmark: canned JSON and SSE answers in the three
formats the mux may be sent, by path: OpenAI chat (`/v1/chat/completions`), Anthropic's
Messages (`/v1/messages`) and OpenAI's Responses (`/v1/responses`), 16 text chunks each.

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


def _sse(events: list[tuple[str, dict]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


USAGE = {"input_tokens": 5, "output_tokens": 16}
MESSAGE = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "bench-model",
        "content": [{"type": "text", "text": "Hello from the bench."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": USAGE,
    }
)
MESSAGE_EVENTS = _sse(
    [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": "bench-model",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        *(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": f"tok{i} "},
                },
            )
            for i in range(16)
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 16},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
)
RESPONSE = {
    "id": "resp_bench",
    "object": "response",
    "created_at": 0,
    "status": "completed",
    "model": "bench-model",
    "output": [
        {
            "type": "message",
            "id": "msg_bench",
            "status": "completed",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Hello from the bench.", "annotations": []}
            ],
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 5,
        "output_tokens": 16,
        "total_tokens": 21,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    },
}
_ITEM = {"type": "message", "id": "msg_bench", "status": "in_progress", "role": "assistant"}
_PART = {"type": "output_text", "text": "", "annotations": []}
_RESPONSE_STREAM = [
    ("response.created", {"response": {**RESPONSE, "status": "in_progress", "output": []}}),
    ("response.output_item.added", {"output_index": 0, "item": {**_ITEM, "content": []}}),
    (
        "response.content_part.added",
        {"item_id": "msg_bench", "output_index": 0, "content_index": 0, "part": _PART},
    ),
    *(
        (
            "response.output_text.delta",
            {"item_id": "msg_bench", "output_index": 0, "content_index": 0, "delta": f"tok{i} "},
        )
        for i in range(16)
    ),
    ("response.completed", {"response": RESPONSE}),
]
RESPONSE_EVENTS = _sse(
    [
        (name, {"type": name, "sequence_number": n, **data})
        for n, (name, data) in enumerate(_RESPONSE_STREAM)
    ]
)

DRIP_GAP = 0.005


def response(body: str, content_type: str) -> bytes:
    data = body.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


ANSWERS = {
    "models": response(MODELS, "application/json"),
    # path -> (whole answer, stream)
    "/v1/chat/completions": (
        response(COMPLETION, "application/json"),
        response("".join(CHUNKS), "text/event-stream"),
    ),
    "/v1/messages": (
        response(MESSAGE, "application/json"),
        response(MESSAGE_EVENTS, "text/event-stream"),
    ),
    "/v1/responses": (
        response(json.dumps(RESPONSE), "application/json"),
        response(RESPONSE_EVENTS, "text/event-stream"),
    ),
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
                gap = json.loads(body)["drip"]  # true: DRIP_GAP; a number: that gap (s)
                gap = DRIP_GAP if gap is True else float(gap)
                asyncio.get_running_loop().create_task(self.drip(gap))
            else:
                whole, stream = ANSWERS[head.split(" ", 2)[1]]
                streamed = b'"stream":true' in body.replace(b" ", b"")
                self.transport.write(stream if streamed else whole)

    async def drip(self, gap: float = DRIP_GAP) -> None:
        """A stream whose chunks leave `gap` apart, as tokens do, so a test can see
        whether a proxy passes each on at once or holds them back."""
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for event in CHUNKS:
            if self.transport.is_closing():  # the client hung up: nothing more to drip
                return
            data = event.encode()
            self.transport.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            await asyncio.sleep(gap)
        self.transport.write(b"0\r\n\r\n")


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
