"""Devices' "last seen" times, written in the background and coalesced.

Authenticating must not wait for a write: a node that restarts has every device reconnect at
once, and one write transaction per reconnecting device would queue them all behind the single
SQLite writer. A device seen again is noted in memory; one background transaction writes every
noted device (at most ``MAX_PER_FLUSH``), and notes that arrive meanwhile wait for the next.
The time is advisory (shown in device lists, granularity five minutes): a crash loses at most
what was noted since the last flush.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import bindparam, update

from courtyard.db import Database
from courtyard.domains.accounts.models import Device

log = logging.getLogger(__name__)

MAX_PER_FLUSH = 1000

_TOUCH = (
    update(Device)
    .where(Device.user_id == bindparam("b_user"), Device.device_id == bindparam("b_device"))
    .values(last_seen_at=bindparam("b_seen"))
)


class LastSeen:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._noted: dict[tuple[str, str], dt.datetime] = {}
        self._flusher: asyncio.Task[None] | None = None

    def note(self, user_id: str, device_id: str, seen: dt.datetime) -> None:
        self._noted[(user_id, device_id)] = seen
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def close(self) -> None:
        """Write what is noted (at shutdown)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        while self._noted:
            keys = list(self._noted)[:MAX_PER_FLUSH]
            rows = [
                {"b_user": user, "b_device": device, "b_seen": self._noted.pop((user, device))}
                for user, device in keys
            ]
            try:
                async with self.db.transaction() as tx:
                    await (await tx.session.connection()).execute(_TOUCH, rows)
            except Exception:  # advisory data: log, drop, carry on
                log.warning("last-seen times not written for %d devices", len(rows), exc_info=True)
