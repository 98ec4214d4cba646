"""What the mux keeps of a Responses answer, so that a client can continue the conversation
with `previous_response_id` (the mux's own store: an upstream that was sent the request as
chat never saw a response id)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...openai_request import MuxRequest
from ...response_store import ResponseStore
from .encoder import ResponsesEncoder
from .request import input_messages

if TYPE_CHECKING:
    from ...proxy import Exchange


def remember(store: ResponseStore, request: MuxRequest, exchange: Exchange) -> None:
    """Keep the answer and the conversation up to it, unless the client said `store: false`
    or the answer failed part-way (nothing whole to continue from)."""
    if request.body.get("store") is False:
        return
    previous = request.body.get("previous_response_id")
    history = store.history(previous) if isinstance(previous, str) and previous else []
    encoder = exchange.encoder
    if isinstance(encoder, ResponsesEncoder):
        response, output = encoder.response, encoder.chat_messages()
    else:  # passed through: the upstream's own final response
        response = exchange.answer or getattr(exchange.reader, "response", None)
        if not isinstance(response, dict):
            return
        output = input_messages({"input": response.get("output") or []})
    if response.get("status") in ("completed", "incomplete") and response.get("id"):
        store.put(response, history + input_messages(request.body) + output)
