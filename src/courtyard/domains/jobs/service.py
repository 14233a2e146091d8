"""Due-time jobs: ``schedule`` one in a flow's transaction; ``DueJobs.run_due`` runs what is due.

Local jobs (refunds, expiries) run claim, effect and completion in one transaction: exactly
once. External jobs (provider calls, long scans) are leased for 60 s and run outside any
transaction; their effects must be idempotent, since a lease can run out. See docs/wallet.md,
"Due-time jobs".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from courtyard.core.clock import Clock
from courtyard.core.errors import CourtyardError
from courtyard.db import Database, Tx
from courtyard.domains.accounts import record_operator_action
from courtyard.domains.jobs.claims import (
    Job,
    Outcome,
    bucket_of,
    claim_local,
    finish_external,
    finish_local,
    lease_external,
    record_failure,
)
from courtyard.domains.jobs.errors import InvalidOutcome, JobNotFailed, UnknownJobKind
from courtyard.domains.jobs.models import DueJob

log = logging.getLogger(__name__)

DUE_JOBS = cast(Table, DueJob.__table__)

LocalHandler = Callable[[Tx, Job], Awaitable[Outcome]]
ExternalHandler = Callable[[Job], Awaitable[Outcome]]
OUTCOMES: frozenset[str] = frozenset({"applied", "skipped"})
EXTERNAL_BATCH = 10


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job as the admin console and the CLI list it."""

    job_id: str
    kind: str
    ref_id: str
    due_at: dt.datetime
    state: str
    outcome: str | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    done_at: dt.datetime | None


async def schedule(
    tx: Tx,
    kind: str,
    ref_id: str,
    due_at: dt.datetime,
    *,
    job_id: str | None = None,
    now: dt.datetime,
) -> bool:
    """Schedule ``kind`` for ``ref_id`` at ``due_at`` inside the caller's transaction, so the
    job exists if and only if the flow does. Returns False if the job already existed
    (scheduling twice is a no-op, whatever the second call's ``due_at``)."""
    build = (
        postgresql.insert if tx.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    row = job_row(kind, ref_id, due_at, job_id=job_id, now=now)
    result = await tx.session.execute(build(DueJob).values(**row).on_conflict_do_nothing())
    return bool(getattr(result, "rowcount", 0))


def job_row(
    kind: str, ref_id: str, due_at: dt.datetime, *, job_id: str | None = None, now: dt.datetime
) -> dict[str, Any]:
    """The ``due_jobs`` row ``schedule`` inserts, for callers that write many at once in
    their own statement (``DUE_JOBS``, ``ON CONFLICT DO NOTHING``), e.g. a transfer batch."""
    job_id = job_id or f"{kind}:{ref_id}"
    if len(kind) > 64 or len(ref_id) > 128 or len(job_id) > 200:
        raise ValueError("job kind, ref_id or job_id too long")
    return {
        "bucket": bucket_of(job_id),
        "job_id": job_id,
        "kind": kind,
        "ref_id": ref_id,
        "due_at": due_at,
        "state": "pending",
        "attempts": 0,
        "created_at": now,
    }


async def complete_leased(tx: Tx, job: Job, outcome: Outcome, *, now: dt.datetime) -> bool:
    """Mark a leased (external) job done inside the transaction that applies its result, so
    the result and "done" commit together. False if the job is no longer pending (another
    node's run, after this lease ran out, finished it first): the caller rolls back."""
    return await finish_external(tx.session, job, outcome, now)


def error_code(exc: BaseException) -> str:
    """What a failed attempt records: a problem code or an exception class, never a message
    (messages can carry user data)."""
    return exc.code if isinstance(exc, CourtyardError) else type(exc).__name__


def _checked(outcome: object) -> Outcome:
    if outcome == "applied":
        return "applied"
    if outcome == "skipped":
        return "skipped"
    raise InvalidOutcome()


class DueJobs:
    """The registry of job handlers and the runner of due jobs; safe on many nodes at once.

    ``on_failed`` (e.g. a metrics counter) is called with each job that runs out of attempts.
    """

    def __init__(
        self, db: Database, clock: Clock, *, on_failed: Callable[[Job], None] | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.on_failed = on_failed
        self._local: dict[str, LocalHandler] = {}
        self._external: dict[str, ExternalHandler] = {}

    def register_local(self, kind: str, handler: LocalHandler) -> None:
        """Run ``handler(tx, job)`` inside the transaction that claims and completes the job."""
        self._check_new(kind)
        self._local[kind] = handler

    def register_external(self, kind: str, handler: ExternalHandler) -> None:
        """Run ``handler(job)`` outside any transaction, under a 60 s lease; it must be
        idempotent (a lease that runs out lets another node run the job again)."""
        self._check_new(kind)
        self._external[kind] = handler

    def _check_new(self, kind: str) -> None:
        if kind in self._local or kind in self._external:
            raise ValueError(f"a handler for {kind!r} is already registered")

    async def run_due(self, limit: int = 50) -> int:
        """Run up to ``limit`` jobs that are due now; returns how many were attempted (so
        ``limit`` means there may be more)."""
        ran = 0
        while ran < limit and await self._run_one_local():
            ran += 1
        while ran < limit and self._external:
            leased = await self._run_external_batch(min(EXTERNAL_BATCH, limit - ran))
            if not leased:
                break
            ran += leased
        return ran

    async def _run_one_local(self) -> bool:
        """Claim, run and complete one job in one transaction; False if none was due.

        Jobs of unknown kinds come this way too, and fail with ``unknown_kind``.
        """
        now = self.clock.now()
        job: Job | None = None
        try:
            async with self.db.transaction() as tx:
                job = await claim_local(tx.session, now, external=self._external.keys())
                if job is None:
                    return False
                handler = self._local.get(job.kind)
                if handler is None:
                    raise UnknownJobKind()
                outcome = _checked(await handler(tx, job))
                if not await finish_local(tx.session, job, outcome, now):
                    raise _ClaimLost()
        except _ClaimLost:  # cannot happen while the claim holds; rolled back if it does
            log.error("due job lost its claim", extra={"job_id": job.job_id if job else None})
        except Exception as exc:
            if job is None:  # the claim itself failed: the database, not a job
                raise
            await self._record_failure(job, exc, leased=False)
        return True

    async def _run_external_batch(self, limit: int) -> int:
        async with self.db.transaction() as tx:
            jobs = await lease_external(
                tx.session, self.clock.now(), kinds=self._external.keys(), limit=limit
            )
        results = await asyncio.gather(
            *(self._run_external(job) for job in jobs), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(jobs)

    async def _run_external(self, job: Job) -> None:
        try:
            outcome = _checked(await self._external[job.kind](job))
        except Exception as exc:
            await self._record_failure(job, exc, leased=True)
            return
        async with self.db.transaction() as tx:
            await finish_external(tx.session, job, outcome, self.clock.now())

    async def _record_failure(self, job: Job, exc: Exception, *, leased: bool) -> None:
        code = error_code(exc)
        context = {"job_id": job.job_id, "kind": job.kind, "attempts": job.attempts, "error": code}
        async with self.db.transaction() as tx:
            gave_up = await record_failure(tx.session, job, code, self.clock.now(), leased=leased)
        if gave_up:
            log.error("due job failed for good", extra=context, exc_info=exc)
            if self.on_failed is not None:
                self.on_failed(job)
        else:
            log.warning("due job failed; will retry", extra=context, exc_info=exc)

    async def retry_failed(self, job_id: str, *, operator_id: str | None = None) -> None:
        """Put a failed job back to pending, due now, with a fresh count of attempts. With
        ``operator_id`` (the admin console) the operator's action is recorded in the same
        transaction."""
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                update(DueJob)
                .where(
                    DueJob.bucket == bucket_of(job_id),
                    DueJob.job_id == job_id,
                    DueJob.state == "failed",
                )
                .values(state="pending", attempts=0, due_at=self.clock.now(), done_at=None)
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                raise JobNotFailed()
            if operator_id is not None:
                await record_operator_action(
                    tx, self.clock, operator_id, "jobs.retry", f"job:{job_id}"
                )

    async def get_job(self, job_id: str) -> JobStatus | None:
        """The job ``job_id``, in whatever state, or None."""
        async with self.db.read() as session:
            row = await session.scalar(
                select(DueJob).where(DueJob.bucket == bucket_of(job_id), DueJob.job_id == job_id)
            )
            return None if row is None else _status(row)

    async def pending(self, limit: int = 100) -> list[JobStatus]:
        """Pending jobs, soonest due first."""
        return await self._list(DueJob.state == "pending", DueJob.due_at, limit)

    async def failed(self, limit: int = 100) -> list[JobStatus]:
        """Jobs that ran out of attempts, most recent first."""
        return await self._list(DueJob.state == "failed", DueJob.done_at.desc(), limit)

    async def _list(self, where: Any, order: Any, limit: int) -> list[JobStatus]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(DueJob).where(where).order_by(order, DueJob.job_id).limit(limit)
            )
            return [_status(row) for row in rows]


class _ClaimLost(Exception):
    """The completing update found the job no longer pending: roll the effect back."""


def _status(row: DueJob) -> JobStatus:
    return JobStatus(
        job_id=row.job_id,
        kind=row.kind,
        ref_id=row.ref_id,
        due_at=row.due_at,
        state=row.state,
        outcome=row.outcome,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        done_at=row.done_at,
    )
