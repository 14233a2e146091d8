"""Hints that carry their event: what a waiter holds and hands out, and the NATS encoding."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from courtyard.streams.nats_bus import MAX_ATTACHED_BYTES, decode_hint, encode_hint
from courtyard.streams.notifier import HELD_EVENTS, Waiter


def _event(position: int, body: str = "x") -> dict[str, Any]:
    return {"position": position, "event_id": f"e{position}", "type": "t", "content": {"b": body},
            "created_at": "2026-11-28T00:00:00Z"}  # fmt: skip


def test_a_waiter_hands_out_only_events_that_directly_follow_what_the_reader_has() -> None:
    waiter = Waiter()
    for position in (5, 6, 8):
        waiter.offer(position, _event(position))
    assert waiter.take(3, 100) == []  # position 4 is missing: read the database
    assert [e["position"] for e in waiter.take(4, 100)] == [5, 6]  # 7 missing: stop before 8
    assert waiter.take(6, 100) == []
    assert [e["position"] for e in waiter.take(7, 100)] == [8]


def test_taking_drops_events_the_reader_already_has_and_respects_the_limit() -> None:
    waiter = Waiter()
    for position in range(1, 11):
        waiter.offer(position, _event(position))
    assert [e["position"] for e in waiter.take(6, 2)] == [7, 8]
    assert [e["position"] for e in waiter.take(8, 100)] == [9, 10]
    assert waiter.take(0, 100) == []  # 1..6 were dropped as stale on the first take


def test_a_hint_without_its_event_wakes_the_reader_but_gives_it_nothing_to_take() -> None:
    waiter = Waiter()
    waiter.offer(1, None)
    assert waiter._event.is_set()
    assert waiter.take(0, 100) == []


def test_a_waiter_holds_a_bounded_number_of_events_and_forgets_them_on_reset() -> None:
    waiter = Waiter()
    for position in range(1, HELD_EVENTS + 50):
        waiter.offer(position, _event(position))
    assert len(waiter.take(0, 10_000)) == HELD_EVENTS
    waiter.offer(HELD_EVENTS + 60, _event(HELD_EVENTS + 60))
    waiter.clear()
    waiter.forget()
    assert waiter._event.is_set()
    assert waiter.take(HELD_EVENTS + 59, 100) == []


def test_a_hint_carries_its_event_over_nats_when_small_and_only_its_position_when_big() -> None:
    small = _event(7)
    assert decode_hint(encode_hint(7, small)) == (7, small)
    big = _event(8, "y" * MAX_ATTACHED_BYTES)
    assert encode_hint(8, big) == b"8"
    assert decode_hint(b"8") == (8, None)
    assert decode_hint(encode_hint(9, None)) == (9, None)


@pytest.mark.parametrize(
    "data",
    [b"", b"seven", b"{", b"{}", b'{"p": "7", "e": {}}', b'{"p": 7, "e": []}',
     orjson.dumps({"p": 7, "e": _event(6)})],
)  # fmt: skip
def test_malformed_or_inconsistent_hints_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"literal|malformed|disagree"):
        decode_hint(data)


def test_a_waiter_sends_its_reader_to_the_database_only_when_in_doubt() -> None:
    waiter = Waiter()
    assert waiter.must_read() is True  # a new waiter knows nothing yet
    assert waiter.must_read() is False
    waiter.offer(1, _event(1))
    assert waiter.must_read() is True  # held but not taken: a gap before it, say
    assert waiter.take(0, 10)
    assert waiter.must_read() is False
    waiter.offer(2, None)  # a hint without its event
    assert waiter.must_read() is True
    waiter.forget()
    assert waiter.must_read() is True
    waiter.suspect()
    assert waiter.must_read() is True
    for position in range(3, HELD_EVENTS + 10):  # more than it may hold
        waiter.offer(position, _event(position))
    waiter.take(2, 10_000)
    assert waiter.must_read() is True
