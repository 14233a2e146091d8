"""The statements that claim, finish and fail due jobs, one function per transaction step.

Every write names its row by ``(bucket, job_id)`` so that on Citus it is a single-shard query;
a claim scans pending rows through the partial index on ``due_at``.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.domains.jobs.models import BUCKETS, DueJob

Outcome = Literal["applied", "skipped"]

LEASE = dt.timedelta(seconds=60)
MAX_ATTEMPTS = 20
MAX_BACKOFF = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job as its handler sees it; ``attempts`` counts the attempt under way."""

    job_id: str
    kind: str
    ref_id: str
    due_at: dt.datetime
    attempts: int


def bucket_of(job_id: str) -> int:
    """The job's shard key: ``crc32(job_id) % 64``."""
    return zlib.crc32(job_id.encode()) % BUCKETS


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: 2^attempts s, at most an hour."""
    return min(dt.timedelta(seconds=2 ** min(attempts, 12)), MAX_BACKOFF)


def _this(job_id: str) -> ColumnElement[bool]:
    return (DueJob.bucket == bucket_of(job_id)) & (DueJob.job_id == job_id)


def _due(now: dt.datetime) -> ColumnElement[bool]:
    return (DueJob.state == "pending") & (DueJob.due_at <= now)


def _job(row: Row[str, str, str, dt.datetime, int], attempts: int) -> Job:
    return Job(row.job_id, row.kind, row.ref_id, row.due_at, attempts)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def claim_local(
    session: AsyncSession, now: dt.datetime, *, external: Collection[str]
) -> Job | None:
    """Claim the most overdue job not run externally, for the rest of this transaction.

    PostgreSQL locks the row (``SKIP LOCKED``: other nodes pass it by) and ``finish_local``
    marks it done; SQLite marks it done here, inside the one writer's ``BEGIN IMMEDIATE``.
    Either way the claim commits, or rolls back, with the effect.
    """
    if session.get_bind().dialect.name == "postgresql":
        locked = (
            select(DueJob.job_id, DueJob.kind, DueJob.ref_id, DueJob.due_at, DueJob.attempts)
            .where(_due(now), DueJob.kind.not_in(external))
            .order_by(DueJob.due_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        row = (await session.execute(locked)).first()
        return None if row is None else _job(row, row.attempts + 1)
    oldest = (
        select(DueJob.job_id)
        .where(_due(now), DueJob.kind.not_in(external))
        .order_by(DueJob.due_at)
        .limit(1)
    )
    claimed = (
        update(DueJob)
        .where(DueJob.job_id == oldest.scalar_subquery())
        .values(state="done", done_at=now, attempts=DueJob.attempts + 1)
        .returning(DueJob.job_id, DueJob.kind, DueJob.ref_id, DueJob.due_at, DueJob.attempts)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(claimed)).first()
    return None if row is None else _job(row, row.attempts)


async def finish_local(session: AsyncSession, job: Job, outcome: Outcome, now: dt.datetime) -> bool:
    """Mark a locally run job done with its outcome; False if it was not ours to finish."""
    if session.get_bind().dialect.name == "postgresql":
        values: dict[str, Any] = {
            "state": "done",
            "outcome": outcome,
            "done_at": now,
            "attempts": job.attempts,
        }
        where = _this(job.job_id) & (DueJob.state == "pending")
    else:  # claim_local already marked it done in this transaction
        values = {"outcome": outcome}
        where = _this(job.job_id) & (DueJob.state == "done") & (DueJob.outcome.is_(None))
    result = await session.execute(
        update(DueJob).where(where).values(**values).execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def lease_external(
    session: AsyncSession, now: dt.datetime, *, kinds: Collection[str], limit: int
) -> list[Job]:
    """Lease up to ``limit`` due jobs of ``kinds`` for ``LEASE``: they stay pending but are
    not due again until the lease ends, so a node that dies mid-call leaves them to others."""
    oldest = (
        select(DueJob.job_id, DueJob.kind, DueJob.ref_id, DueJob.due_at, DueJob.attempts)
        .where(_due(now), DueJob.kind.in_(kinds))
        .order_by(DueJob.due_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    # Selected, then updated: the update cannot return the due time it replaces. On SQLite
    # the writer's BEGIN IMMEDIATE already keeps other nodes out between the two statements.
    rows = (await session.execute(oldest)).all()
    if not rows:
        return []
    await session.execute(
        update(DueJob)
        .where(DueJob.job_id.in_([row.job_id for row in rows]), DueJob.state == "pending")
        .values(due_at=now + LEASE, attempts=DueJob.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return [_job(row, row.attempts + 1) for row in rows]


async def finish_external(
    session: AsyncSession, job: Job, outcome: Outcome, now: dt.datetime
) -> bool:
    """Mark an externally run job done; a no-op if another node's run finished it first."""
    result = await session.execute(
        update(DueJob)
        .where(_this(job.job_id), DueJob.state == "pending")
        .values(state="done", outcome=outcome, done_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


async def record_failure(
    session: AsyncSession, job: Job, error: str, now: dt.datetime, *, leased: bool
) -> bool:
    """Record the failed attempt ``job.attempts`` and when to try again; after
    ``MAX_ATTEMPTS`` the job is ``failed``. Returns whether it gave up.

    The stored attempt count fences the write: a local claim's increment was rolled back
    (the row still holds ``attempts - 1``), a lease's was committed (``attempts``); if the
    row holds anything else, another node has claimed it since and owns the record.
    """
    gives_up = job.attempts >= MAX_ATTEMPTS
    fence = job.attempts if leased else job.attempts - 1
    result = await session.execute(
        update(DueJob)
        .where(_this(job.job_id), DueJob.state == "pending", DueJob.attempts == fence)
        .values(
            attempts=job.attempts,
            last_error=error[:200],
            due_at=now + backoff(job.attempts),
            state="failed" if gives_up else "pending",
            done_at=now if gives_up else None,
        )
        .execution_options(synchronize_session=False)
    )
    return gives_up and _rowcount(result) == 1
