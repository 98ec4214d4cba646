"""jupyter-mux: model muxing for Jupyter.

From a notebook: `openai_client()` for an openai client already pointed at this server's
mux, `MuxClient` for the management API, `MuxPanel` for a widget, and `%load_ext
jupyter_mux` for the `%mux` magics.
"""

from typing import Any

from ._version import __version__
from .app import MuxApp
from .client import (
    MuxAPIError,
    MuxClient,
    MuxServerNotFound,
    ServerInfo,
    async_openai_client,
    find_server,
    openai_client,
)


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "jupyter_mux", "app": MuxApp}]


def _jupyter_labextension_paths() -> list[dict]:
    """Where `jupyter labextension develop` finds the built lab extension."""
    return [{"src": "labextension", "dest": "jupyter-mux"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_mux`; IPython is imported only then."""
    from .magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    # ipywidgets is imported only by those who ask for the panel.
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
    "async_openai_client",
    "find_server",
    "load_ipython_extension",
    "openai_client",
]
