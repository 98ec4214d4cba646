"""Load from a process of its own, so the figures measure the server, not this client.

python bench/load.py streams URL TOKEN N SECONDS
    N concurrent dripped streams (bench/upstream.py's drip mode), each started again as
    soon as it ends, for SECONDS; prints one JSON line: streams and chunks done.
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

import httpx

MODEL = "bench-model"


async def streams(url: str, token: str, n: int, seconds: float, gap: float) -> dict[str, int]:
    """Raw asyncio sockets, one keep-alive connection per stream: a Python HTTP client
    would spend more CPU per chunk than the server under test."""
    target = httpx.URL(url)
    body = json.dumps(
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": True,
            "drip": gap,
        }
    ).encode()
    request = (
        f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Authorization: token {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    done = {"streams": 0, "chunks": 0, "errors": 0}
    deadline = time.monotonic() + seconds

    async def one() -> None:
        reader, writer = await asyncio.open_connection(target.host, target.port)
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                done["errors"] += 1
            tail = b""
            while not tail.endswith(b"0\r\n\r\n"):
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                done["chunks"] += data.count(b"data: ")
                tail = (tail + data)[-8:]
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
    else:
        result = requests(url, token)
    print(json.dumps(result), flush=True)
