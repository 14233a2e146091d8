"""NATS core backend: one subject per user, subscribed only while a local device listens.

A hint's payload is the position as ASCII digits, or ``{"p": position, "e": event}`` in JSON
when the event is attached (only events up to ``MAX_ATTACHED_BYTES`` are; a bigger one goes
as a bare position and its readers fetch it from the database).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
import orjson
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import SlowConsumerError

from courtyard.core.errors import Unavailable
from courtyard.streams.bus import SUBJECT_PREFIX, AdvanceListener, ResetListener, WireEvent

log = logging.getLogger(__name__)

MAX_ATTACHED_BYTES = 16 * 1024


def encode_hint(position: int, event: WireEvent | None) -> bytes:
    """The bytes published for a hint (see the module docstring)."""
    if event is not None:
        data = orjson.dumps({"p": position, "e": event})
        if len(data) <= MAX_ATTACHED_BYTES:
            return data
    return str(position).encode()


def decode_hint(data: bytes) -> tuple[int, WireEvent | None]:
    """Position and attached event of a hint; ``ValueError`` if malformed."""
    if data[:1] != b"{":
        return int(data), None
    try:
        hint: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ValueError("malformed hint") from None
    position, event = hint.get("p") if isinstance(hint, dict) else None, hint.get("e")
    if type(position) is not int or not isinstance(event, dict):
        raise ValueError("malformed hint")
    if event.get("position") != position:
        raise ValueError("hint position and event disagree")
    return position, event


class NatsBus:
    """Publishes hints to ``courtyard.stream.<user>``; resets listeners after a reconnect."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._nc: NatsClient | None = None
        self._subs: dict[str, tuple[Subscription, int]] = {}
        self._lock = asyncio.Lock()
        self._on_advance: AdvanceListener = lambda _user, _pos, _event: None
        self._on_reset: ResetListener = lambda: None

    def set_listeners(self, on_advance: AdvanceListener, on_reset: ResetListener) -> None:
        self._on_advance, self._on_reset = on_advance, on_reset

    async def start(self) -> None:
        async def disconnected() -> None:
            log.warning("bus disconnected", extra={"bus": self.url})

        async def reconnected() -> None:
            # Hints published while we were away are gone: make every reader look again.
            log.info("bus reconnected", extra={"bus": self.url})
            self._on_reset()

        self._nc = await nats.connect(
            self.url,
            name="courtyard",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=self._on_error,
        )

    async def _on_error(self, exc: Exception) -> None:
        log.warning("bus error: %s", exc)
        if isinstance(exc, SlowConsumerError):
            # NATS dropped hints for us without disconnecting: make every reader look again.
            self._on_reset()

    async def close(self) -> None:
        """Drain if connected; if the server is unreachable, just stop reconnecting."""
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except Exception:
                log.info("bus not drained (unreachable); closing", extra={"bus": self.url})
                await self._nc.close()
        self._subs.clear()

    def _client(self) -> NatsClient:
        if self._nc is None:
            raise Unavailable("bus not started")
        return self._nc

    async def publish(self, user_id: str, position: int, event: WireEvent | None = None) -> None:
        await self._client().publish(SUBJECT_PREFIX + user_id, encode_hint(position, event))

    async def _handle(self, msg: Msg) -> None:
        user_id = msg.subject.removeprefix(SUBJECT_PREFIX)
        try:
            position, event = decode_hint(msg.data)
        except (ValueError, AttributeError):
            log.warning("ignored malformed bus message", extra={"subject": msg.subject})
            return
        self._on_advance(user_id, position, event)

    async def watch(self, user_id: str) -> None:
        async with self._lock:
            sub, count = self._subs.get(user_id, (None, 0))
            if sub is None:
                sub = await self._client().subscribe(SUBJECT_PREFIX + user_id, cb=self._handle)
            self._subs[user_id] = (sub, count + 1)

    async def unwatch(self, user_id: str) -> None:
        async with self._lock:
            sub, count = self._subs.get(user_id, (None, 0))
            if sub is None:
                return
            if count <= 1:
                del self._subs[user_id]
                if not self._client().is_closed:
                    await sub.unsubscribe()
            else:
                self._subs[user_id] = (sub, count - 1)

    async def ping(self) -> None:
        client = self._client()
        if not client.is_connected:
            raise Unavailable("bus not connected")
        await client.flush(timeout=2)
