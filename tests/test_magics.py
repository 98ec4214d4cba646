"""The %mux / %%mux magics in a real IPython shell, against a real Jupyter server.

Magics block (they use the sync clients), and pytest-jupyter runs the server on the test's
own loop, so every magic runs in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from traitlets.config import Config

import jupyter_mux
from jupyter_mux.magics import load_ipython_extension


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[InteractiveShell]:
    """A fresh IPython shell with the extension loaded, its files kept in tmp_path."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ipython = InteractiveShell.instance(config=config, ipython_dir=str(tmp_path / "ipython"))
    load_ipython_extension(ipython)
    yield ipython
    InteractiveShell.clear_instance()


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No server to be found: an empty runtime directory and no discovery variables."""
    for name in ("JUPYTER_MUX_URL", "JUPYTER_MUX_TOKEN", "JUPYTER_TOKEN", "JPY_PARENT_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def mux_env(monkeypatch: pytest.MonkeyPatch, server_url: str, token: str) -> None:
    """What a kernel's environment would say; discovery by server file is in test_client."""
    monkeypatch.setenv("JUPYTER_MUX_URL", server_url)
    monkeypatch.setenv("JUPYTER_MUX_TOKEN", token)


def captured(call: Callable[..., Any], *args: Any) -> tuple[Any, CapturedIO]:
    with capture_output() as io:
        result = call(*args)
    return result, io


async def line(shell: InteractiveShell, text: str) -> CapturedIO:
    result, io = await asyncio.to_thread(captured, shell.run_line_magic, "mux", text)
    assert result is None
    return io


async def cell(shell: InteractiveShell, options: str, body: str) -> CapturedIO:
    result, io = await asyncio.to_thread(captured, shell.run_cell_magic, "mux", options, body)
    assert result is None  # the answer is displayed, not returned
    return io


def markdown(io: CapturedIO) -> list[Any]:
    return [o for o in io.outputs if "text/markdown" in o.data]


def table_rows(text: str) -> dict[str, str]:
    """Table lines keyed by their first word after the active marker."""
    return {ln.lstrip("* ").split()[0]: ln for ln in text.splitlines()[1:] if ln.strip()}


def test_magics_are_registered(shell):
    assert "mux" in shell.magics_manager.magics["line"]
    assert "mux" in shell.magics_manager.magics["cell"]


def test_load_ext(tmp_path):
    ipython = InteractiveShell.instance(ipython_dir=str(tmp_path / "ipython"))
    try:
        ipython.run_line_magic("load_ext", "jupyter_mux.magics")
        assert "mux" in ipython.magics_manager.magics["line"]
    finally:
        InteractiveShell.clear_instance()


def test_load_ext_from_the_package(tmp_path):
    if not hasattr(jupyter_mux, "load_ipython_extension"):
        pytest.skip("jupyter_mux does not re-export load_ipython_extension yet")
    ipython = InteractiveShell.instance(ipython_dir=str(tmp_path / "ipython"))
    try:
        ipython.run_line_magic("load_ext", "jupyter_mux")
        assert "mux" in ipython.magics_manager.magics["cell"]
    finally:
        InteractiveShell.clear_instance()


async def test_show_active(two_llamas, mux_env, shell):
    io = await line(shell, "")
    assert "Active workspace: wa (llama-a / tiny-a)" in io.stdout
    assert "mux:" not in io.stderr


async def test_use_switches_the_active_workspace(two_llamas, mux_env, shell, api):
    io = await line(shell, "use wb")
    assert "wb" in io.stdout and "llama-b / tiny-b" in io.stdout
    assert (await api.ok("GET", "active"))["name"] == "wb"
    assert "Active workspace: wb" in (await line(shell, "")).stdout


async def test_workspaces_table(two_llamas, mux_env, shell):
    io = await line(shell, "workspaces")
    rows = table_rows(io.stdout)
    assert set(rows) == {"default", "wa", "wb"}
    assert rows["wa"].startswith("*") and "llama-a / tiny-a" in rows["wa"]
    assert not rows["wb"].startswith("*") and "llama-b / tiny-b" in rows["wb"]
    assert "no model chosen" in rows["default"] and "pick a preferred model" in rows["default"]
    assert io.stdout.splitlines()[0].split() == ["workspace", "model", "problem"]


async def test_providers_table(two_llamas, mux_env, shell, api, free_port):
    await api.ok(
        "POST",
        "providers",
        {"name": "down", "type": "vllm", "endpoint": f"http://127.0.0.1:{free_port}"},
        201,
    )
    rows = table_rows((await line(shell, "providers")).stdout)
    assert rows["llama-a"].split() == ["llama-a", "llamacpp", "ok", "1"]
    assert rows["llama-b"].split() == ["llama-b", "llamacpp", "ok", "1"]
    assert rows["down"].split()[:4] == ["down", "vllm", "error", "0"]
    assert "connection refused" in rows["down"]


async def test_cell_streams_markdown(two_llamas, mux_env, shell):
    io = await cell(shell, "-m 8", "Say something.")
    outputs = markdown(io)
    assert len(outputs) >= 2, io.outputs  # shown once, then updated in place
    first, last = outputs[0], outputs[-1]
    assert not first.update and all(o.update for o in outputs[1:])
    assert {o.transient["display_id"] for o in outputs} == {first.transient["display_id"]}
    text = last.data["text/markdown"]
    assert text.strip() and text != "…" and "no answer" not in text
    served = last.metadata["text/markdown"]["jupyter_mux"]
    assert served == {"workspace": "wa", "provider": "llama-a", "model": "tiny-a"}
    assert io.stdout == "llama-a / tiny-a (workspace wa) answers:\n"  # said on screen too
    assert "mux:" not in io.stderr


async def test_cell_pinned_to_a_workspace(two_llamas, mux_env, shell, api):
    io = await cell(shell, "-w wb --max-tokens 4", "Say something.")
    served = markdown(io)[-1].metadata["text/markdown"]["jupyter_mux"]
    assert (served["workspace"], served["model"]) == ("wb", "tiny-b")
    assert "llama-b / tiny-b (workspace wb)" in io.stdout
    assert (await api.ok("GET", "active"))["name"] == "wa"


async def test_cell_error_prints_the_server_message(two_llamas, mux_env, shell, api):
    await api.ok("POST", "workspaces", {"name": "empty"}, 201)
    io = await cell(shell, "-w empty", "Say something.")
    assert markdown(io) == [] and io.stdout == ""  # nothing shown for a refused request
    errors = [ln for ln in io.stderr.splitlines() if ln.startswith("mux: ")]
    assert len(errors) == 1 and "Traceback" not in io.stderr
    assert "empty" in errors[0] and "has no model" in errors[0]

    io = await cell(shell, "-w ghost", "Say something.")
    assert "ghost" in io.stderr and markdown(io) == []


async def test_line_error_prints_the_server_message(two_llamas, mux_env, shell, api):
    io = await line(shell, "use ghost")
    _, body = await api("PUT", "active", {"name": "ghost"})
    assert f"mux: {body['message']}" in io.stderr
    assert "Traceback" not in io.stderr and io.stdout == ""
    assert (await api.ok("GET", "active"))["name"] == "wa"


def test_no_server_is_one_line(shell, runtime_dir):
    for call, args in (
        (shell.run_line_magic, ("mux", "")),
        (shell.run_cell_magic, ("mux", "", "hi")),
    ):
        result, io = captured(call, *args)
        assert result is None and "Traceback" not in io.stderr
        assert "mux: No running Jupyter server found" in io.stderr


async def test_unreachable_server_is_one_line(mux_env, shell, monkeypatch, free_port):
    monkeypatch.setenv("JUPYTER_MUX_URL", f"http://127.0.0.1:{free_port}/")
    for io in (await line(shell, "workspaces"), await cell(shell, "", "hi")):
        assert "mux: cannot reach" in io.stderr and "Traceback" not in io.stderr


async def test_usage_errors(shell, runtime_dir):
    """Misuse is reported before any server is looked for (there is none here)."""
    for text in (
        "bogus",
        "use",
        "use a b",
        "-w wa",
        "workspaces -m 3",
        "key create",
        "key create a b",
        "key revoke",
        "key --budget 3",
        "workspaces --expires 3d",
        "key create a --budget lots",
    ):
        with pytest.raises(UsageError):
            await asyncio.to_thread(shell.run_line_magic, "mux", text)
    for options, body in (("workspaces", "hi"), ("", "  \n")):
        with pytest.raises(UsageError):
            await asyncio.to_thread(shell.run_cell_magic, "mux", options, body)


async def test_keys(two_llamas, mux_env, shell, api):
    created = await line(shell, "key create notebook --workspace wb --budget 1.5 --expires 30d")
    lines = created.stdout.splitlines()
    assert lines[0].startswith("Created mux key 'notebook' (id ") and "mux:" not in created.stderr
    secret = lines[1].strip()
    assert secret.startswith("mux-")
    key = next(k for k in await api.ok("GET", "keys") if k["name"] == "notebook")
    assert (key["workspace"], key["budget_usd"]) == ("wb", 1.5)
    expires = datetime.fromisoformat(key["expires_at"]) - datetime.now(timezone.utc)
    assert timedelta(days=29) < expires <= timedelta(days=30)

    listed = await line(shell, "key")
    assert secret not in listed.stdout
    row = table_rows(listed.stdout)[key["id"]]
    assert "notebook" in row and key["prefix"] in row and "wb" in row and "0 / 1.5" in row
    assert "kernels and terminals" in listed.stdout  # the server's own key

    revoked = await line(shell, f"key revoke {key['id']}")
    assert revoked.stdout.strip() == f"Revoked mux key {key['id']}."
    assert key["id"] not in {k["id"] for k in await api.ok("GET", "keys")}
    again = await line(shell, f"key revoke {key['id']}")
    assert f"mux: No mux key with id '{key['id']}'." in again.stderr
    bad = await line(shell, "key create x --expires yesterday")
    assert "expires_at" in bad.stderr and "Traceback" not in bad.stderr
