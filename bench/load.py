"""Load from a process of its own, so the figures measure the server, not this client.

python bench/load.py streams URL TOKEN N SECONDS
    N concurrent dripped streams (bench/upstream.py's drip mode), each started again as
    soon as it ends, for SECONDS; prints one JSON line: streams and chunks done.
python bench/load.py wave URL TOKEN N GAP
    N dripped streams started at once, one connection each, each once; prints one JSON
    line: each stream's wait for its first chunk and its whole time (ms), and the failures.
python bench/load.py requests URL TOKEN
    whole chat requests one after another on one connection, until SIGTERM; prints one
    JSON line: each request's start (wall clock, s) and latency (ms).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

MODEL = "bench-model"


def stream_request(target: httpx.URL, token: str, gap: float) -> bytes:
    """A streamed chat request the upstream drips `gap` seconds apart, as raw bytes: a
    Python HTTP client would spend more CPU per chunk than the server under test."""
    body = json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": True,
            "drip": gap,
        }
    ).encode()
    return (
        f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Authorization: token {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def chunked_body(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The reads of a chunked answer's body, up to its last chunk."""
    tail = b""
    while not tail.endswith(b"0\r\n\r\n"):
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("closed")
        tail = (tail + data)[-8:]
        yield data


async def streams(url: str, token: str, n: int, seconds: float, gap: float) -> dict[str, int]:
    """One keep-alive connection per stream."""
    target = httpx.URL(url)
    request = stream_request(target, token, gap)
    done = {"streams": 0, "chunks": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def one() -> None:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                done["errors"] += 1
            async for data in chunked_body(reader):
                done["chunks"] += data.count(b"data: ")
            done["streams"] += 1
        writer.close()

    async def report() -> None:
        while True:
            print(json.dumps({"time": time.time(), **done}), flush=True)
            await asyncio.sleep(0.5)

    reporter = asyncio.create_task(report())
    await asyncio.gather(*(one() for _ in range(n)))
    reporter.cancel()
    return done


async def wave(url: str, token: str, n: int, gap: float) -> dict[str, Any]:
    """N streams sent at the same moment: the ones past the mux's connection limit for the
    provider wait for a connection, and must still be answered."""
    target = httpx.URL(url)
    request = stream_request(target, token, gap)
    connections = [await asyncio.open_connection(target.host, target.port) for _ in range(n)]
    first, whole, failed = [], [], 0

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal failed
        start = time.perf_counter()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
            seen = False
            async for data in chunked_body(reader):
                if not seen and b"data: " in data:
                    seen = True
                    first.append((time.perf_counter() - start) * 1000)
            whole.append((time.perf_counter() - start) * 1000)
        except (ConnectionError, asyncio.IncompleteReadError):
            failed += 1
        finally:
            writer.close()

    await asyncio.gather(*(one(*c) for c in connections))
    return {"first_ms": first, "whole_ms": whole, "failed": failed}


def requests(url: str, token: str) -> dict[str, list[float]]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"Authorization": f"token {token}"}
    starts, latencies = [], []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    with httpx.Client(timeout=60) as http:
        while not stop:
            wall, start = time.time(), time.perf_counter()
            http.post(url, headers=headers, json=body).raise_for_status()
            latencies.append((time.perf_counter() - start) * 1000)
            starts.append(wall)
    return {"starts": starts, "latencies": latencies}


if __name__ == "__main__":
    mode, url, token, *rest = sys.argv[1:]
    if mode == "streams":
        result: object = asyncio.run(
            streams(url, token, int(rest[0]), float(rest[1]), float(rest[2]))
        )
    elif mode == "wave":
        result = asyncio.run(wave(url, token, int(rest[0]), float(rest[1])))
    else:
        result = requests(url, token)
    print(json.dumps(result), flush=True)
