"""A Jupyter server extension for the bench only: `POST <base_url>bench/drip` streams
upstream.py's chunks from Jupyter itself, `drip` seconds apart, with no upstream call.

It is the floor of any relay inside Jupyter's process: Jupyter's handler for each request
(prepare, auth, the access line) and Tornado's write of each chunk, written the way the
mux's relay writes a begun stream, with a timer where the mux waits on the upstream.
`responsive.py` sends the same streams here as to the mux, so the row it prints says how
much of Jupyter's slowdown under that load is Jupyter's own.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from upstream import CHUNKS  # bench/ is on the path of the server that loads this

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

PATH = "bench/drip"


class DripHandler(JupyterHandler):
    @web.authenticated
    async def post(self) -> None:
        gap = float(json.loads(self.request.body)["drip"])
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.request.connection.stream.set_nodelay(True)  # type: ignore[union-attr]
        first, *rest = CHUNKS
        self.write(first)
        await self.flush()  # the head goes out with the first chunk
        for event in rest:
            await asyncio.sleep(gap)
            await self.request.connection.write(event.encode())  # type: ignore[union-attr]
        await asyncio.sleep(gap)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_drip"}]


def _load_jupyter_server_extension(serverapp: ServerApp) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, PATH), DripHandler)])
