"""The OpenAI Responses dialect (`POST /v1/responses`), on the mux's one pipeline.

A Responses request becomes the OpenAI chat body that every upstream wire format takes
(`request.to_chat`); the answer, as items, becomes the Responses event stream or `Response`
object (`encoder.ResponsesEncoder`). An upstream that speaks Responses itself is relayed
instead (`passthrough.ResponsesPassthrough`), reading only usage, failures and the end from
its events. Stored responses (`previous_response_id`, `GET /responses/{id}`) live in
`jupyter_mux.response_store`.
"""

from __future__ import annotations

from typing import Any

from ...errors import MuxError
from .encoder import ResponsesEncoder
from .passthrough import ResponsesPassthrough, passthrough_body, usage_from_body
from .request import chat_to_input, input_messages, to_chat

__all__ = [
    "ResponsesEncoder",
    "ResponsesPassthrough",
    "chat_to_input",
    "error_body",
    "input_messages",
    "passthrough_body",
    "to_chat",
    "usage_from_body",
]


def error_body(exc: MuxError) -> dict[str, Any]:
    """The body a failed `/responses` request answers with: OpenAI's error shape."""
    return exc.openai_body()
