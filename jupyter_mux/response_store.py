"""Stored Responses: what `store: true` keeps so that `previous_response_id` and
`GET`/`DELETE /responses/{id}` work.

Kept in memory and bounded, by count and by age, so that a busy server cannot grow without
limit; the oldest go first. A response that is gone is an error that says so (404 for
`GET`, 400 for `previous_response_id`): silently answering without the earlier turns would
be a different conversation, and the client would never know.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .errors import InvalidRequest, NotFound

DEFAULT_MAX_COUNT = 1000
DEFAULT_MAX_AGE = 24 * 3600.0


class ResponseStore:
    """Responses by id, each with the conversation that led to it (chat messages, the
    response's own output included), so a next turn continues from there.

    `max_count` responses at most, each for `max_age` seconds from when it was stored.
    `clock` (seconds, monotonic) is injectable so that tests can age entries without
    waiting. Values are handed out as stored: callers must not change them.
    """

    def __init__(
        self,
        max_count: int = DEFAULT_MAX_COUNT,
        max_age: float = DEFAULT_MAX_AGE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_count < 1 or max_age <= 0:
            raise ValueError("a response store needs a positive count and age limit")
        self.max_count = max_count
        self.max_age = max_age
        self._clock = clock
        # id -> (stored at, response, conversation); insertion order is age order.
        self._entries: OrderedDict[str, tuple[float, dict[str, Any], list[dict[str, Any]]]]
        self._entries = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._entries)

    def put(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        """Keep `response` (a Response object, by its `id`) and its conversation; storing an
        id again replaces it and makes it the newest."""
        response_id = response.get("id")
        if not isinstance(response_id, str) or not response_id:
            raise ValueError("a stored response needs its 'id'")
        self._entries.pop(response_id, None)
        self._entries[response_id] = (self._clock(), response, list(conversation))
        self._expire()
        while len(self._entries) > self.max_count:
            self._entries.popitem(last=False)

    def get(self, response_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The response and its conversation; `NotFound` (404) when it is not kept."""
        entry = self._entry(response_id)
        if entry is None:
            raise NotFound(self._gone(response_id), param="response_id")
        return entry[1], list(entry[2])

    def history(self, previous_response_id: str) -> list[dict[str, Any]]:
        """The conversation to continue for `previous_response_id`; `InvalidRequest` (400,
        naming that field) when it is not kept."""
        entry = self._entry(previous_response_id)
        if entry is None:
            raise InvalidRequest(
                self._gone(previous_response_id),
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return list(entry[2])

    def delete(self, response_id: str) -> bool:
        """Forget a response; False when it was not kept (the caller answers 404)."""
        self._expire()
        return self._entries.pop(response_id, None) is not None

    def _entry(self, response_id: str) -> tuple[float, dict[str, Any], list[dict[str, Any]]] | None:
        self._expire()
        return self._entries.get(response_id)

    def _expire(self) -> None:
        """Drop what is older than `max_age`: the oldest are first, so stop at the first
        one still young."""
        oldest = self._clock() - self.max_age
        while self._entries:
            stored_at = next(iter(self._entries.values()))[0]
            if stored_at > oldest:
                break
            self._entries.popitem(last=False)

    def _gone(self, response_id: str) -> str:
        return (
            f"No stored response has id '{response_id}'. The mux keeps responses made with "
            f"'store': true in memory, the last {self.max_count} for {_duration(self.max_age)}; "
            "this one was never stored, has been deleted or evicted, or the server restarted. "
            "Send the whole conversation as 'input' instead."
        )


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"
