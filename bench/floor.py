"""Where the floors are, measured in the same run as the rows they bound.

A proxy inside Jupyter pays, per request, at least Jupyter's own handler (what a mux route
that makes no upstream call costs: `GET /mux/v1/models`, the same auth and the same
`prepare`) plus one upstream round trip on the same HTTP client (aiohttp; measured in a
process of its own, 32 requests in flight, as the mux has them at 32 connections). The
process is one event loop on one core, so the sum is the fewest microseconds of CPU a
request through any mux in Jupyter can take, and one core's worth of them the most
requests per second it can serve. Set against LiteLLM's requests per second from the same
run, that bounds the ratio a mux in Jupyter can reach on this machine.

The first streamed chunk has a floor of the same kind, measured at the streams' own pace
(one request at a time, the machine idle in between, as it is between tokens): what
Jupyter's handler alone adds over the upstream's own answer to the same client.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from dialects import cpu_seconds

MODEL = "bench-model"
BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]})
# One request then the time a dripped stream takes (16 chunks 5 ms apart), as in run.py.
PACE = 0.085

# The upstream round trip, alone: an aiohttp session as the mux's pool has it, 32 requests
# in flight, its own CPU time per request.
_CLIENT = """
import asyncio, json, os, sys
import aiohttp

url, n, body = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}

async def main():
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async def worker(k):
            for _ in range(k):
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
        await worker(200)  # warm-up
        start = os.times()
        await asyncio.gather(*(worker(n // 32) for _ in range(32)))
        end = os.times()
        spent = end.user + end.system - start.user - start.system
        print(spent / (n // 32 * 32) * 1e6)

asyncio.run(main())
"""


@dataclass
class Floors:
    noop_rps: float  # GET /mux/v1/models at 32 connections
    noop_us: float  # the mux process's CPU per no-op request
    client_us: float  # aiohttp's CPU per upstream round trip
    chat_rps: float  # whole chat answers through the mux at 32 connections
    chat_us: float  # the mux process's CPU per chat request
    noop_first_ms: float  # first body byte of the no-op route, paced like the streams
    upstream_first_ms: float  # the upstream's own `GET /v1/models`, paced alike


def cpu_per_request(pid: int, run: Callable[[], dict[str, float]]) -> tuple[float, float]:
    """(req/s, the process's CPU microseconds per request) of one wrk run."""
    before = cpu_seconds(pid)
    result = run()
    if result["errors"]:
        raise RuntimeError(f"{result['errors']:.0f} requests failed")
    return result["rps"], (cpu_seconds(pid) - before) / result["requests"] * 1e6


def client_round_trip(url: str, requests: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT, url, str(requests), BODY],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def paced_first_byte(url: str, headers: dict[str, str], n: int) -> float:
    """p50 ms to the first body byte of `n` GETs sent one at a time, `PACE` apart."""
    firsts = []
    with httpx.Client(timeout=30) as http:
        for _ in range(n):
            time.sleep(PACE)
            start = time.perf_counter()
            first = None
            with http.stream("GET", url, headers=headers) as answer:
                for _chunk in answer.iter_raw():
                    first = first or time.perf_counter() - start
            firsts.append(first)
    return statistics.median(firsts) * 1000


def measure(
    mux_base: str,
    headers: dict[str, str],
    pid: int,
    up_port: int,
    wrk: Callable[..., dict[str, float]],
    seconds: int,
    rounds: int,
    streams: int,
) -> Floors:
    """Medians over `rounds`, the no-op route and chat taking turns."""
    chat_url, noop_url = f"{mux_base}/v1/chat/completions", f"{mux_base}/v1/models"
    noop, chat = [], []
    wrk(noop_url, 32, 1, headers, body=None)  # warm-up
    for _ in range(rounds):
        noop.append(cpu_per_request(pid, lambda: wrk(noop_url, 32, seconds, headers, body=None)))
        chat.append(cpu_per_request(pid, lambda: wrk(chat_url, 32, seconds, headers)))
    upstream = f"http://127.0.0.1:{up_port}"
    client = [client_round_trip(f"{upstream}/v1/chat/completions", 20_000) for _ in range(rounds)]
    return Floors(
        noop_rps=statistics.median(r for r, _ in noop),
        noop_us=statistics.median(us for _, us in noop),
        client_us=statistics.median(client),
        chat_rps=statistics.median(r for r, _ in chat),
        chat_us=statistics.median(us for _, us in chat),
        noop_first_ms=paced_first_byte(f"{mux_base}/v1/models", headers, streams),
        upstream_first_ms=paced_first_byte(f"{upstream}/v1/models", {}, streams),
    )


def print_rows(floors: Floors, litellm_rps: float | None, first_chunk_added: float) -> None:
    f = floors
    floor_us = f.noop_us + f.client_us
    print(
        "\nfloors, measured in this run (bench/floor.py):\n"
        f"  Jupyter's handler, no upstream (GET /mux/v1/models): {f.noop_rps:,.0f} req/s at "
        f"32 connections, {f.noop_us:.0f} us CPU each\n"
        f"  one upstream round trip on aiohttp, alone: {f.client_us:.0f} us CPU\n"
        f"  so a proxy in Jupyter needs >= {floor_us:.0f} us per request: "
        f"<= {1e6 / floor_us:,.0f} req/s on one core\n"
        f"  the mux's chat: {f.chat_rps:,.0f} req/s, {f.chat_us:.0f} us CPU each "
        f"({f.chat_us / floor_us:.2f}x the floor)"
    )
    if litellm_rps:
        print(
            f"  vs LiteLLM's {litellm_rps:,.0f} req/s: the floor allows "
            f"{1e6 / floor_us / litellm_rps:.1f}x, the mux did "
            f"{f.chat_rps / litellm_rps:.1f}x in this measurement"
        )
    noop_added = f.noop_first_ms - f.upstream_first_ms
    print(
        f"  paced like the streams, Jupyter's handler alone adds {noop_added:.2f} ms to the "
        f"first byte; the mux's first chunk adds {first_chunk_added:.2f} ms "
        f"({first_chunk_added - noop_added:.2f} ms over Jupyter's handler: the upstream "
        "round trip and the relay)"
    )
