"""Benchmark: the mux in a real Jupyter server, side by side with the upstream itself and a
LiteLLM proxy, all in front of one zero-latency upstream, driven by wrk.

Prints one table (requests per second at 32 connections, latency at one connection, what
each proxy adds to it, streaming first chunk and gaps between chunks) and the ratios, then
the mux process's RSS over a long run. Needs `wrk` (Debian package). The LiteLLM column
needs a `litellm` proxy executable named by `BENCH_LITELLM`; without one it is left out.
Run: python bench/run.py (bench/README.md lists the knobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import burst  # bench/burst.py: `python bench/run.py` puts bench/ on the path
import dialects
import floor
import httpx
import remote
import responsive
import scale

HERE = Path(__file__).parent
TOKEN = "bench-token"
LITELLM_KEY = "sk-bench"
MODEL = "bench-model"
BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]})
CONNECTIONS = (1, 32)
ONE_WORKER = ["--num_workers=1"]


@dataclass
class Target:
    """One way to reach the upstream: straight, or through a proxy."""

    name: str
    url: str  # the chat completions URL
    headers: dict[str, str]
    # connections -> one wrk result per round
    runs: dict[int, list[dict[str, float]]] = field(default_factory=dict)
    streams: dict[str, float] = field(default_factory=dict)

    def median(self, connections: int, key: str) -> float:
        return statistics.median(r[key] for r in self.runs[connections])

    def errors(self) -> float:
        return sum(r["errors"] for runs in self.runs.values() for r in runs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, headers: dict | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wrk(
    url: str, connections: int, seconds: int, headers: dict[str, str], *, body: str | None = BODY
) -> dict[str, float]:
    """One wrk run: POSTs of `body` (a chat request unless given), or GETs with None."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = []
    if body is not None:
        lines = [
            'wrk.method = "POST"',
            f"wrk.body = {json.dumps(body)}",
            'wrk.headers["Content-Type"] = "application/json"',
        ]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    try:
        out = subprocess.run(
            [*args, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        script.unlink()

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise RuntimeError(out)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    def number(pattern: str) -> float:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else 0.0

    mean = re.search(r"^\s+Latency\s+([\d.]+)(us|ms|s)\s", out, re.M)
    mean_ms = float(mean.group(1)) if mean else float("nan")
    if mean and mean.group(2) != "ms":
        mean_ms = mean_ms / 1000 if mean.group(2) == "us" else mean_ms * 1000
    return {
        "mean": mean_ms,
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "requests": number(r"(\d+) requests in"),
        "p50": ms("50"),
        "p99": ms("99"),
        "errors": number(r"Non-2xx or 3xx responses: (\d+)"),
    }


async def stream_timings(url: str, headers: dict[str, str], n: int) -> dict[str, float]:
    """Time to first chunk and the gaps between chunks of `n` dripped streams, one at a
    time (latency, not load, so a Python client is fine here)."""
    body = {
        "model": MODEL,
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


@contextlib.contextmanager
def process(args: list[str], **kwargs: Any) -> Iterator[subprocess.Popen]:
    """A child in its own process group, stopped with all its children on the way out
    (LiteLLM's server may fork), whatever happened meanwhile."""
    proc = subprocess.Popen(args, start_new_session=True, **kwargs)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def lean_server(*extensions: str) -> tuple[dict[str, str], list[str]]:
    """The environment and arguments that give a bench Jupyter server the extensions
    jupyter-mux installs (the mux, JupyterLab, terminals) and `extensions`, not every one
    the environment enables: the test suite's jupyter-ai stack would add its imports,
    threads and periodic work to every figure (bench/README.md). BENCH_EXTENSIONS=installed
    keeps them all."""
    if os.environ.get("BENCH_EXTENSIONS") == "installed":
        return {}, []
    enabled = dict.fromkeys(("jupyterlab", "jupyter_server_terminals", *extensions), True)
    return {"JUPYTER_NO_CONFIG": "1"}, [f"--ServerApp.jpserver_extensions={enabled!r}"]


def start_mux(
    stack: contextlib.ExitStack, tmp: Path, up_port: int, *options: str
) -> tuple[subprocess.Popen, Target]:
    """`jupyter mux` as a user starts it (with `options` on its command line), with the
    token sent in a header as the OpenAI SDKs send it, and one provider pointing at the
    upstream."""
    port = free_port()
    tmp.mkdir()
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp),
        "JUPYTER_RUNTIME_DIR": str(tmp),
        # jupyter_drip.py, the floor of a relay in Jupyter (responsive.py), and what it imports
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    lean_env, lean_args = lean_server("jupyter_drip")
    env.update(lean_env)
    mux = stack.enter_context(
        process(
            [
                sys.executable,
                "-m",
                "jupyter_mux",
                "--no-browser",
                "--allow-root",
                f"--port={port}",
                f"--IdentityProvider.token={TOKEN}",
                "--ServerApp.log_level=WARN",
                f"--ServerApp.root_dir={tmp}",
                *lean_args,
                *options,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    auth = {"Authorization": f"token {TOKEN}"}
    api = f"http://127.0.0.1:{port}/mux/api"
    wait_for(f"{api}/active", auth)
    httpx.post(
        f"{api}/providers",
        headers=auth,
        json={"name": "bench", "type": "vllm", "endpoint": f"http://127.0.0.1:{up_port}"},
    ).raise_for_status()
    httpx.patch(
        f"{api}/workspaces/default",
        headers=auth,
        json={"preferred": {"provider": "bench", "model": MODEL}},
    ).raise_for_status()
    return mux, Target("mux", f"http://127.0.0.1:{port}/mux/v1/chat/completions", auth)


def start_servers(stack: contextlib.ExitStack) -> tuple[int, Path, subprocess.Popen, Target]:
    """The zero-latency upstream and `jupyter mux` in front of it, stopped with `stack`:
    (the upstream's port, a temporary folder, the mux process, the mux as a target)."""
    up_port = start_upstream(stack)
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    mux, through_mux = start_mux(stack, tmp / "jupyter", up_port)
    return up_port, tmp, mux, through_mux


def start_upstream(stack: contextlib.ExitStack) -> int:
    """The zero-latency upstream, stopped with `stack`: its port."""
    port = free_port()
    stack.enter_context(process([sys.executable, str(HERE / "upstream.py"), str(port)]))
    wait_for(f"http://127.0.0.1:{port}/v1/models")
    return port


def find_litellm() -> str | None:
    given = os.environ.get("BENCH_LITELLM")
    if given and not os.access(given, os.X_OK):
        sys.exit(f"BENCH_LITELLM={given} is not an executable litellm")
    # Named, never looked up on PATH: the test environment has a `litellm` (jupyter-ai brings
    # it) without the proxy's extras, which would fail to start.
    return given or None


def start_litellm(stack: contextlib.ExitStack, executable: str, tmp: Path, up_port: int) -> Target:
    """A LiteLLM proxy with one worker, its model mapped to the same upstream's
    OpenAI-compatible endpoint, checking a master key as the mux checks its token.
    Nothing may leave the machine: the cost map is the one LiteLLM ships, no telemetry,
    no database."""
    port = free_port()
    tmp.mkdir()
    config = tmp / "litellm.yaml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "model_list": [
                    {
                        "model_name": MODEL,
                        "litellm_params": {
                            "model": f"openai/{MODEL}",
                            "api_base": f"http://127.0.0.1:{up_port}/v1",
                            "api_key": "none",
                        },
                    }
                ],
                "litellm_settings": {"telemetry": False},
                "general_settings": {"master_key": LITELLM_KEY},
            },
            indent=1,
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LITELLM_MASTER_KEY")}
    env.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOG": "ERROR",
            "HOME": str(tmp),
        }
    )
    stack.enter_context(
        process(
            [executable, f"--config={config}", "--host=127.0.0.1", f"--port={port}", *ONE_WORKER],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    wait_for(f"http://127.0.0.1:{port}/health/liveliness")
    return Target(
        "litellm",
        f"http://127.0.0.1:{port}/v1/chat/completions",
        {"Authorization": f"Bearer {LITELLM_KEY}"},
    )


def measure(targets: list[Target], seconds: int, rounds: int) -> None:
    """wrk on every target in turn, `rounds` times over, so that load from elsewhere on
    the machine falls on all columns alike; the table shows medians."""
    for connections in CONNECTIONS:
        for target in targets:
            wrk(target.url, connections, 2, target.headers)  # warm-up
            target.runs[connections] = []
        for _ in range(rounds):
            for target in targets:
                result = wrk(target.url, connections, seconds, target.headers)
                target.runs[connections].append(result)


def long_run(mux: subprocess.Popen, target: Target, requests: int) -> list[tuple[float, float]]:
    """(requests so far, RSS MB) after each 10 s of load at 32 connections, until at least
    `requests` went through: a leak shows as a line that keeps climbing."""
    done, samples = 0.0, [(0.0, rss_mb(mux.pid))]
    while done < requests:
        done += wrk(target.url, 32, 10, target.headers)["requests"]
        samples.append((done, rss_mb(mux.pid)))
    return samples


def print_table(targets: list[Target], streams: int) -> None:
    direct = targets[0]
    width = 12
    print("\n" + f"{'':<30}" + "".join(f"{t.name:>{width}}" for t in targets))

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<30}" + "".join(f"{v:>{width}}" for v in values))

    for connections in CONNECTIONS:
        row(
            f"req/s, {connections} conn",
            [f"{t.median(connections, 'rps'):,.0f}" for t in targets],
        )
    for key in ("p50", "p99"):
        row(f"{key} ms, 1 conn", [f"{t.median(1, key):.2f}" for t in targets])
        row(
            f"  added {key} ms, 1 conn",
            ["-"] + [f"{t.median(1, key) - direct.median(1, key):.2f}" for t in targets[1:]],
        )
    row("p99 ms, 32 conn", [f"{t.median(32, 'p99'):.2f}" for t in targets])
    row(
        "  p99 / mean, 32 conn",
        [f"{t.median(32, 'p99') / t.median(32, 'mean'):.1f}x" for t in targets],
    )
    row(f"first chunk p50 ms ({streams})", [f"{t.streams['ttft_p50']:.2f}" for t in targets])
    row("chunk gap p50 ms (5 ms drip)", [f"{t.streams['gap_p50']:.2f}" for t in targets])
    row("chunk gap p99 ms", [f"{t.streams['gap_p99']:.2f}" for t in targets])
    row("non-2xx answers", [f"{t.errors():.0f}" for t in targets])


def print_ratios(targets: list[Target]) -> None:
    by_name = {t.name: t for t in targets}
    direct, mux = by_name["direct"], by_name["mux"]
    added = {key: mux.median(1, key) - direct.median(1, key) for key in ("p50", "p99")}
    print(f"\nmux adds {added['p50']:.2f} ms p50, {added['p99']:.2f} ms p99 at one connection")
    tail = mux.median(32, "p99") / mux.median(32, "mean")
    print(f"mux p99 at 32 connections = {tail:.1f}x its mean latency there")
    litellm = by_name.get("litellm")
    if litellm is None:
        return
    rps_ratio = mux.median(32, "rps") / litellm.median(32, "rps")
    print(f"mux req/s at 32 connections = {rps_ratio:.1f}x LiteLLM's (one worker)")
    litellm_added = litellm.median(1, "p50") - direct.median(1, "p50")
    print(
        f"LiteLLM adds {litellm_added:.2f} ms p50 at one connection = "
        f"{litellm_added / added['p50']:.1f}x what the mux adds"
    )
    ttft = {t.name: t.streams["ttft_p50"] - direct.streams["ttft_p50"] for t in targets}
    print(
        f"first chunk, added over direct: mux {ttft['mux']:.2f} ms, "
        f"LiteLLM {ttft['litellm']:.2f} ms"
    )


# --- the client import, as a kernel pays it ---------------------------------------------------

IMPORT_RUNS = 7
_TIME_IMPORT = (
    "import time; start = time.perf_counter(); import jupyter_mux; "
    "print(time.perf_counter() - start)"
)


def import_times(runs: int) -> list[float]:
    """Seconds `import jupyter_mux` takes in fresh interpreters of this checkout (a kernel's
    first import: a new process, the files in the page cache after the first run)."""
    return [
        float(
            subprocess.run(
                [sys.executable, "-c", _TIME_IMPORT],
                cwd=HERE.parent,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for _ in range(runs)
    ]


def print_import_times(times: list[float]) -> None:
    print(
        f"\nimport jupyter_mux, fresh interpreter: median {statistics.median(times) * 1000:.0f} ms"
        f" over {len(times)} runs (first {times[0] * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms)"
    )


def print_file_scan() -> None:
    """The file-name scan of `filename` rules runs on the loop: its time on 1 MB built to
    stall a backtracking scan (issue 13), beside 1 MB of ordinary fenced text."""
    from jupyter_mux.openai_request import mentioned_files

    inputs = {
        "ordinary, 1 MB": "```python src/app.py\nprint('hello')\n```\n" * 25_000,
        "dotted token + '!', 1 MB": "```" + "a." * 500_000 + "!",
        "fence on every line, 1 MB": "```a.py\n" * 125_000,
    }
    print("\nfile-name scan (filename rules), best of 5:")
    for label, text in inputs.items():
        body = {"messages": [{"role": "user", "content": text}]}
        best = min(_seconds(mentioned_files, body) for _ in range(5))
        print(f"  {label:<30}{best * 1000:8.1f} ms")


def _seconds(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    streams = int(os.environ.get("BENCH_STREAMS", "200"))
    long_requests = int(os.environ.get("BENCH_LONG_REQUESTS", "50000"))
    # Measured first, while nothing else of the benchmark runs.
    imports = import_times(int(os.environ.get("BENCH_IMPORT_RUNS", IMPORT_RUNS)))
    litellm = find_litellm()
    if litellm is None:
        print(
            "note: no litellm executable (set BENCH_LITELLM; "
            'pip install "litellm[proxy]" in a venv of its own): LiteLLM column left out'
        )
    with contextlib.ExitStack() as stack:
        up_port, tmp, mux, through_mux = start_servers(stack)
        targets = [
            Target("direct", f"http://127.0.0.1:{up_port}/v1/chat/completions", {}),
            through_mux,
        ]
        if litellm is not None:
            targets.append(start_litellm(stack, litellm, tmp / "litellm", up_port))
        print(
            f"measuring {', '.join(t.name for t in targets)}: {rounds} rounds of "
            f"{seconds} s at {' and '.join(map(str, CONNECTIONS))} connections ...",
            flush=True,
        )
        measure(targets, seconds, rounds)
        for target in targets:
            target.streams = asyncio.run(stream_timings(target.url, target.headers, streams))
        mux_base = through_mux.url.removesuffix("/v1/chat/completions")
        print("floors: Jupyter's handler alone, an upstream round trip alone ...", flush=True)
        floors = floor.measure(
            mux_base, through_mux.headers, mux.pid, up_port, wrk, seconds, rounds, streams
        )
        print("dialects: passthrough and translated ...", flush=True)
        dialects.setup(f"{mux_base}/api", through_mux.headers, up_port)
        dialect_rows = dialects.measure(
            mux_base, through_mux.headers, mux.pid, wrk, seconds, rounds, streams
        )
        print("responsiveness: Jupyter's /api/contents under mux streams ...", flush=True)
        server = through_mux.url.removesuffix("/mux/v1/chat/completions")
        responsive_rows = responsive.measure(
            server, through_mux.headers, TOKEN, through_mux.url, targets[0].url, mux.pid
        )
        remote_rows, why = None, remote.unavailable()
        if os.environ.get("BENCH_REMOTE", "1") == "0":
            why = "BENCH_REMOTE=0"
        if why is None:
            print("remote mode: a JupyterHub, its mux service, a user's server ...", flush=True)
            remote_rows = remote.measure(tmp / "hub", up_port, through_mux, mux.pid)
        else:
            print(f"note: remote mode section left out: {why}")
        print("many streams at once, queued past the provider's limit ...", flush=True)
        burst_rows = burst.measure(up_port)
        print(f"long run: {long_requests:,} requests through the mux ...", flush=True)
        rss = long_run(mux, through_mux, long_requests)
        # Last: it leaves thousands of workspaces in the store.
        print("management writes with 100 to 5,000 workspaces stored ...", flush=True)
        scale_rows = scale.measure(
            f"{mux_base}/api",
            through_mux.headers,
            TOKEN,
            through_mux.url,
            tmp / "jupyter" / "jupyter_mux" / "mux.sqlite",
            "bench",
        )
    print_table(targets, streams)
    print_ratios(targets)
    by_name = {t.name: t for t in targets}
    litellm_rps = by_name["litellm"].median(32, "rps") if "litellm" in by_name else None
    ttft = by_name["mux"].streams["ttft_p50"] - by_name["direct"].streams["ttft_p50"]
    floor.print_rows(floors, litellm_rps, ttft)
    dialects.print_rows(dialect_rows)
    (first_n, first), (last_n, last) = rss[0], rss[-1]
    trace = " ".join(f"{mb:.1f}" for _, mb in rss)
    print(
        f"\nRSS of the mux process: {first:.1f} MB -> {last:.1f} MB ({last - first:+.1f} MB) "
        f"over {last_n - first_n:,.0f} requests at 32 connections\n"
        f"  every 10 s: {trace}"
    )
    responsive.print_rows(responsive_rows)
    burst.print_rows(burst_rows)
    if remote_rows is not None:
        remote.print_rows(remote_rows)
    scale.print_rows(scale_rows)
    print_import_times(imports)
    print_file_scan()


if __name__ == "__main__":
    main()
