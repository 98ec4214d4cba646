"""The benchmark's dialect rows: each client dialect through the mux, passed through (the
provider speaks it) and translated, against the same zero-latency upstream (upstream.py
answers chat, Messages and Responses in their own formats).

For each row: req/s at 32 connections and p50 at one connection (wrk, whole answers), and
the mux process's CPU time per streamed chunk (streams of 16 text chunks, one at a time,
the process's user + system time divided by the chunks the client received).
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL = "bench-model"
MESSAGES = [{"role": "user", "content": "Hello"}]

# provider name -> its type: passthrough for what the type serves natively, else translated
PROVIDERS = {
    "up-vllm": ("vllm", {}),
    "up-openai": ("openai", {"auth_type": "none"}),
    "up-anthropic": ("anthropic", {"api_key": "sk-bench"}),
}


@dataclass(frozen=True)
class Row:
    label: str
    provider: str
    route: str
    body: dict


ROWS = [
    Row("chat, passthrough", "up-vllm", "chat/completions", {"messages": MESSAGES}),
    Row(
        "chat <- Anthropic (translated)", "up-anthropic", "chat/completions", {"messages": MESSAGES}
    ),
    Row("responses, passthrough", "up-vllm", "responses", {"input": "Hello"}),
    Row("responses <- chat (translated)", "up-openai", "responses", {"input": "Hello"}),
    Row("messages, passthrough", "up-vllm", "messages", {"max_tokens": 64, "messages": MESSAGES}),
    Row(
        "messages <- chat (translated)",
        "up-openai",
        "messages",
        {"max_tokens": 64, "messages": MESSAGES},
    ),
]


def setup(api: str, auth: dict[str, str], up_port: int) -> None:
    """One provider of each type on the upstream, and a workspace `w-<provider>` each."""
    for name, (kind, extra) in PROVIDERS.items():
        endpoint = f"http://127.0.0.1:{up_port}"
        httpx.post(
            f"{api}/providers",
            headers=auth,
            json={"name": name, "type": kind, "endpoint": endpoint, **extra},
        ).raise_for_status()
        preferred = {"provider": name, "model": MODEL}
        httpx.post(
            f"{api}/workspaces", headers=auth, json={"name": f"w-{name}", "preferred": preferred}
        ).raise_for_status()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (/proc/PID/stat, clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_chunk(url: str, headers: dict[str, str], body: dict, pid: int, n: int) -> float:
    """Microseconds of the mux's CPU per chunk over `n` streamed answers."""
    chunks = 0
    with httpx.Client(timeout=30) as http:
        before = cpu_seconds(pid)
        for _ in range(n):
            answer = http.post(url, headers=headers, json={**body, "stream": True})
            answer.raise_for_status()
            chunks += answer.text.count("\n\n")
        spent = cpu_seconds(pid) - before
    return spent / chunks * 1e6


def measure(
    base: str,
    headers: dict[str, str],
    pid: int,
    wrk: Callable[..., dict[str, float]],
    seconds: int,
    rounds: int,
    streams: int,
) -> list[tuple[str, float, float, float, float]]:
    """(label, req/s at 32 connections, p50 ms at one, CPU us per streamed chunk, non-2xx
    answers) per row, medians over `rounds`."""
    results = []
    for row in ROWS:
        url = f"{base}/w/w-{row.provider}/v1/{row.route}"
        body = json.dumps({"model": MODEL, **row.body})
        wrk(url, 1, 1, headers, body=body)  # warm-up
        loaded = [wrk(url, 32, seconds, headers, body=body) for _ in range(rounds)]
        single = [wrk(url, 1, seconds, headers, body=body) for _ in range(rounds)]
        errors = sum(r["errors"] for r in loaded + single)
        rps = statistics.median(r["rps"] for r in loaded)
        p50 = statistics.median(r["p50"] for r in single)
        cpu = cpu_per_chunk(url, headers, {"model": MODEL, **row.body}, pid, streams)
        results.append((row.label, rps, p50, cpu, errors))
    return results


def print_rows(results: list[tuple[str, float, float, float, float]]) -> None:
    print(
        f"\n{'dialect, path':<34}{'req/s 32c':>12}{'p50 ms 1c':>12}{'CPU us/chunk':>14}"
        f"{'non-2xx':>9}"
    )
    for label, rps, p50, cpu, errors in results:
        print(f"{label:<34}{rps:>12,.0f}{p50:>12.2f}{cpu:>14.1f}{errors:>9.0f}")
