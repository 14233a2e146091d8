"""The bus says "user U's stream advanced to N", usually with the event at N attached.

The database stays the source of truth: an attached event only spares a reader the read
when it is the very next one the reader needs (see ``notifier.Waiter``). Two backends:
``MemoryBus`` for one process, ``NatsBus`` for several nodes. A lost hint costs latency,
never a fact: readers re-read the stream on reconnect and on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

# A stream event in its wire form (``StreamEvent.to_wire``), or None when not attached.
WireEvent = dict[str, Any]
AdvanceListener = Callable[[str, int, WireEvent | None], None]
ResetListener = Callable[[], None]
SUBJECT_PREFIX = "courtyard.stream."


class Bus(Protocol):
    """Carries stream-advance hints between server nodes."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, user_id: str, position: int, event: WireEvent | None = None) -> None:
        """Tell readers of ``user_id`` that its stream reached ``position`` (``event``)."""

    async def watch(self, user_id: str) -> None:
        """Start receiving hints for ``user_id`` (reference counted)."""

    async def unwatch(self, user_id: str) -> None: ...

    async def ping(self) -> None:
        """Raise if the bus is unreachable."""

    def set_listeners(self, on_advance: AdvanceListener, on_reset: ResetListener) -> None:
        """``on_advance(user, position, event)`` per hint; ``on_reset()`` when hints may have
        been lost."""


class MemoryBus:
    """In-process bus: a publish reaches this node's listeners directly."""

    def __init__(self) -> None:
        self._on_advance: AdvanceListener = lambda _user, _pos, _event: None
        self._on_reset: ResetListener = lambda: None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, user_id: str, position: int, event: WireEvent | None = None) -> None:
        self._on_advance(user_id, position, event)

    async def watch(self, user_id: str) -> None:
        return None

    async def unwatch(self, user_id: str) -> None:
        return None

    async def ping(self) -> None:
        return None

    def set_listeners(self, on_advance: AdvanceListener, on_reset: ResetListener) -> None:
        self._on_advance, self._on_reset = on_advance, on_reset


def create_bus(url: str) -> Bus:
    """The bus for a ``bus_url`` setting."""
    if url == "memory://":
        return MemoryBus()
    from courtyard.streams.nats_bus import NatsBus

    return NatsBus(url)


async def close_quietly(bus: Bus) -> None:
    try:
        await asyncio.wait_for(bus.close(), timeout=5)
    except Exception:
        log.warning("bus did not close cleanly", exc_info=True)
