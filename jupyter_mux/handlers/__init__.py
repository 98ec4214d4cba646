"""Tornado handlers: thin adapters between HTTP and the service."""

from . import api, mux

HANDLERS = mux.HANDLERS + api.HANDLERS

__all__ = ["HANDLERS"]
