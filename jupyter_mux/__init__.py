"""jupyter-mux: model muxing for Jupyter.

From a notebook: `openai_client()` and `anthropic_client()` for SDK clients already pointed
at this server's mux, `MuxClient` for the management API, `MuxPanel` for a widget, and
`%load_ext jupyter_mux` for the `%mux` magics.

A kernel imports this package for the client only, so nothing here imports server code
(jupyter_server, tornado, SQLAlchemy, aiohttp): the server extension (`MuxApp`) and the
widget are loaded on first use, by Jupyter through the entry points below or by whoever
asks for them by name. tests/test_client.py checks what the import pulls in.
"""

from typing import Any

from ._version import __version__
from .client import (
    MuxAPIError,
    MuxClient,
    MuxServerNotFound,
    ServerInfo,
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    find_server,
    openai_client,
)


def _jupyter_server_extension_points() -> list[dict]:
    """Called by Jupyter when it loads server extensions: only then is the app imported."""
    from .app import MuxApp

    return [{"module": "jupyter_mux", "app": MuxApp}]


def _jupyter_labextension_paths() -> list[dict]:
    """Where `jupyter labextension develop` finds the built lab extension."""
    return [{"src": "labextension", "dest": "jupyter-mux"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_mux`; IPython is imported only then."""
    from .magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    # The server app and ipywidgets are imported only by those who ask for them.
    if name == "MuxApp":
        from .app import MuxApp

        return MuxApp
    if name == "MuxPanel":
        from .widgets import MuxPanel

        return MuxPanel
    raise AttributeError(f"module 'jupyter_mux' has no attribute {name!r}")


__all__ = [
    "MuxAPIError",
    "MuxApp",
    "MuxClient",
    "MuxPanel",
    "MuxServerNotFound",
    "ServerInfo",
    "__version__",
    "anthropic_client",
    "async_anthropic_client",
    "async_openai_client",
    "find_server",
    "load_ipython_extension",
    "openai_client",
]
