"""A real `jupyter lab` in a subprocess, isolated in temporary Jupyter directories, with
the mux enabled and the jupyter-mux lab extension from this checkout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from ..servers import ServerProcess

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


class LabServer(ServerProcess):
    """`jupyter lab` on a free loopback port, the mux in it on its own SQLite file, this
    checkout's lab extension installed; `url` ends with a slash."""

    def __init__(
        self, tmp: Path, token: str = "ui-test-token", mux_config: dict[str, Any] | None = None
    ) -> None:
        super().__init__(
            tmp,
            "jupyterlab",
            "--LabApp.expose_app_in_browser=True",
            f"--LabServerApp.workspaces_dir={tmp / 'workspaces'}",
            token=token,
            env={"JUPYTER_PLATFORM_DIRS": "1"},
            ready_path="mux/api/workspaces",
        )
        self.mux_config = mux_config or {}

    def start(self, timeout: float = 90.0) -> LabServer:
        data, config = Path(self.env["JUPYTER_DATA_DIR"]), self.config_dir
        for folder in (data, config):
            folder.mkdir(parents=True, exist_ok=True)
        # This checkout's build wins over any installed copy (the user data dir is first).
        extension = installed_extension()
        if extension is not None:
            (data / "labextensions").mkdir(exist_ok=True)
            (data / "labextensions" / "jupyter-mux").symlink_to(extension)
        server_config = {
            "ServerApp": {"jpserver_extensions": {"jupyter_mux": True}},
            "MuxApp": {
                "db_url": f"sqlite:///{self.home / 'mux.sqlite'}",
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
        return super().start(timeout)

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Call the mux management API with the token."""
        return httpx.request(
            method,
            f"{self.url}mux/api/{path}",
            json=body,
            headers=self.headers,
            timeout=30,
        )

    def api_ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.api(method, path, body)
        assert response.is_success, (response.status_code, response.text)
        return response.json() if response.content else None
