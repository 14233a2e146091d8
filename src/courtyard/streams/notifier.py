"""Wakes this node's waiting readers when a user's stream advances."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from courtyard.streams.bus import Bus


class Waiter:
    """One reader's wake-up flag. Clear, read the stream, then wait: no wake-up is missed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def clear(self) -> None:
        self._event.clear()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for a wake-up; return False when ``timeout`` seconds pass first."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class StreamNotifier:
    """Fans bus hints out to the readers (sockets, long-polls) on this node."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._waiters: dict[str, set[Waiter]] = {}
        bus.set_listeners(self._on_advance, self.wake_all)

    def _on_advance(self, user_id: str, _position: int) -> None:
        for waiter in self._waiters.get(user_id, ()):
            waiter.wake()

    def wake_all(self) -> None:
        """Wake every reader, e.g. after the bus reconnects and hints may have been lost."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.wake()

    @property
    def listening(self) -> int:
        return sum(len(waiters) for waiters in self._waiters.values())

    @contextlib.asynccontextmanager
    async def listen(self, user_id: str) -> AsyncIterator[Waiter]:
        """Register a waiter for ``user_id`` for the duration of the block."""
        waiter = Waiter()
        waiters = self._waiters.setdefault(user_id, set())
        first = not waiters
        waiters.add(waiter)
        try:
            if first:
                await self.bus.watch(user_id)
            yield waiter
        finally:
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(user_id, None)
                await self.bus.unwatch(user_id)
