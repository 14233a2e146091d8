"""The sync loops behind ``Client.events``: every stream event once, in order, across drops.

Both loops keep a ``Cursor`` (the last position handled and the ids recently seen), resume
from it after any failure they can recover from, and wait a ``Backoff`` between attempts.
Authentication failures are never retried: they raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from courtyard.client.errors import (
    ApiError,
    AuthError,
    ClientError,
    ProtocolError,
    RateLimited,
    Unreachable,
    consent_required_error,
    error_class,
    revoked_token_error,
)
from courtyard.client.models import SyncEvent
from courtyard.client.socket_sends import SocketSends

log = logging.getLogger("courtyard.client")

CLOSE_UNAUTHORIZED = 4401
CLOSE_CONSENT_REQUIRED = 4403  # consent to the current privacy policy first
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
SEEN_IDS_REMEMBERED = 10_000
FRAMES_BUFFERED = 64  # frames read ahead of the caller; beyond that the socket waits

Fetch = Callable[[int | None], Awaitable[tuple[list[SyncEvent], int]]]
OpenSocket = Callable[[int | None], AbstractAsyncContextManager[ClientConnection]]
ExplainRejection = Callable[[int], Awaitable[ClientError | None]]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: the n-th retry waits about
    ``min(maximum, initial * multiplier**n)``, less up to ``jitter`` of that at random."""

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return ceiling * (1.0 - self.jitter * random.random())


class Cursor:
    """The last stream position handled, and a bounded memory of event ids already yielded."""

    def __init__(self, since: int | None, remember: int = SEEN_IDS_REMEMBERED) -> None:
        self.position = since
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def admit(self, event: SyncEvent) -> bool:
        """Whether ``event`` is new; a duplicate by position or by id is dropped."""
        if self.position is not None and event.position <= self.position:
            return False
        self.advance(event.position)
        if event.event_id in self._seen:
            return False
        self._seen[event.event_id] = None
        if len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        return True

    def advance(self, position: int) -> None:
        if self.position is None or position > self.position:
            self.position = position


async def poll_events(
    fetch: Fetch, cursor: Cursor, backoff: Backoff
) -> AsyncGenerator[SyncEvent, None]:
    """Long-poll forever; asking from position N is what acknowledges N to the server."""
    attempt = 0
    while True:
        try:
            events, next_position = await fetch(cursor.position)
        except (Unreachable, ProtocolError, ApiError) as exc:
            if isinstance(exc, ApiError) and not _retryable(exc):
                raise
            await _pause(backoff, attempt, exc)
            attempt += 1
            continue
        attempt = 0
        for event in events:
            if cursor.admit(event):
                yield event
        cursor.advance(next_position)


async def socket_events(
    open_socket: OpenSocket,
    cursor: Cursor,
    backoff: Backoff,
    explain: ExplainRejection,
    sends: SocketSends | None = None,
) -> AsyncGenerator[SyncEvent, None]:
    """Follow the sync WebSocket forever, reconnecting from the cursor after every drop.

    A position is acknowledged once the caller has taken every event up to it and come back
    for more (one ack per batch, and one on each reconnect). A reader task takes the frames
    off the socket, so answers to ``sends`` arrive even while the caller is busy with events.
    """
    attempt = 0
    while True:
        try:
            async with open_socket(cursor.position) as socket:
                frames: asyncio.Queue[Any] = asyncio.Queue(FRAMES_BUFFERED)
                reader = asyncio.create_task(_read_frames(socket, frames, sends))
                if sends is not None:
                    sends.attach(socket)
                try:
                    acked: int | None = None
                    while True:
                        if cursor.position is not None and cursor.position != acked:
                            acked = cursor.position
                            await socket.send(json.dumps({"type": "ack", "position": acked}))
                        message = await frames.get()
                        if isinstance(message, BaseException):
                            raise message
                        events, next_position = _parse_batch(message)
                        attempt = 0
                        for event in events:
                            if cursor.admit(event):
                                yield event
                        if next_position is not None:
                            cursor.advance(next_position)
                finally:
                    if sends is not None:
                        sends.detach()
                    reader.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reader
        except ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == CLOSE_UNAUTHORIZED:
                raise revoked_token_error(exc.rcvd.reason or None) from None
            if exc.rcvd is not None and exc.rcvd.code == CLOSE_CONSENT_REQUIRED:
                raise consent_required_error(exc.rcvd.reason or None) from None
            failure: Exception = exc
        except InvalidStatus as exc:
            failure = await _rejected(exc.response.status_code, explain)
        except (OSError, TimeoutError, InvalidHandshake, ProtocolError) as exc:
            failure = exc
        await _pause(backoff, attempt, failure)
        attempt += 1


async def _read_frames(
    socket: ClientConnection, frames: asyncio.Queue[Any], sends: SocketSends | None
) -> None:
    """Parse every frame: answers go to ``sends``, the rest (and the final error) to ``frames``."""
    while True:
        try:
            message: Any = json.loads(await socket.recv())
        except ValueError as exc:
            await frames.put(ProtocolError(f"malformed sync message: {exc!r}"))
            return
        except Exception as exc:  # the socket closed or broke: the consumer decides
            await frames.put(exc)
            return
        if sends is None or not sends.settle(message):
            await frames.put(message)


def _parse_batch(message: Any) -> tuple[list[SyncEvent], int | None]:
    """The events of one server message; pongs and unknown types carry none."""
    try:
        if not isinstance(message, dict) or message.get("type") != "events":
            return [], None
        events = [SyncEvent.from_wire(item) for item in message["events"]]
        next_position = message.get("next")
        return events, int(next_position) if next_position is not None else None
    except (ValueError, KeyError, TypeError) as exc:
        raise ProtocolError(f"malformed sync message: {exc!r}") from None


async def _rejected(status: int, explain: ExplainRejection) -> Exception:
    """Raise for a refused WebSocket handshake unless retrying could help."""
    if status in (401, 403):
        # The server closes an unauthenticated socket before accepting it, which reaches
        # us as a bare HTTP status; ask over HTTP what is wrong, for a proper problem.
        error = await explain(status)
        if error is not None:
            raise error
    elif status not in RETRYABLE_STATUSES:
        kind = error_class(status)
        raise kind(status, f"http_{status}", "The server refused the sync socket")
    return ApiError(status, f"http_{status}", "The server refused the sync socket")


def _retryable(exc: ApiError) -> bool:
    return not isinstance(exc, AuthError) and exc.status in RETRYABLE_STATUSES


async def _pause(backoff: Backoff, attempt: int, failure: Exception) -> None:
    delay = backoff.delay(attempt)
    if isinstance(failure, RateLimited) and failure.retry_after is not None:
        delay = max(delay, failure.retry_after)
    log.warning("sync interrupted (%s); retrying in %.2fs", _describe(failure), delay)
    await asyncio.sleep(delay)


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
