"""Client dialects: what the mux speaks to clients.

Each module here is one dialect (OpenAI chat, legacy completions, OpenAI Responses,
Anthropic Messages, embeddings) as pure functions and small classes:

- a request decoder: the client's body -> the OpenAI chat body that upstream translators
  take (the one request form inside the mux), raising `InvalidRequest` (400, naming the
  field) for what the dialect does not allow;
- an `Encoder`: items (`jupyter_mux.items`) -> the dialect's wire format, streamed or whole;
- `error_body`: a `MuxError` -> the dialect's error body, sent with the error's status.

Where the serving upstream speaks the client's dialect natively the request is passed
through instead (model and auth replaced) and the answer relayed as `Raw` items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..items import Done, Failure, Item, Raw, Usage

if TYPE_CHECKING:
    from ..framing import Event
    from ..providers import Translator


class Encoder(Protocol):
    """Items -> one dialect's wire format, for one answer. Made per request."""

    content_type: str  # of a streamed answer

    def stream(self, items: list[Item]) -> bytes:
        """The bytes these streamed items become (often b""); `Done` writes the dialect's
        end of stream."""

    def failure(self, failure: Failure) -> bytes:
        """The in-band error that ends a stream already begun, and the end of stream."""

    def body(self, items: list[Item]) -> dict[str, Any]:
        """A whole answer: every item of a non-streamed upstream answer, in order."""


class Passthrough:
    """The encoder of a passthrough: the upstream already speaks the client's dialect, so
    only its own bytes (`Raw` items) go out; a failure is still told in the dialect's words,
    by that dialect's encoder."""

    def __init__(self, encoder: Encoder, content_type: str) -> None:
        self._encoder = encoder
        self.content_type = content_type

    def stream(self, items: list[Item]) -> bytes:
        if len(items) == 1:
            item = items[0]
            return item.data if isinstance(item, Raw) else b""
        return b"".join(item.data for item in items if isinstance(item, Raw))

    def failure(self, failure: Failure) -> bytes:
        return self._encoder.failure(failure)

    def body(self, items: list[Item]) -> dict[str, Any]:
        raise NotImplementedError("a passthrough relays the upstream's own body")


class Relay:
    """The translator of a passthrough in a dialect that is also an upstream wire format
    (Anthropic's Messages from an Anthropic-speaking upstream): each event goes on as it
    came (`Raw`), while the wire's own translator reads it for the usage, the end, and a
    failure — which replaces the event, so that one before anything was sent still falls
    over to the next target."""

    def __init__(self, reader: Translator) -> None:
        self._reader = reader

    def feed(self, events: list[Event]) -> list[Item]:
        out: list[Item] = []
        for event in events:
            read = self._reader.feed([event])
            failure = next((i for i in read if isinstance(i, Failure)), None)
            if failure is not None:
                out.append(failure)
                break
            out.append(Raw(event.raw))
            out += [i for i in read if isinstance(i, (Usage, Done))]
        return out

    def close(self) -> list[Item]:
        return self._reader.close()
