"""Benchmark: the mux in a real Jupyter server against a zero-latency upstream, with wrk.

Prints requests per second and latency through the mux and straight to the upstream, and
the difference (what the mux adds). Needs `wrk` (Debian package). Run: python bench/run.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
TOKEN = "bench-token"
BODY = json.dumps({"model": "x", "messages": [{"role": "user", "content": "Hello"}]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, headers: dict | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wrk(url: str, connections: int, seconds: int, headers: dict[str, str]) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(BODY)}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise RuntimeError(out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


async def stream_timings(url: str, headers: dict[str, str], n: int) -> dict[str, float]:
    """Time to first chunk and the gaps between chunks of `n` dripped streams, one at a
    time (latency, not load, so a Python client is fine here)."""
    body = {
        "model": "x",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "drip": True,
    }
    firsts, gaps = [], []
    async with httpx.AsyncClient(timeout=30) as http:
        for _ in range(n):
            start = time.perf_counter()
            last = None
            async with http.stream("POST", url, headers=headers, json=body) as response:
                async for _chunk in response.aiter_raw():
                    now = time.perf_counter()
                    if last is None:
                        firsts.append(now - start)
                    else:
                        gaps.append(now - last)
                    last = now
    firsts.sort()
    gaps.sort()
    return {
        "ttft_p50": firsts[len(firsts) // 2] * 1000,
        "gap_p50": gaps[len(gaps) // 2] * 1000,
        "gap_p99": gaps[int(len(gaps) * 0.99)] * 1000,
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    up_port, mux_port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), str(up_port)])
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "JUPYTER_DATA_DIR": tmp, "JUPYTER_RUNTIME_DIR": tmp}
        mux = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_mux",
                "--no-browser",
                "--allow-root",
                f"--port={mux_port}",
                f"--IdentityProvider.token={TOKEN}",
                "--ServerApp.log_level=WARN",
                f"--ServerApp.root_dir={tmp}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            auth = {"Authorization": f"token {TOKEN}"}
            api = f"http://127.0.0.1:{mux_port}/mux/api"
            wait_for(f"http://127.0.0.1:{up_port}/v1/models")
            wait_for(f"{api}/active", auth)
            httpx.post(
                f"{api}/providers",
                headers=auth,
                json={"name": "bench", "type": "vllm", "endpoint": f"http://127.0.0.1:{up_port}"},
            ).raise_for_status()
            httpx.patch(
                f"{api}/workspaces/default",
                headers=auth,
                json={"preferred": {"provider": "bench", "model": "bench-model"}},
            ).raise_for_status()
            direct_url = f"http://127.0.0.1:{up_port}/v1/chat/completions"
            mux_url = f"http://127.0.0.1:{mux_port}/mux/v1/chat/completions"
            rows = []
            for connections in (1, 32):
                wrk(mux_url, connections, 2, auth)  # warm-up
                direct = wrk(direct_url, connections, seconds, {})
                through = wrk(mux_url, connections, seconds, auth)
                rows.append((connections, direct, through))
            streams = int(os.environ.get("BENCH_STREAMS", "200"))
            stream_direct = asyncio.run(stream_timings(direct_url, {}, streams))
            stream_mux = asyncio.run(stream_timings(mux_url, auth, streams))
            long_seconds = int(os.environ.get("BENCH_LONG_SECONDS", "60"))
            rss_before = rss_mb(mux.pid)
            long_run = wrk(mux_url, 32, long_seconds, auth)
            rss_after = rss_mb(mux.pid)
        finally:
            mux.terminate()
            upstream.terminate()
            mux.wait(30)
            upstream.wait(30)
    print(f"\n{'conns':>5} {'path':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for connections, direct, through in rows:
        for name, r in (("direct", direct), ("mux", through)):
            print(
                f"{connections:>5} {name:>7} {r['rps']:>9.0f} {r['p50']:>8.2f} "
                f"{r['p99']:>8.2f} {r['errors']:>8.0f}"
            )
        print(
            f"{connections:>5} {'added':>7} {'':>9} {through['p50'] - direct['p50']:>8.2f} "
            f"{through['p99'] - direct['p99']:>8.2f}"
        )
    print(
        f"\n{streams} streams, chunks dripped 5 ms apart:  first chunk p50, gap p50, gap p99 (ms)"
    )
    for name, t in (("direct", stream_direct), ("mux", stream_mux)):
        print(f"{name:>8} {t['ttft_p50']:>10.2f} {t['gap_p50']:>10.2f} {t['gap_p99']:>10.2f}")
    overhead = stream_mux["ttft_p50"] - stream_direct["ttft_p50"]
    print(f"first-chunk overhead of the mux: {overhead:.2f} ms")
    requests = long_run["rps"] * long_seconds
    print(
        f"\nRSS of the mux process: {rss_before:.1f} MB -> {rss_after:.1f} MB "
        f"({rss_after - rss_before:+.1f} MB) over ~{requests:,.0f} requests in {long_seconds} s"
    )


if __name__ == "__main__":
    main()
