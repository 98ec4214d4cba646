"""The answer pipeline without a network: framer -> translator -> encoder, as the proxy runs
it, for the wire-format tests' recorded payloads."""

from __future__ import annotations

from typing import Any

from jupyter_mux.dialects.chat import ChatEncoder
from jupyter_mux.items import Failure, Item
from jupyter_mux.providers.wire import Wire


def stream_items(wire: Wire, kind: str, pieces: list[bytes], model: str) -> list[Item]:
    """Every item a stream cut into `pieces` yields, a framing failure included."""
    framer, translator = wire.framer(), wire.translator(kind, model)
    items: list[Item] = []
    for piece in pieces:
        items += translator.feed(framer.feed(piece))
    items += translator.feed(framer.close())
    if framer.error is not None:
        items.append(Failure(str(framer.error), code="upstream_malformed"))
    items += translator.close()
    assert translator.close() == [], "close twice yields nothing the second time"
    return items


def encode_stream(
    wire: Wire, kind: str, pieces: list[bytes], *, model: str, include_usage: bool = False
) -> bytes:
    """The bytes a chat/completions client receives, with the proxy's policy: what comes
    before a failure goes out, then the failure as the stream's last event."""
    encoder = ChatEncoder(kind, model, include_usage=include_usage)
    out = b""
    for item in stream_items(wire, kind, pieces, model):
        if isinstance(item, Failure):
            return out + encoder.failure(item)
        out += encoder.stream([item])
    return out


def encode_body(wire: Wire, kind: str, payload: dict[str, Any], model: str) -> dict[str, Any]:
    items = wire.items_from_body(kind, payload, model)
    failures = [i for i in items if isinstance(i, Failure)]
    if failures:
        raise ValueError(failures[0].message)
    return ChatEncoder(kind, model).body(items)
