"""Binder's steps (binder/postBuild, binder/start) in a fresh virtual environment: the
package installs with its demo, JupyterLab starts, and the mux answers with no key.
repo2docker itself cannot run here (no container engine), so this runs what it would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest

from .servers import free_port

ROOT = Path(__file__).parent.parent


@pytest.mark.timeout(1200)
def test_binder_install_and_start(tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    env = {
        **os.environ,
        "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(env_dir),
        "HOME": str(tmp_path / "home"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    env.pop("PYTHONPATH", None)
    env.pop("JUPYTER_MUX_DEMO", None)
    subprocess.run(
        [str(ROOT / "binder" / "postBuild")], cwd=ROOT, env=env, check=True, stdout=sys.stderr
    )
    port = free_port()
    server = subprocess.Popen(
        [
            str(ROOT / "binder" / "start"),
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--IdentityProvider.token=binder",
            f"--ServerApp.root_dir={ROOT}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    auth = {"Authorization": "token binder"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "mux/api/providers", headers=auth).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "lab did not start"
            time.sleep(0.5)
        answer = httpx.post(
            base + "mux/v1/chat/completions",
            headers=auth,
            timeout=60,
            json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == "tiny-a"
        page = httpx.get(base + "lab/tree/notebooks/quickstart.ipynb", headers=auth)
        assert page.status_code == 200 and "JupyterLab" in page.text
    finally:
        server.terminate()
        server.wait(30)
