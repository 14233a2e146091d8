"""NATS core backend: one subject per user, subscribed only while a local device listens."""

from __future__ import annotations

import asyncio
import logging

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import SlowConsumerError

from courtyard.core.errors import Unavailable
from courtyard.streams.bus import SUBJECT_PREFIX, AdvanceListener, ResetListener

log = logging.getLogger(__name__)


class NatsBus:
    """Publishes hints to ``courtyard.stream.<user>``; resets listeners after a reconnect."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._nc: NatsClient | None = None
        self._subs: dict[str, tuple[Subscription, int]] = {}
        self._lock = asyncio.Lock()
        self._on_advance: AdvanceListener = lambda _user, _pos: None
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

    async def publish(self, user_id: str, position: int) -> None:
        await self._client().publish(SUBJECT_PREFIX + user_id, str(position).encode())

    async def _handle(self, msg: Msg) -> None:
        user_id = msg.subject.removeprefix(SUBJECT_PREFIX)
        try:
            position = int(msg.data)
        except ValueError:
            log.warning("ignored malformed bus message", extra={"subject": msg.subject})
            return
        self._on_advance(user_id, position)

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
