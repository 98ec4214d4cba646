"""The extension as users start it: `jupyter mux`, and start-up that fails clearly."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from cryptography.fernet import Fernet


def test_jupyter_mux_command_prints_mux_url_and_serves(tmp_path, free_port):
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    env.pop("JUPYTER_MUX_ENCRYPTION_KEY", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mux",
            "--no-browser",
            "--allow-root",
            f"--port={free_port}",
            "--IdentityProvider.token=tok",
            f"--ServerApp.root_dir={tmp_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        url = None
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "jupyter mux exited before printing its URL"
            if "Jupyter Mux:" in line:
                url = line.split("Jupyter Mux:")[1].strip()
        assert url == f"http://localhost:{free_port}/mux/v1"
        response = httpx.get(
            url.replace("/v1", "/api/active"), headers={"Authorization": "token tok"}
        )
        assert response.json() == {"name": "default"}
        assert (tmp_path / "data" / "jupyter_mux" / "mux.sqlite").exists()
        key = tmp_path / "data" / "jupyter_mux" / "mux.key"
        assert oct(key.stat().st_mode & 0o777) == "0o600"
    finally:
        process.terminate()
        process.wait(30)


class TestWrongEncryptionKey:
    """A database written under one key, opened with another: refuse, don't decrypt junk."""

    @pytest.fixture
    def mux_config(self, db_path):
        from jupyter_mux.secrets import SecretBox
        from jupyter_mux.store import Store

        store = Store(f"sqlite:///{db_path}")
        store.initialize(SecretBox(Fernet.generate_key()).key_check())
        store.dispose()
        return {"encryption_key": Fernet.generate_key().decode()}

    async def test_routes_answer_503_with_the_reason(self, api, mux_url, token):
        code, error = await api("GET", "providers")
        assert code == 503 and "encryption key does not match" in error["message"]
        async with httpx.AsyncClient() as http:
            response = await http.post(
                mux_url + "/chat/completions",
                headers={"Authorization": f"Bearer {token}"},
                json={"messages": []},
            )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "mux_unavailable"

    async def test_still_needs_auth(self, server_url):
        async with httpx.AsyncClient() as http:
            response = await http.get(server_url + "mux/api/providers")
        assert response.status_code == 403 and "encryption" not in response.text


class TestBadPredefinedProvider:
    @pytest.fixture
    def mux_config(self):
        return {"providers": [{"name": "x", "type": "nope"}]}

    async def test_names_the_config_entry(self, api):
        code, error = await api("GET", "workspaces")
        assert code == 503 and "c.MuxApp.providers[0]" in error["message"]
