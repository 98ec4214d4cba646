"""`jupyter mux` on the command line: what --help says, and running as root explained before
anything is started or written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mux.cli import _root_refused

ROOT = Path(__file__).parent.parent
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs to run as root"
)


def jupyter_mux(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m jupyter_mux ARGS` with Jupyter directories of its own under `home`."""
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
    }
    env.pop("JUPYTER_MUX_DEMO", None)
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mux", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"]])
def test_help_names_the_subcommands_the_port_and_root(tmp_path, args):
    done = jupyter_mux(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "jupyter mux demo [options]" in out and "jupyter mux [options]" in out
    assert "--port=N" in out and "next free one" in out
    assert "--allow-root" in out
    assert "jupyter mux demo --port=9000" in out  # an example with a chosen port
    assert not (tmp_path / "data").exists()


@as_root
@pytest.mark.parametrize("subcommand", [["demo"], []])
def test_root_is_explained_before_any_work(tmp_path, subcommand):
    done = jupyter_mux(tmp_path, *subcommand, "--no-browser", "--port=9")
    assert done.returncode == 1
    suggested = f"jupyter mux{' demo' if subcommand else ''} --allow-root --no-browser --port=9"
    assert suggested in done.stderr, done.stderr
    assert "c.ServerApp.allow_root = True" in done.stderr
    assert "Traceback" not in done.stderr
    # Nothing set up: no database, no key file, no demo models, no runtime files.
    assert not (tmp_path / "data").exists() and not (tmp_path / "runtime").exists()


@as_root
def test_root_allowed_by_flag_or_configuration(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config))
    assert _root_refused(["--no-browser"])
    assert not _root_refused(["--allow-root"])
    assert not _root_refused(["--ServerApp.allow_root=True"])
    (config / "jupyter_server_config.json").write_text('{"ServerApp": {"allow_root": true}}')
    assert not _root_refused(["--no-browser"])
    assert _root_refused(["--ServerApp.allow_root=False"])  # the command line wins


def test_not_root_is_never_refused(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert not _root_refused([])
