"""Move a job to a new due time, whatever state it is in: the privacy domain's erase job,
which a new request after a cancellation, or a released legal hold, must run again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from courtyard.db import Tx
from courtyard.domains.jobs.claims import bucket_of
from courtyard.domains.jobs.models import DueJob
from courtyard.domains.jobs.service import schedule


async def reschedule(
    tx: Tx, kind: str, ref_id: str, due_at: dt.datetime, *, now: dt.datetime
) -> None:
    """Make the job ``<kind>:<ref_id>`` pending at ``due_at`` with a fresh count of attempts,
    creating it if needed, inside the caller's transaction. A node running the job now holds
    its row (PostgreSQL) or the writer (SQLite), so this waits for that run and then wins."""
    if await schedule(tx, kind, ref_id, due_at, now=now):
        return
    job_id = f"{kind}:{ref_id}"
    await tx.session.execute(
        update(DueJob)
        .where(DueJob.bucket == bucket_of(job_id), DueJob.job_id == job_id)
        .values(
            state="pending",
            due_at=due_at,
            attempts=0,
            outcome=None,
            last_error=None,
            done_at=None,
        )
        .execution_options(synchronize_session=False)
    )
