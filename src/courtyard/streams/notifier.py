"""Wakes this node's waiting readers when a user's stream advances.

A hint may carry the event itself. A waiter keeps such events (at most ``HELD_EVENTS``) so
that its reader can take the ones that directly follow what it has already delivered
without reading the database. Anything else sends the reader to the database, which stays
the source of truth: a new waiter (it knows nothing yet), a gap, a hint without its event or
with no room left to hold it, a reset of the bus, a quiet recheck interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from courtyard.streams.bus import Bus, WireEvent

HELD_EVENTS = 256


class Waiter:
    """One reader's wake-up flag and held events. Clear, take or read, then wait: no
    wake-up is missed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._held: dict[int, WireEvent] = {}
        self._suspect = True  # the reader must read the database before trusting hints

    def clear(self) -> None:
        self._event.clear()

    def offer(self, position: int, event: WireEvent | None) -> None:
        """A hint arrived: hold its event (if attached and there is room) and wake up."""
        if event is not None and len(self._held) < HELD_EVENTS:
            self._held[position] = event
        else:
            self._suspect = True
        self._event.set()

    def forget(self) -> None:
        """Drop the held events and wake up: the reader must look in the database."""
        self._held.clear()
        self.suspect()

    def doubt(self) -> None:
        """The next look goes to the database (without waking anyone)."""
        self._suspect = True

    def suspect(self) -> None:
        """Hints may have been missed: the next look goes to the database."""
        self._suspect = True
        self._event.set()

    def must_read(self) -> bool:
        """Whether the reader must read the database now (and this resets the doubt): after a
        doubt (see the module docstring) or when what is held does not follow on."""
        needed = self._suspect or bool(self._held)
        self._suspect = False
        return needed

    def take(self, since: int, limit: int) -> list[WireEvent]:
        """The held events at ``since + 1``, ``since + 2``, … without a gap (at most ``limit``),
        or none. Events at or before ``since`` are dropped: the reader has them."""
        held = self._held
        if not held:
            return []
        taken: list[WireEvent] = []
        position = since + 1
        while len(taken) < limit and position in held:
            taken.append(held.pop(position))
            position += 1
        for stale in [p for p in held if p <= since]:
            del held[stale]
        return taken

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

    def _on_advance(self, user_id: str, position: int, event: WireEvent | None) -> None:
        for waiter in self._waiters.get(user_id, ()):
            waiter.offer(position, event)

    def wake_all(self) -> None:
        """Send every reader to the database, e.g. after the bus reconnects and hints may
        have been lost."""
        for waiters in self._waiters.values():
            for waiter in waiters:
                waiter.forget()

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
