"""Read a user's stream for a device: at once if there is news, else wait for a hint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from courtyard.db import Database
from courtyard.streams.bus import WireEvent
from courtyard.streams.notifier import StreamNotifier, Waiter
from courtyard.streams.store import StreamStore

MAX_BATCH = 500


@dataclass(frozen=True)
class SyncBatch:
    events: list[WireEvent]  # wire form; shared with other readers, so copied by to_wire
    next: int

    def to_wire(self) -> dict[str, Any]:
        return {"events": [dict(e) for e in self.events], "next": self.next}


class SyncService:
    def __init__(self, db: Database, notifier: StreamNotifier, recheck_seconds: float) -> None:
        self.db = db
        self.notifier = notifier
        self.recheck_seconds = recheck_seconds

    async def read(self, user_id: str, since: int, limit: int = 100) -> SyncBatch:
        """Events after ``since`` now, possibly none."""
        async with self.db.read() as session:
            rows = await StreamStore.read_since(session, user_id, since, min(limit, MAX_BATCH))
        return SyncBatch([row.to_wire() for row in rows], rows[-1].position if rows else since)

    async def wait(self, user_id: str, since: int, timeout: float, limit: int = 100) -> SyncBatch:
        """Events after ``since``; if none yet, wait up to ``timeout`` seconds for some."""
        async with self.notifier.listen(user_id) as waiter:
            return await self.next_batch(waiter, user_id, since, timeout, limit)

    async def next_batch(
        self, waiter: Waiter, user_id: str, since: int, timeout: float, limit: int = 100
    ) -> SyncBatch:
        """Like ``wait`` with a waiter the caller holds (a socket keeps one for its lifetime)."""
        deadline = time.monotonic() + timeout
        while True:
            waiter.clear()  # clear before taking or reading: a hint meanwhile is not lost
            held = waiter.take(since, min(limit, MAX_BATCH))
            if held:
                return SyncBatch(held, held[-1]["position"])
            remaining = deadline - time.monotonic()
            if waiter.must_read():
                batch = await self.read(user_id, since, limit)
                if batch.events:
                    waiter.doubt()  # there may be more than one page: read again next time
                    return batch
                remaining = deadline - time.monotonic()
            if remaining <= 0:
                return SyncBatch([], since)
            if not await waiter.wait(min(remaining, self.recheck_seconds)):
                waiter.suspect()  # quiet for a while: look in the database, hints may be lost
