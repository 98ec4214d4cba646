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


async def streams(url: str, token: str, n: int, seconds: float) -> dict[str, int]:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "drip": True,
    }
    headers = {"Authorization": f"token {token}"}
    done = {"streams": 0, "chunks": 0, "errors": 0}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=n + 4, max_keepalive_connections=n + 4)

    async def one(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                async with http.stream("POST", url, headers=headers, json=body) as response:
                    async for _chunk in response.aiter_raw():
                        done["chunks"] += 1
                    if response.status_code != 200:
                        done["errors"] += 1
                done["streams"] += 1
            except httpx.HTTPError:
                done["errors"] += 1

    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(one(http) for _ in range(n)))
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
        result: object = asyncio.run(streams(url, token, int(rest[0]), float(rest[1])))
    else:
        result = requests(url, token)
    print(json.dumps(result), flush=True)
