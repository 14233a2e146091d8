"""The SDK's sync loops and error parsing against scripted servers (no network)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from courtyard.client import ApiError, AuthError, Backoff, Client, RateLimited, SyncEvent
from courtyard.client.sync import Cursor, socket_events

INSTANT = Backoff(initial=0.0, maximum=0.0)
Handler = Callable[[httpx.Request], httpx.Response]


def wire(position: int, event_id: str | None = None) -> dict[str, Any]:
    return {
        "position": position,
        "event_id": event_id or f"ev{position}",
        "type": "profile.changed",
        "content": {"n": position},
        "created_at": "2030-01-01T00:00:00Z",
    }


def event(position: int, event_id: str | None = None) -> SyncEvent:
    return SyncEvent.from_wire(wire(position, event_id))


def scripted(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering each request with the next scripted response; then 503s."""
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if not queue:
            return httpx.Response(503, json={"code": "unavailable", "title": "later"})
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handle, seen


def batch(*events: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json={"events": list(events), "next": events[-1]["position"]})


async def take_polled(handler: Handler, count: int, since: int | None = None) -> list[SyncEvent]:
    transport = httpx.MockTransport(handler)
    async with Client("http://mock", token="t", transport=transport, backoff=INSTANT) as client:
        stream = client.events(since, mode="poll")
        taken = [await anext(stream) for _ in range(count)]
        await stream.aclose()  # type: ignore[attr-defined]
    return taken


def test_cursor_drops_repeated_positions_and_ids() -> None:
    cursor = Cursor(since=None)
    assert cursor.admit(event(1))
    assert not cursor.admit(event(1))
    assert not cursor.admit(event(2, event_id="ev1"))  # same id at a new position
    assert cursor.position == 2  # ...but the position is still consumed
    assert cursor.admit(event(3))
    assert not cursor.admit(event(2, event_id="late"))


def test_cursor_forgets_the_oldest_ids_beyond_its_memory() -> None:
    cursor = Cursor(since=None, remember=2)
    for n in (1, 2, 3):
        assert cursor.admit(event(n))
    cursor.position = 0  # look past the position check, at the id memory alone
    assert cursor.admit(event(4, event_id="ev1")), "ev1 should have been forgotten"
    cursor.position = 0
    assert not cursor.admit(event(5, event_id="ev3"))


def test_backoff_grows_to_its_cap_and_jitters_below_it() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, multiplier=2.0, jitter=0.5)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (5000, 8.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1, "no jitter"


async def test_poll_retries_server_errors_and_broken_connections() -> None:
    handler, seen = scripted(
        httpx.Response(503, json={"code": "unavailable", "title": "later"}),
        httpx.ConnectError("refused"),
        httpx.Response(502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}),
        batch(wire(1), wire(2)),
    )
    taken = await take_polled(handler, 2)
    assert [e.position for e in taken] == [1, 2]
    assert len(seen) == 4


async def test_poll_drops_overlapping_batches_and_resumes_from_the_last_event() -> None:
    handler, seen = scripted(
        batch(wire(1), wire(2)),
        batch(wire(2), wire(3)),
        batch(wire(3), wire(4, event_id="ev3"), wire(5)),
    )
    taken = await take_polled(handler, 4, since=0)
    assert [(e.position, e.event_id) for e in taken] == [
        (1, "ev1"),
        (2, "ev2"),
        (3, "ev3"),
        (5, "ev5"),
    ]
    assert [r.url.params.get("since") for r in seen] == ["0", "2", "3"]


async def test_poll_skips_a_repeated_id_at_a_new_position() -> None:
    handler, _ = scripted(batch(wire(1)), batch(wire(2, event_id="ev1"), wire(3)))
    taken = await take_polled(handler, 2)
    assert [e.event_id for e in taken] == ["ev1", "ev3"]


async def test_poll_raises_auth_errors_without_retrying() -> None:
    problem = {
        "type": "urn:courtyard:problem:invalid_token",
        "title": "Revoked",
        "status": 401,
        "code": "invalid_token",
        "detail": None,
    }
    handler, seen = scripted(httpx.Response(401, json=problem))
    with pytest.raises(AuthError) as raised:
        await take_polled(handler, 1)
    assert raised.value.code == "invalid_token"
    assert len(seen) == 1


async def test_poll_raises_client_errors_without_retrying() -> None:
    handler, seen = scripted(httpx.Response(404, json={"code": "not_found", "title": "Nope"}))
    with pytest.raises(ApiError) as raised:
        await take_polled(handler, 1)
    assert (raised.value.status, raised.value.code) == (404, "not_found")
    assert len(seen) == 1


def test_problem_bodies_become_api_errors() -> None:
    response = httpx.Response(
        429,
        json={
            "type": "urn:courtyard:problem:login_throttled",
            "title": "Too many",
            "status": 429,
            "code": "login_throttled",
            "detail": "wait a bit",
        },
        headers={"Retry-After": "42"},
    )
    error = ApiError.from_response(response)
    assert isinstance(error, RateLimited)
    assert (error.code, error.title, error.detail, error.retry_after) == (
        "login_throttled",
        "Too many",
        "wait a bit",
        42.0,
    )
    assert str(error) == "login_throttled: wait a bit"


def test_other_error_bodies_become_api_errors_too() -> None:
    html = httpx.Response(502, text="<h1>Bad gateway</h1>", headers={"content-type": "text/html"})
    error = ApiError.from_response(html)
    assert (error.status, error.code, error.title) == (502, "http_502", "Bad Gateway")
    assert error.detail == "<h1>Bad gateway</h1>"
    binary = ApiError.from_response(httpx.Response(500, content=b"\x00\xff"))
    assert (binary.code, binary.detail) == ("http_500", None)


class FakeSocket:
    """Plays scripted server messages, then raises the scripted close; records what is sent."""

    def __init__(self, *script: dict[str, Any] | ConnectionClosed) -> None:
        self.script = list(script)
        self.sent: list[dict[str, Any]] = []

    async def recv(self) -> str:
        item = self.script.pop(0)
        if isinstance(item, ConnectionClosed):
            raise item
        return json.dumps(item)

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))


def pushed(*events: dict[str, Any]) -> dict[str, Any]:
    return {"type": "events", "events": list(events), "next": events[-1]["position"]}


def closed(code: int) -> ConnectionClosed:
    return ConnectionClosed(Close(code, "bye"), None)


async def test_socket_loop_resumes_dedupes_acks_and_stops_on_4401() -> None:
    first = FakeSocket(
        pushed(wire(1), wire(2)), {"type": "pong"}, pushed(wire(2), wire(3)), closed(1012)
    )
    second = FakeSocket(pushed(wire(3), wire(4)), closed(4401))
    sockets, opened_at = [first, second], []

    @asynccontextmanager
    async def open_socket(since: int | None) -> AsyncIterator[Any]:
        opened_at.append(since)
        yield sockets.pop(0)

    async def explain(status: int) -> None:
        raise AssertionError("no handshake was refused")

    taken: list[int] = []

    async def consume() -> None:
        async for item in socket_events(open_socket, Cursor(None), INSTANT, explain):
            taken.append(item.position)

    with pytest.raises(AuthError) as raised:
        await consume()
    assert taken == [1, 2, 3, 4]
    assert opened_at == [None, 3]
    assert first.sent == [{"type": "ack", "position": 2}, {"type": "ack", "position": 3}]
    assert second.sent == [{"type": "ack", "position": 3}, {"type": "ack", "position": 4}]
    assert raised.value.code == "invalid_token"
