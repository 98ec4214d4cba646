"""Provider types and the wire formats that speak to them.

Each wire format's module turns the upstream's answer into items (`jupyter_mux.items`):
a whole JSON body through a function, a stream through a `Translator` fed the events the
framer (`jupyter_mux.framing`) cut from the upstream's bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..framing import Event
    from ..items import Item


class Translator(Protocol):
    """Upstream events -> items, for one streamed answer. A small state machine: it keeps
    what it must (open tool calls, counts) between calls, and never does I/O.

    A failure the upstream reports in-band (an error event or line) comes out as a
    `Failure` item, never as bytes; after a `Failure` or `Done` nothing more comes out.
    A passthrough translator (the upstream speaks the client's dialect) emits each event's
    bytes as a `Raw` item, plus the `Usage`, `Failure` and `Done` it reads from them.
    """

    def feed(self, events: list[Event]) -> list[Item]: ...

    def close(self) -> list[Item]:
        """The upstream's body ended: a `Failure` (code `upstream_truncated`) when no `Done`
        came, else nothing."""
        ...
