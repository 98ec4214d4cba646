"""The example notebooks run top to bottom against `jupyter mux demo`, and say what they
should: the answering model changes with the workspace, in words of its own, and each
notebook puts back the workspace it found active."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from jupyter_mux.localmodel import VOCABULARIES

from .servers import free_port

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
TOKEN = "notebook-test-token"
AUTH = {"Authorization": f"token {TOKEN}"}
# The workspace active when each notebook starts: one the notebooks never pick themselves.
FOUND = "mine"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`jupyter mux demo` in its own process, as a user would start it."""
    home = tmp_path_factory.mktemp("demo-home")
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mux",
            "demo",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={home}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + "mux/api/providers", headers=AUTH).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "demo did not start"
            time.sleep(0.3)
        preferred = {"provider": "demo-a", "model": "tiny-a"}
        created = httpx.post(
            url + "mux/api/workspaces", headers=AUTH, json={"name": FOUND, "preferred": preferred}
        )
        assert created.status_code == 201, created.text
        yield url
    finally:
        process.terminate()
        process.wait(30)


def active(server: str) -> str:
    return httpx.get(server + "mux/api/active", headers=AUTH).json()["name"]


def run(name: str, server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Execute a notebook with `FOUND` active; answer the text of all its outputs."""
    httpx.put(server + "mux/api/active", headers=AUTH, json={"name": FOUND}).raise_for_status()
    monkeypatch.setenv("JUPYTER_MUX_URL", server)
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", TOKEN)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    assert active(server) == FOUND, f"{name}.ipynb did not put back the active workspace"
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            for value in output.get("data", {}).values():
                texts.append(value if isinstance(value, str) else str(value))
    return "\n".join(texts)


def says(out: str, vocabulary: str) -> bool:
    """Whether some output line is made of the vocabulary's words (and punctuation) only."""
    words = set(VOCABULARIES[vocabulary])
    for line in out.splitlines():
        said = line.replace(".", " ").replace(",", " ").split()
        if len(said) >= 3 and set(said) <= words:
            return True
    return False


def test_quickstart(demo_server, monkeypatch):
    out = run("quickstart", demo_server, monkeypatch)
    assert "workspace: demo-a | model: tiny-a" in out
    assert "workspace: demo-b | model: tiny-b" in out
    assert says(out, "ocean") and says(out, "forest")
    assert f"active workspace: {FOUND}" in out


def test_magics(demo_server, monkeypatch):
    out = run("magics", demo_server, monkeypatch)
    assert "demo-b / tiny-b (workspace demo-b) answers:" in out
    assert "demo-a / tiny-a (workspace demo-a) answers:" in out
    assert says(out, "forest") and says(out, "ocean")


def test_widgets(demo_server, monkeypatch):
    out = run("widgets", demo_server, monkeypatch)
    assert "active: demo-b" in out and f"active: {FOUND}" in out
    assert "MuxPanel(children=" in out  # the widget itself was displayed


def test_langchain(demo_server, monkeypatch):
    out = run("langchain", demo_server, monkeypatch)
    assert f"base API URL: {demo_server}mux/v1" in out
    assert "tiny-a ->" in out
