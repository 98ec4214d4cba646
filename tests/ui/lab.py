"""A real `jupyter lab` in a subprocess, isolated in temporary Jupyter directories, with
the mux enabled and the jupyter-mux lab extension from this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ..servers import free_port

ROOT = Path(__file__).resolve().parents[2]
BUILT_EXTENSION = ROOT / "jupyter_mux" / "labextension"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def installed_extension() -> Path | None:
    """The built extension: this checkout's build output, else the installed copy."""
    if (BUILT_EXTENSION / "package.json").exists():
        return BUILT_EXTENSION
    for base in (Path(sys.prefix), Path(sys.base_prefix)):
        candidate = base / "share" / "jupyter" / "labextensions" / "jupyter-mux"
        if (candidate / "package.json").exists():
            return candidate
    return None


class LabServer:
    """`jupyter lab` on a free loopback port; `url` ends with a slash."""

    def __init__(
        self, tmp: Path, token: str = "ui-test-token", mux_config: dict[str, Any] | None = None
    ) -> None:
        self.tmp = tmp
        self.mux_config = mux_config or {}
        self.token = token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = tmp / "lab.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _prepare(self) -> dict[str, str]:
        data, runtime, config, root = (
            self.tmp / name for name in ("data", "runtime", "config", "root")
        )
        for folder in (data, runtime, config, root):
            folder.mkdir(parents=True, exist_ok=True)
        # This checkout's build wins over any installed copy (the user data dir is first).
        extension = installed_extension()
        if extension is not None:
            (data / "labextensions").mkdir(exist_ok=True)
            (data / "labextensions" / "jupyter-mux").symlink_to(extension)
        server_config = {
            "ServerApp": {"jpserver_extensions": {"jupyter_mux": True}},
            "MuxApp": {
                "db_url": f"sqlite:///{self.tmp / 'mux.sqlite'}",
                "read_timeout": 30.0,
                **self.mux_config,
            },
        }
        (config / "jupyter_server_config.json").write_text(json.dumps(server_config))
        # No news prompt over the page; expose the app so tests can run commands.
        (config / "labconfig").mkdir(exist_ok=True)
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        env = {
            **os.environ,
            "JUPYTER_DATA_DIR": str(data),
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_PLATFORM_DIRS": "1",
            "JUPYTER_MUX_DEMO": "0",
        }
        env.pop("JUPYTER_MUX_ENCRYPTION_KEY", None)
        return env

    def start(self, timeout: float = 90.0) -> LabServer:
        env = self._prepare()
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.tmp / 'root'}",
            f"--IdentityProvider.token={self.token}",
            "--LabApp.expose_app_in_browser=True",
            "--LabServerApp.workspaces_dir=" + str(self.tmp / "workspaces"),
        ]
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.tmp
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{self.log()}")
            try:
                if self.api("GET", "workspaces").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyter lab did not start in {timeout}s:\n{self.log()}")
            time.sleep(0.25)

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Call the mux management API with the token."""
        return httpx.request(
            method,
            f"{self.url}mux/api/{path}",
            json=body,
            headers={"Authorization": f"token {self.token}"},
            timeout=30,
        )

    def api_ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.api(method, path, body)
        assert response.is_success, (response.status_code, response.text)
        return response.json() if response.content else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()
