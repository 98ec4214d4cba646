"""Items: the one currency between what upstreams send and what clients read.

An upstream answer, streamed or whole, in any wire format, is turned by its provider's
translator into a sequence of items; a client dialect's encoder turns items into that
dialect's wire format. So a new upstream format is one translator, a new client dialect one
encoder, and neither knows the other (docs/architecture.md draws the pipeline).

A whole (non-streamed) answer is the same sequence with each part complete: one `Text` per
text block, one `ToolCall` per call with its whole arguments. Streams send many small ones.

The vocabulary is OpenAI chat's where it has to pick one (finish reasons, token counts);
encoders of other dialects map from it. Items are plain slotted classes, not frozen: many are
made per stream, and nothing keeps them past the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Finish reasons, in OpenAI chat's words. Encoders map them to their dialect's own
# (Anthropic: end_turn / stop_sequence, max_tokens, tool_use, refusal; Responses: status).
STOP = "stop"
LENGTH = "length"
TOOL_CALLS = "tool_calls"
CONTENT_FILTER = "content_filter"


@dataclass(slots=True)
class Start:
    """The answer begins. `id` and `model` are the upstream's where it named them (an
    encoder makes its own id when this is empty)."""

    id: str = ""
    model: str = ""
    created: int = 0  # Unix time, where the upstream said


@dataclass(slots=True)
class Text:
    """Answer text (a delta in a stream, a whole text block in a body)."""

    text: str


@dataclass(slots=True)
class Reasoning:
    """Thinking / reasoning text. `signature` is Anthropic's thinking-block signature (a
    client must send it back for the block to be accepted again); `redacted` carries an
    Anthropic redacted_thinking block's opaque data instead of text."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


@dataclass(slots=True)
class ToolCall:
    """A function call. Calls are numbered 0, 1, 2... by `index` in the order they start.
    The first item of a call carries its `id` and `name`; later items of the same index
    carry only more of `arguments` (a JSON text cut anywhere). In a body, one item per call
    carries everything."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class Finish:
    """Why the answer ended (see the reasons above). `stop_sequence` names the stop sequence
    that ended it, where the upstream said so."""

    reason: str = STOP
    stop_sequence: str | None = None


@dataclass(slots=True)
class Usage:
    """Token counts as the upstream reported them; a later Usage replaces an earlier one.
    `prompt_tokens` includes cached input (OpenAI's convention; Anthropic's
    `input_tokens` excludes it, so its translator adds the cached counts in)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(slots=True)
class Failure:
    """The upstream failed or the mux could not read it. Before anything reached the client
    the proxy raises it (real status, next fallback target); after, the client's encoder
    ends the stream with it. `message` is meant for the user and names the provider."""

    message: str
    status: int = 502
    code: str = "upstream_error"


def truncated(missing: str = "its end marker") -> Failure:
    """The failure of a stream whose body ended before the upstream said it was done."""
    return Failure(
        f"ended the stream before {missing}; the answer may be incomplete.",
        code="upstream_truncated",
    )


@dataclass(slots=True)
class Done:
    """The upstream ended its answer as it should. Nothing comes after it."""


@dataclass(slots=True)
class Raw:
    """Bytes already in the client's own dialect (passthrough): relayed untouched."""

    data: bytes


Item = Start | Text | Reasoning | ToolCall | Finish | Usage | Failure | Done | Raw


@dataclass(slots=True)
class Answer:
    """A whole answer gathered from items, for the encoders' `body`: the streamed pieces of
    one text, one reasoning and each tool call joined."""

    start: Start = field(default_factory=Start)
    text: str = ""
    reasoning: list[Reasoning] = field(default_factory=list)
    # index -> [id, name, arguments]
    tool_calls: dict[int, list[str]] = field(default_factory=dict)
    finish: Finish | None = None
    usage: Usage | None = None
    failure: Failure | None = None


def collect(items: list[Item]) -> Answer:
    answer = Answer()
    for item in items:
        if isinstance(item, Text):
            answer.text += item.text
        elif isinstance(item, ToolCall):
            call = answer.tool_calls.setdefault(item.index, ["", "", ""])
            call[0] = item.id or call[0]
            call[1] = item.name or call[1]
            call[2] += item.arguments
        elif isinstance(item, Reasoning):
            last = answer.reasoning[-1] if answer.reasoning else None
            if last and item.redacted is None and last.redacted is None and not last.signature:
                # Deltas of one block; a signature closes the block it ends.
                last.text += item.text
                last.signature = item.signature or last.signature
            else:
                answer.reasoning.append(Reasoning(item.text, item.signature, item.redacted))
        elif isinstance(item, Start):
            answer.start = item
        elif isinstance(item, Finish):
            answer.finish = item
        elif isinstance(item, Usage):
            answer.usage = item
        elif isinstance(item, Failure):
            answer.failure = item
    return answer
