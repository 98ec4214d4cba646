"""Framing: upstream bytes -> events, one policy for SSE and NDJSON.

(Being written; the `Event` shape below is the contract translators take.)
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Event(NamedTuple):
    """One whole upstream event.

    `raw`: its bytes as received (an SSE event up to and including its closing blank line,
    line endings normalised to LF; an NDJSON line with its newline), relayed untouched by a
    passthrough. `name`: the SSE `event:` field, or None. `data`: the parsed JSON object of
    the `data:` payload (SSE) or of the line (NDJSON); None for an event without data (a
    comment, a keep-alive) and for OpenAI's `data: [DONE]` (then `done` is True).
    """

    raw: bytes
    name: str | None
    data: dict[str, Any] | None
    done: bool = False
