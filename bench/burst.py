"""Many streams at once: `BENCH_WAVE` (200) clients each start one stream of about 2 s (17
chunks the upstream drips 125 ms apart, the first at once) at the same moment, all to
one provider. The first chunks are not all at once even within the limit: one event loop
takes the requests in one after another. Twice,
each time with a mux of its own: with the connection limit per provider at its default
(`c.MuxApp.max_connections_per_provider`, 100), so that half of them wait for a
connection, and with the limit at the wave's size.

Per wave it prints how long the streams waited for their first chunk and took in all, how
many failed (none may: a queued request waits as long as its client does), and the mux
process's memory per open stream: its RSS at the wave's peak less its RSS before (after a
warm-up), over the number of streams. That is the first wave a process serves, the worst
case: a second reuses what the first freed.
The load comes from a process of its own (`load.py wave`).
Run alone: python bench/burst.py (starts its own upstream and muxes).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
GAP = 0.125
DEFAULT_LIMIT = 100


def wave(up_port: int, limit: int, n: int) -> dict:
    """One wave of `n` streams through a new mux whose limit per provider is `limit`."""
    import run  # bench/run.py: the same servers as the main benchmark

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        mux, through = run.start_mux(
            stack, tmp / "jupyter", up_port, f"--MuxApp.max_connections_per_provider={limit}"
        )
        load = [sys.executable, str(HERE / "load.py"), "wave", through.url, run.TOKEN]
        subprocess.run([*load, "20", "0.001"], check=True, capture_output=True)  # warm-up
        time.sleep(1)
        before = peak = run.rss_mb(mux.pid)
        with subprocess.Popen([*load, str(n), str(GAP)], stdout=subprocess.PIPE, text=True) as p:
            while p.poll() is None:
                peak = max(peak, run.rss_mb(mux.pid))
                time.sleep(0.02)
            result = json.loads(p.communicate()[0])
    first, whole = result["first_ms"], result["whole_ms"]
    return {
        "limit": limit,
        "streams": n,
        "failed": result["failed"],
        "first_p50": statistics.median(first) if first else float("nan"),
        "first_max": max(first, default=float("nan")),
        "whole_max": max(whole, default=float("nan")) / 1000,
        "grew_mb": peak - before,
        "kb_per_stream": (peak - before) * 1024 / n,
    }


def measure(up_port: int) -> list[dict]:
    n = int(os.environ.get("BENCH_WAVE", "200"))
    return [wave(up_port, limit, n) for limit in dict.fromkeys((DEFAULT_LIMIT, n))]


def print_rows(rows: list[dict]) -> None:
    print(
        "\nstreams started at once      limit  failed  first chunk p50 ms   max ms"
        "  longest s  RSS grew MB  KB per stream"
    )
    for r in rows:
        print(
            f"  {r['streams']:,} x ~2 s streams{'':<8}{r['limit']:5}  {r['failed']:6}"
            f"  {r['first_p50']:18.1f}  {r['first_max']:7.1f}  {r['whole_max']:9.2f}"
            f"  {r['grew_mb']:11.1f}  {r['kb_per_stream']:13.1f}"
        )


def main() -> None:
    import run

    with contextlib.ExitStack() as stack:
        rows = measure(run.start_upstream(stack))
    print_rows(rows)


if __name__ == "__main__":
    main()
