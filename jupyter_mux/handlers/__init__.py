"""Tornado handlers: thin adapters between HTTP and the service."""

from . import api, mux

# The JSON 404 for unknown paths goes last, so that it only catches what nothing else does.
HANDLERS = mux.HANDLERS + api.HANDLERS + mux.FALLBACK

__all__ = ["HANDLERS"]
