"""Jupyter stays responsive under mux load: the p90 of Jupyter's own `GET /api/contents`
(the file browser's request), idle and while N concurrent streams relay through the mux.

`BENCH_PROBE_PATH` probes another Jupyter route instead (`/api/status`: no thread hops).
The streams come from a separate process (`load.py streams`), dripped by the upstream
`GAP` (20 ms) apart, 17 chunks each and started again as they end, so N streams are about
N x 50 chunks per second (100 streams: ~5,000 chunks/s, the issue's figure). The probe sends
`PROBES` (200) requests one after another from this process.
Run alone: python bench/responsive.py (starts its own upstream and mux).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from dialects import cpu_seconds

HERE = Path(__file__).parent
LOADS = (20, 100)
GAP = 0.02


def probe(url: str, auth: dict[str, str], n: int) -> list[float]:
    times = []
    with httpx.Client(headers=auth, timeout=60) as http:
        for _ in range(n):
            start = time.perf_counter()
            http.get(url).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
            time.sleep(0.01)
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def measure(
    server: str, auth: dict[str, str], token: str, chat_url: str, direct_url: str, pid: int
) -> list[dict]:
    """Rows: streams, chunks/s, the Jupyter process's (`pid`) share of a core, contents p50
    and p90 (ms), p90 ratio to idle. Two control rows with the largest load: written by
    Jupyter itself (jupyter_drip.py, no upstream: the floor of any relay in Jupyter's
    process), and sent straight to the upstream, the mux idle (what the machine's two cores
    shared with the load cost Jupyter)."""
    probes = int(os.environ.get("BENCH_PROBES", "200"))
    contents = f"{server}{os.environ.get('BENCH_PROBE_PATH', '/api/contents')}"
    probe(contents, auth, 20)  # warm-up
    used, start = cpu_seconds(pid), time.time()
    idle = probe(contents, auth, probes)
    rows: list[dict] = [
        {
            "streams": 0,
            "chunks_s": 0.0,
            "cpu": (cpu_seconds(pid) - used) / (time.time() - start),
            "p50": statistics.median(idle),
            "p90": p90(idle),
        }
    ]
    floor_url = f"{server}/bench/drip"
    loads = [(n, chat_url) for n in LOADS] + [(LOADS[-1], floor_url), (LOADS[-1], direct_url)]
    for n, url in loads:
        seconds = 4 + probes * 0.03 + 30
        load = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "load.py"),
                "streams",
                url,
                token,
                str(n),
                str(seconds),
                str(GAP),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3)
            used, start = cpu_seconds(pid), time.time()
            busy = probe(contents, auth, probes)
            end = time.time()
            cpu = (cpu_seconds(pid) - used) / (end - start)
        finally:
            load.terminate()
            out, _ = load.communicate()
        reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        # The load's rate over the reports that bracket the probe (every 0.5 s, when the
        # load's loop gets to it: a short probe may fall between two of them).
        before = [r for r in reports if r["time"] <= start]
        after = [r for r in reports if r["time"] >= end]
        first = before[-1] if before else reports[0]
        last = after[0] if after else reports[-1]
        if last["time"] <= first["time"]:
            first, last = reports[0], reports[-1]
        rows.append(
            {
                "streams": n,
                "direct": url == direct_url,
                "floor": url == floor_url,
                "chunks_s": (last["chunks"] - first["chunks"]) / (last["time"] - first["time"]),
                "errors": last["errors"],
                "cpu": cpu,
                "p50": statistics.median(busy),
                "p90": p90(busy),
            }
        )
    for row in rows:
        row["ratio"] = row["p90"] / rows[0]["p90"]
    return rows


def print_rows(rows: list[dict]) -> None:
    print("\nJupyter's GET /api/contents    chunks/s  Jupyter CPU    p50 ms    p90 ms   p90 / idle")
    for r in rows:
        label = f"while {r['streams']} mux streams" if r["streams"] else "idle"
        if r.get("floor"):
            label = f"{r['streams']} streams by Jupyter"
        elif r.get("direct"):
            label = f"{r['streams']} streams, mux bypassed"
        print(
            f"  {label:<28}{r['chunks_s']:8,.0f}  {r['cpu']:10.0%}"
            f"  {r['p50']:8.2f}  {r['p90']:8.2f}   {r['ratio']:6.2f}x"
        )


def main() -> None:
    import run  # bench/run.py: the same servers as the main benchmark

    with contextlib.ExitStack() as stack:
        up_port, _tmp, mux, through = run.start_servers(stack)
        server = through.url.removesuffix("/mux/v1/chat/completions")
        direct = f"http://127.0.0.1:{up_port}/v1/chat/completions"
        rows = measure(server, through.headers, run.TOKEN, through.url, direct, mux.pid)
    print_rows(rows)


if __name__ == "__main__":
    main()
