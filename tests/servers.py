"""Jupyter servers in processes of their own, for what pytest-jupyter's one in-process
server cannot give: a second server on the same database, a server to fuzz from another
process. Each gets its own config, data and runtime directories, so nothing of the
machine's Jupyter setup leaks in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typing_extensions import Self


def free_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m <module>` (jupyter_mux, jupyter_server) on a free loopback port, with a
    token; `start` returns once `GET <ready_path>` answers, `log` is everything it printed.

    The caller's JUPYTER_MUX_ENCRYPTION_KEY and JUPYTER_MUX_DEMO are dropped: a test says
    what it wants in `env` or in the server's config."""

    def __init__(
        self,
        home: Path,
        module: str,
        *args: str,
        token: str = "test-token",
        env: dict[str, str] | None = None,
        ready_path: str = "mux/api/active",
    ) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.token = token
        self.headers = {"Authorization": f"token {token}"}
        self.ready_path = ready_path
        self.command = [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home / 'root'}",
            *args,
        ]
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("JUPYTER_MUX_ENCRYPTION_KEY", "JUPYTER_MUX_DEMO")
        }
        self.env.update(
            {
                "HOME": str(home),
                "JUPYTER_CONFIG_DIR": str(home / "config"),
                "JUPYTER_DATA_DIR": str(home / "data"),
                "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                **(env or {}),
            }
        )
        self.log_path = home / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def config_dir(self) -> Path:
        return Path(self.env["JUPYTER_CONFIG_DIR"])

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 120.0) -> Self:
        for folder in (self.config_dir, self.home / "root"):
            folder.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.home
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready = httpx.get(self.url + self.ready_path, headers=self.headers, timeout=5)
                if ready.is_success:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{' '.join(self.command)} did not start:\n{self.log}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
