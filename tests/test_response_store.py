"""The bounded store behind `store: true`, `previous_response_id` and `GET`/`DELETE
/responses/{id}`: limits by count and age (aged by a fake clock), oldest out first, and a gone
response always a clear error."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_mux.errors import InvalidRequest, NotFound
from jupyter_mux.response_store import ResponseStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def response(response_id: str) -> dict[str, Any]:
    return {"id": response_id, "object": "response", "status": "completed", "output": []}


def turn(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": text.upper()}]


def present(store: ResponseStore, response_id: str) -> bool:
    try:
        store.get(response_id)
    except NotFound:
        return False
    return True


def test_put_and_get() -> None:
    store = ResponseStore()
    store.put(response("resp_a"), turn("hi"))
    got, conversation = store.get("resp_a")
    assert got == response("resp_a") and conversation == turn("hi")
    assert store.history("resp_a") == turn("hi")
    # A caller that extends what it got (the next turn's messages) does not change the store.
    conversation.append({"role": "user", "content": "more"})
    store.history("resp_a").append({"role": "user", "content": "more"})
    assert store.get("resp_a")[1] == turn("hi")
    assert len(store) == 1


def test_the_oldest_go_first_beyond_the_count() -> None:
    store = ResponseStore(max_count=2)
    for name in ("a", "b", "c"):
        store.put(response(f"resp_{name}"), turn(name))
    assert [present(store, f"resp_{n}") for n in "abc"] == [False, True, True]
    # Storing an id again makes it the newest.
    store.put(response("resp_b"), turn("b2"))
    store.put(response("resp_d"), turn("d"))
    assert [present(store, f"resp_{n}") for n in "bcd"] == [True, False, True]
    assert store.history("resp_b") == turn("b2")
    assert len(store) == 2


def test_responses_expire_by_age() -> None:
    clock = Clock()
    store = ResponseStore(max_age=100, clock=clock)
    store.put(response("resp_old"), turn("old"))
    clock.now += 60
    store.put(response("resp_new"), turn("new"))
    clock.now += 39
    assert present(store, "resp_old") and present(store, "resp_new")
    clock.now += 1  # resp_old is 100 s old
    assert not present(store, "resp_old") and present(store, "resp_new")
    assert len(store) == 1
    clock.now += 60
    assert len(store) == 0
    assert store.delete("resp_new") is False


def test_an_unknown_or_expired_id_is_a_404_for_get() -> None:
    clock = Clock()
    store = ResponseStore(max_count=50, max_age=3600, clock=clock)
    store.put(response("resp_a"), turn("a"))
    clock.now += 3600
    for response_id in ("resp_a", "resp_never"):
        with pytest.raises(NotFound) as raised:
            store.get(response_id)
        error = raised.value
        assert error.status == 404
        assert f"'{response_id}'" in error.message
        assert "the last 50 for 1 hour" in error.message
        assert error.openai_body()["error"]["type"] == "not_found_error"


def test_an_unknown_previous_response_id_is_a_400_naming_the_field() -> None:
    store = ResponseStore(max_age=90)
    with pytest.raises(InvalidRequest) as raised:
        store.history("resp_gone")
    error = raised.value
    assert (error.status, error.param) == (400, "previous_response_id")
    assert "'resp_gone'" in error.message and "90 seconds" in error.message
    assert "'input'" in error.message  # what to do instead


def test_delete() -> None:
    store = ResponseStore()
    store.put(response("resp_a"), turn("a"))
    assert store.delete("resp_a") is True
    assert store.delete("resp_a") is False
    with pytest.raises(NotFound):
        store.get("resp_a")


@pytest.mark.parametrize("limits", [{"max_count": 0}, {"max_age": 0}])
def test_limits_must_be_positive(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="positive"):
        ResponseStore(**limits)


def test_a_response_needs_its_id() -> None:
    with pytest.raises(ValueError, match="'id'"):
        ResponseStore().put({"object": "response"}, [])
