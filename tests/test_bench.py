"""The benchmark stays runnable: `bench/run.py`, shrunk to a few seconds, starts its
upstream and the mux, drives both with wrk and prints its table. Its figures are not judged
here (tests make no timed assertions); that every request was answered, is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SMALL = {
    "BENCH_SECONDS": "1",
    "BENCH_ROUNDS": "1",
    "BENCH_STREAMS": "5",
    "BENCH_LONG_REQUESTS": "200",
    "BENCH_IMPORT_RUNS": "2",
    "BENCH_PROBES": "10",
    "BENCH_PATCHES": "2",
    # Past the default limit per provider (100): some wait for a connection.
    "BENCH_WAVE": "120",
}


def table_row(output: str, label: str) -> list[str]:
    match = re.search(rf"^{re.escape(label)}\s+(.+)$", output, re.MULTILINE)
    assert match, f"no row {label!r} in:\n{output}"
    return match.group(1).split()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="the benchmark needs Debian's wrk")
def test_benchmark_runs_and_prints_its_table(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py")],
        # The remote mode section (a JupyterHub) has its own test below.
        env={**os.environ, **SMALL, "BENCH_REMOTE": "0", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # direct, mux (and LiteLLM, where one is installed)
    rates = [float(v.replace(",", "")) for v in table_row(output, "req/s, 32 conn")]
    assert len(rates) >= 2 and all(rate > 0 for rate in rates)
    assert set(table_row(output, "non-2xx answers")) == {"0"}
    # Every dialect, passed through and translated, answered every request.
    for label in ("chat, passthrough", "responses <- chat (translated)", "messages, passthrough"):
        rps, _p50, _cpu, errors = table_row(output, label)
        assert float(rps.replace(",", "")) > 0 and errors == "0", label
    # The floors, measured in the same run as the rows they bound.
    assert re.search(r"a proxy in Jupyter needs >= \d+ us per request", output), output
    assert re.search(r"Jupyter's handler alone adds -?[\d.]+ ms to the first byte", output)
    assert re.search(r"RSS of the mux process: [\d.]+ MB -> [\d.]+ MB", output), output
    assert re.search(r"import jupyter_mux, fresh interpreter: median \d+ ms", output), output
    for label in ("while 100 mux streams", "100 streams by Jupyter", "100 streams, mux bypassed"):
        chunks_s, _cpu, _p50, _p90, _ratio = table_row(output, "  " + label)
        assert float(chunks_s.replace(",", "")) > 0, label
    assert re.search(r"5,000 workspaces\s+[\d.]+\s+[\d.]+", output), output
    # A burst past the provider's connection limit, and one within it: none failed.
    bursts = re.findall(r"^  120 x ~2 s streams\s+(\d+)\s+(\d+)\s", output, re.MULTILINE)
    assert bursts == [("100", "0"), ("120", "0")], output


@pytest.mark.skipif(shutil.which("wrk") is None, reason="the benchmark needs Debian's wrk")
@pytest.mark.skipif(
    shutil.which("configurable-http-proxy") is None,
    reason="the remote mode benchmark needs configurable-http-proxy (npm)",
)
def test_remote_mode_benchmark_runs_and_prints_its_table(tmp_path):
    """`bench/remote.py` alone: a JupyterHub with the mux service and a user's server in
    remote mode beside the local extension; every column answered every request."""
    pytest.importorskip("jupyterhub", reason="the remote mode benchmark needs jupyterhub")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "remote.py")],
        env={**os.environ, **SMALL, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    columns = ["direct", "local", "remote", "remote+proxy", "service+proxy", "service"]
    columns.append("budgeted")  # a user under a budget: holds and spends each request
    assert table_row(output, "remote mode") == columns
    for label in ("p50 ms, 1 conn", "p99 ms, 1 conn", "first chunk p50 ms"):
        values = [float(v) for v in table_row(output, label)]
        assert len(values) == len(columns) and all(v > 0 for v in values), label
    for label in ("added p50 ms", "added first chunk ms"):
        assert len(table_row(output, "  " + label)) == len(columns), label
    requests = [float(v.replace(",", "")) for v in table_row(output, "requests")]
    assert len(requests) == len(columns) and all(n > 0 for n in requests)
    assert table_row(output, "non-2xx answers") == ["0"] * len(columns)
