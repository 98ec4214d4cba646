"""jupyter-mux: model muxing for Jupyter."""

from ._version import __version__
from .app import MuxApp


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "jupyter_mux", "app": MuxApp}]


__all__ = ["MuxApp", "__version__"]
