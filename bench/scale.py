"""Management cost as the store grows: a PATCH of one workspace with 100 / 500 / 1,500 /
5,000 workspaces stored, and the longest a mux request took while those writes ran.

Workspaces are seeded straight into the server's SQLite file (one catch-all rule each,
routed to the bench provider) with the revision bumped, as another server sharing the
database would; the mux picks them up on its next sync. Then, while a separate process
(`load.py requests`) sends whole chat requests one after another, `BENCH_PATCHES` (15)
PATCHes change one workspace's description and preferred model, one after another.
Run alone: python bench/scale.py (starts its own upstream and mux).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).parent
SIZES = (100, 500, 1_500, 5_000)
MODEL = "bench-model"


def seed(db: Path, total: int, provider: str) -> None:
    """Add workspaces `ws00000`... until `total` of them exist (besides `default`)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as con, con:
        have = con.execute("SELECT count(*) FROM mux_workspace WHERE name LIKE 'ws%'").fetchone()[0]
        for i in range(have, total):
            workspace = con.execute(
                "INSERT INTO mux_workspace (owner, name, description, created_at, updated_at) "
                "VALUES ('', ?, '', ?, ?)",
                (f"ws{i:05d}", now, now),
            ).lastrowid
            rule = con.execute(
                "INSERT INTO mux_rule (workspace_id, position, kind, pattern) "
                "VALUES (?, 0, 'catch_all', NULL)",
                (workspace,),
            ).lastrowid
            con.execute(
                "INSERT INTO mux_target (rule_id, position, provider_name, model) "
                "VALUES (?, 0, ?, ?)",
                (rule, provider, MODEL),
            )
        con.execute(
            "UPDATE mux_setting SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
            "WHERE key = 'revision'"
        )


def wait_for_workspace(api: str, auth: dict[str, str], name: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if httpx.get(f"{api}/workspaces/{name}", headers=auth, timeout=60).status_code == 200:
            return
        time.sleep(0.3)
    raise RuntimeError(f"the mux never saw workspace {name}")


def measure(
    api: str, auth: dict[str, str], token: str, chat_url: str, db: Path, provider: str
) -> list[dict[str, float]]:
    """Per size: PATCH p50 and max (ms); the mux requests' p50 before the writes, and the
    longest one that overlapped them (ms)."""
    patches = int(os.environ.get("BENCH_PATCHES", "15"))
    rows = []
    for size in SIZES:
        seed(db, size, provider)
        wait_for_workspace(api, auth, f"ws{size - 1:05d}")
        target = f"ws{size // 2:05d}"
        times: list[float] = []
        load = subprocess.Popen(
            [sys.executable, str(HERE / "load.py"), "requests", chat_url, token],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(2)
            begin = time.time()
            with httpx.Client(headers=auth, timeout=60) as http:
                for i in range(patches):
                    body = {
                        "description": f"edit {i}",
                        "preferred": {"provider": provider, "model": MODEL},
                    }
                    start = time.perf_counter()
                    http.patch(f"{api}/workspaces/{target}", json=body).raise_for_status()
                    times.append((time.perf_counter() - start) * 1000)
            end = time.time()
        finally:
            load.terminate()
            out, _ = load.communicate(timeout=60)
        done = json.loads(out)
        spans = list(zip(done["starts"], done["latencies"], strict=True))
        quiet = [ms for start, ms in spans if start + ms / 1000 < begin][5:]  # warm-up off
        during = [ms for start, ms in spans if start < end and start + ms / 1000 > begin]
        rows.append(
            {
                "size": size,
                "patch_p50": statistics.median(times),
                "patch_max": max(times),
                "req_p50": statistics.median(quiet),
                "req_p99_quiet": _p99(quiet),
                "req_max_quiet": max(quiet),
                "req_p99": _p99(during),
                "req_max": max(during),
                "requests": len(during),
            }
        )
    return rows


def _p99(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.99)]


def print_rows(rows: list[dict[str, float]]) -> None:
    print(
        "\nPATCH a workspace, N stored   PATCH ms p50    max | mux requests ms, before the"
        " writes: p50  p99  max | during: p99  max (n)"
    )
    for r in rows:
        print(
            f"  {r['size']:>6,} workspaces{'':<12}{r['patch_p50']:9.1f} {r['patch_max']:6.1f}"
            f" | {'':>24}{r['req_p50']:5.2f} {r['req_p99_quiet']:5.1f} {r['req_max_quiet']:5.1f}"
            f" | {r['req_p99']:11.1f} {r['req_max']:5.1f} ({r['requests']:.0f})"
        )


def main() -> None:
    import run  # bench/run.py: the same servers as the main benchmark

    with contextlib.ExitStack() as stack:
        _up_port, tmp, _mux, through = run.start_servers(stack)
        api = through.url.removesuffix("/v1/chat/completions") + "/api"
        db = tmp / "jupyter" / "jupyter_mux" / "mux.sqlite"
        rows = measure(api, through.headers, run.TOKEN, through.url, db, "bench")
    print_rows(rows)


if __name__ == "__main__":
    main()
