"""The privacy domain's daily jobs (the retention purge, the re-check of held erasures): one
job per UTC day, ``<kind>:<YYYY-MM-DD>`` due at 00:00. Every node schedules today's at start
(a no-op if it exists); each run schedules tomorrow's in the transaction that completes it,
so a day's job runs once however many nodes poll (as the wallet's audit job does)."""

from __future__ import annotations

import datetime as dt

from courtyard.core.clock import Clock
from courtyard.db import Database, Tx
from courtyard.domains.jobs import schedule

DAY = dt.timedelta(days=1)


def day_of(moment: dt.datetime) -> dt.datetime:
    """00:00 UTC of the day ``moment`` falls in."""
    return dt.datetime.combine(moment.astimezone(dt.UTC).date(), dt.time(), dt.UTC)


def day_ref(day: dt.datetime) -> str:
    return day.astimezone(dt.UTC).strftime("%Y-%m-%d")


async def schedule_today(db: Database, clock: Clock, kind: str) -> None:
    """Schedule today's job of ``kind`` unless it exists."""
    now = clock.now()
    today = day_of(now)
    async with db.transaction() as tx:
        await schedule(tx, kind, day_ref(today), today, now=now)


async def schedule_tomorrow(tx: Tx, kind: str, now: dt.datetime) -> None:
    """Schedule the job of ``kind`` for the day after ``now`` (the day after a late run, not
    after the job's own day: a node down for a week catches up once)."""
    tomorrow = day_of(now) + DAY
    await schedule(tx, kind, day_ref(tomorrow), tomorrow, now=now)
