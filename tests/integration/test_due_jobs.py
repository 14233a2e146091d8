"""Due-time jobs: scheduled once, run once (even with two nodes polling), retried with backoff,
failed after 20 attempts, leased for external work; and the runner that polls them."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import text

from courtyard.core.clock import FrozenClock
from courtyard.core.errors import Conflict
from courtyard.db import Database, Tx
from courtyard.domains.jobs import (
    MAX_ATTEMPTS,
    DueJobs,
    Job,
    JobNotFailed,
    JobStatus,
    Outcome,
    schedule,
)
from courtyard.workers.due import DueRunner

# Effects go to a table of the test's own with no unique key, so a job run twice shows twice.
EFFECTS_DDL = "CREATE TABLE job_effects (job_id VARCHAR(200) NOT NULL)"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.transaction() as tx:
        await tx.session.execute(text("DROP TABLE IF EXISTS job_effects"))
        await tx.session.execute(text(EFFECTS_DDL))
    try:
        yield database
    finally:
        # PostgreSQL reuses one migrated database for the session; leave it as we found it.
        async with database.transaction() as tx:
            await tx.session.execute(text("DROP TABLE job_effects"))
        await database.dispose()


@pytest.fixture
def jobs(db: Database, clock: FrozenClock) -> DueJobs:
    return DueJobs(db, clock)


async def record_effect(tx: Tx, job: Job) -> Outcome:
    await tx.session.execute(
        text("INSERT INTO job_effects (job_id) VALUES (:job_id)"), {"job_id": job.job_id}
    )
    return "applied"


async def effects(db: Database) -> list[str]:
    async with db.read() as session:
        rows = await session.execute(text("SELECT job_id FROM job_effects ORDER BY job_id"))
        return [row.job_id for row in rows]


async def add_job(
    db: Database, clock: FrozenClock, kind: str, ref_id: str, *, in_seconds: float = 0
) -> bool:
    async with db.transaction() as tx:
        return await schedule(
            tx, kind, ref_id, clock.now() + dt.timedelta(seconds=in_seconds), now=clock.now()
        )


async def job_status(jobs: DueJobs, job_id: str) -> JobStatus:
    status = await jobs.get_job(job_id)
    assert status is not None
    return status


def failing(
    times: int, error: Exception
) -> tuple[Callable[[Tx, Job], Awaitable[Outcome]], list[Job]]:
    """A local handler that writes its effect and then raises ``error``, ``times`` times,
    before it succeeds; and the list of jobs it was called with."""
    calls: list[Job] = []

    async def handler(tx: Tx, job: Job) -> Outcome:
        calls.append(job)
        await record_effect(tx, job)
        if len(calls) <= times:
            raise error
        return "applied"

    return handler, calls


# --- scheduling -------------------------------------------------------------------------


async def test_scheduling_twice_is_a_no_op_that_keeps_the_first_due_time(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    assert await add_job(db, clock, "transfer.refund", "t1", in_seconds=60) is True

    assert await add_job(db, clock, "transfer.refund", "t1", in_seconds=5) is False

    [pending] = await jobs.pending()
    assert pending.job_id == "transfer.refund:t1"
    assert (pending.kind, pending.ref_id, pending.state, pending.attempts) == (
        "transfer.refund",
        "t1",
        "pending",
        0,
    )
    assert pending.due_at == clock.now() + dt.timedelta(seconds=60)


async def test_a_job_scheduled_in_a_rolled_back_transaction_does_not_exist(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    async def flow_that_fails() -> None:
        async with db.transaction() as tx:
            await schedule(tx, "transfer.refund", "t1", clock.now(), now=clock.now())
            raise RuntimeError("the flow failed")

    with pytest.raises(RuntimeError):
        await flow_that_fails()

    assert await jobs.get_job("transfer.refund:t1") is None
    assert await jobs.pending() == []


async def test_an_explicit_job_id_names_the_job(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    async with db.transaction() as tx:
        await schedule(
            tx,
            "reconcile",
            "sandbox",
            clock.now(),
            job_id="reconcile:sandbox:2026-12-01",
            now=clock.now(),
        )

    status = await job_status(jobs, "reconcile:sandbox:2026-12-01")
    assert (status.kind, status.ref_id) == ("reconcile", "sandbox")


# --- local jobs -------------------------------------------------------------------------


async def test_a_job_does_not_run_before_it_is_due_and_runs_once_after(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    jobs.register_local("transfer.refund", record_effect)
    await add_job(db, clock, "transfer.refund", "t1", in_seconds=10)

    clock.advance(seconds=9.999)
    assert await jobs.run_due() == 0
    assert await effects(db) == []

    clock.advance(seconds=0.001)
    assert await jobs.run_due() == 1
    assert await jobs.run_due() == 0

    assert await effects(db) == ["transfer.refund:t1"]
    status = await job_status(jobs, "transfer.refund:t1")
    assert (status.state, status.outcome, status.attempts) == ("done", "applied", 1)
    assert status.done_at == clock.now()
    assert await jobs.pending() == []


async def test_run_due_runs_at_most_limit_jobs_most_overdue_first(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    jobs.register_local("expire", record_effect)
    for n in range(5):
        await add_job(db, clock, "expire", f"p{n}", in_seconds=-n)

    assert await jobs.run_due(limit=2) == 2

    assert await effects(db) == ["expire:p3", "expire:p4"]
    assert [job.job_id for job in await jobs.pending()] == ["expire:p2", "expire:p1", "expire:p0"]


async def test_a_skipped_outcome_is_recorded(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    async def already_moved(_tx: Tx, _job: Job) -> Outcome:
        return "skipped"

    jobs.register_local("transfer.refund", already_moved)
    await add_job(db, clock, "transfer.refund", "t1")

    await jobs.run_due()

    status = await job_status(jobs, "transfer.refund:t1")
    assert (status.state, status.outcome) == ("done", "skipped")


async def test_local_jobs_run_exactly_once_when_two_nodes_poll_concurrently(
    db: Database, database_url: str, clock: FrozenClock
) -> None:
    other_db = Database(database_url)
    try:
        nodes = [DueJobs(db, clock), DueJobs(other_db, clock)]
        ran_by: dict[str, list[int]] = {}

        def effect_of(node: int) -> Callable[[Tx, Job], Awaitable[Outcome]]:
            async def effect(tx: Tx, job: Job) -> Outcome:
                ran_by.setdefault(job.job_id, []).append(node)
                await asyncio.sleep(0)  # let the other node's claims interleave
                return await record_effect(tx, job)

            return effect

        for index, node in enumerate(nodes):
            node.register_local("expire", effect_of(index))
        job_ids = [f"expire:p{n:03}" for n in range(80)]
        for n in range(80):
            await add_job(db, clock, "expire", f"p{n:03}", in_seconds=-1)

        total = 0
        while True:
            counts = await asyncio.gather(*(node.run_due(limit=7) for node in nodes * 3))
            total += sum(counts)
            if not any(counts):
                break

        assert total == 80
        assert await effects(db) == job_ids
        assert sorted(ran_by) == job_ids
        assert all(len(nodes_that_ran) == 1 for nodes_that_ran in ran_by.values())
        assert {node for ran in ran_by.values() for node in ran} == {0, 1}
        assert await nodes[0].pending() == []
    finally:
        await other_db.dispose()


async def test_a_failing_effect_rolls_back_and_is_retried_with_backoff(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    handler, calls = failing(2, RuntimeError("boom with user data"))
    jobs.register_local("transfer.refund", handler)
    await add_job(db, clock, "transfer.refund", "t1")

    assert await jobs.run_due() == 1
    status = await job_status(jobs, "transfer.refund:t1")
    assert (status.state, status.attempts, status.last_error) == ("pending", 1, "RuntimeError")
    assert status.due_at == clock.now() + dt.timedelta(seconds=2)
    assert await effects(db) == []

    clock.advance(seconds=1)
    assert await jobs.run_due() == 0
    clock.advance(seconds=1)
    assert await jobs.run_due() == 1
    status = await job_status(jobs, "transfer.refund:t1")
    assert (status.attempts, status.due_at) == (2, clock.now() + dt.timedelta(seconds=4))

    clock.advance(seconds=4)
    assert await jobs.run_due() == 1

    assert await effects(db) == ["transfer.refund:t1"]
    assert [job.attempts for job in calls] == [1, 2, 3]
    status = await job_status(jobs, "transfer.refund:t1")
    assert (status.state, status.outcome, status.attempts) == ("done", "applied", 3)


async def test_a_failed_attempt_records_the_problem_code_not_the_message(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    class TransferMoved(Conflict):
        code = "transfer_moved"

    handler, _calls = failing(1, TransferMoved("alice's transfer of 12.00 EUR"))
    jobs.register_local("transfer.refund", handler)
    await add_job(db, clock, "transfer.refund", "t1")

    await jobs.run_due()

    assert (await job_status(jobs, "transfer.refund:t1")).last_error == "transfer_moved"


async def test_a_job_that_keeps_failing_is_failed_after_20_attempts(
    db: Database, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    given_up: list[Job] = []
    jobs = DueJobs(db, clock, on_failed=given_up.append)
    handler, calls = failing(1000, ValueError())
    jobs.register_local("transfer.refund", handler)
    await add_job(db, clock, "transfer.refund", "t1")

    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await jobs.run_due() == 1
        status = await job_status(jobs, "transfer.refund:t1")
        assert status.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert status.state == "pending"
            assert status.due_at - clock.now() == dt.timedelta(seconds=min(2**attempt, 3600))
        clock.advance(hours=1)

    assert await jobs.run_due() == 0
    assert len(calls) == MAX_ATTEMPTS
    assert await effects(db) == []
    [failed] = await jobs.failed()
    assert (failed.job_id, failed.state, failed.attempts) == ("transfer.refund:t1", "failed", 20)
    assert await jobs.pending() == []
    assert [job.job_id for job in given_up] == ["transfer.refund:t1"]
    assert any(
        r.levelno == logging.ERROR and r.message == "due job failed for good"
        for r in caplog.records
    )


async def test_retry_failed_puts_a_failed_job_back_to_pending_with_fresh_attempts(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    handler, _calls = failing(MAX_ATTEMPTS, ValueError())
    jobs.register_local("transfer.refund", handler)
    await add_job(db, clock, "transfer.refund", "t1")
    for _ in range(MAX_ATTEMPTS):
        await jobs.run_due()
        clock.advance(hours=1)
    assert (await job_status(jobs, "transfer.refund:t1")).state == "failed"

    await jobs.retry_failed("transfer.refund:t1")

    status = await job_status(jobs, "transfer.refund:t1")
    assert (status.state, status.attempts, status.due_at, status.done_at) == (
        "pending",
        0,
        clock.now(),
        None,
    )
    assert await jobs.run_due() == 1
    assert await effects(db) == ["transfer.refund:t1"]
    assert (await job_status(jobs, "transfer.refund:t1")).state == "done"


async def test_retry_failed_refuses_a_job_that_has_not_failed(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    await add_job(db, clock, "transfer.refund", "t1")

    with pytest.raises(JobNotFailed):
        await jobs.retry_failed("transfer.refund:t1")
    with pytest.raises(JobNotFailed):
        await jobs.retry_failed("transfer.refund:nope")


async def test_an_unknown_kind_is_a_failed_attempt_and_the_loop_goes_on(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    jobs.register_local("expire", record_effect)
    await add_job(db, clock, "from.a.newer.node", "x", in_seconds=-1)
    await add_job(db, clock, "expire", "p1")

    assert await jobs.run_due() == 2

    unknown = await job_status(jobs, "from.a.newer.node:x")
    assert (unknown.state, unknown.attempts, unknown.last_error) == ("pending", 1, "unknown_kind")
    assert await effects(db) == ["expire:p1"]


async def test_a_recurring_job_schedules_its_successor_in_its_own_transaction(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    async def audit(tx: Tx, job: Job) -> Outcome:
        slot = int(job.ref_id)
        await schedule(
            tx,
            "wallet.audit",
            str(slot + 1),
            job.due_at + dt.timedelta(minutes=10),
            now=clock.now(),
        )
        return await record_effect(tx, job)

    jobs.register_local("wallet.audit", audit)
    await add_job(db, clock, "wallet.audit", "0")

    for _ in range(3):
        assert await jobs.run_due() == 1
        assert await jobs.run_due() == 0
        clock.advance(minutes=10)

    assert await effects(db) == ["wallet.audit:0", "wallet.audit:1", "wallet.audit:2"]
    assert [job.job_id for job in await jobs.pending()] == ["wallet.audit:3"]


def test_a_kind_takes_one_handler(jobs: DueJobs) -> None:
    jobs.register_local("expire", record_effect)

    with pytest.raises(ValueError, match="already registered"):
        jobs.register_external("expire", lambda _job: asyncio.sleep(0, "applied"))


# --- external jobs ----------------------------------------------------------------------


async def test_an_external_job_runs_outside_any_transaction_and_is_marked_done(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    async def submit(job: Job) -> Outcome:
        # On SQLite the writer is one connection: this would wait forever inside a claim.
        async with asyncio.timeout(5), db.transaction() as tx:
            await record_effect(tx, job)
        return "skipped"

    jobs.register_external("topup.submit", submit)
    await add_job(db, clock, "topup.submit", "op1")

    assert await jobs.run_due() == 1

    assert await effects(db) == ["topup.submit:op1"]
    status = await job_status(jobs, "topup.submit:op1")
    assert (status.state, status.outcome, status.attempts) == ("done", "skipped", 1)


async def test_a_leased_external_job_reappears_after_60_seconds_if_its_node_dies(
    db: Database, database_url: str, clock: FrozenClock
) -> None:
    other_db = Database(database_url)
    try:
        started = asyncio.Event()
        dying, survivor = DueJobs(db, clock), DueJobs(other_db, clock)
        seen: list[Job] = []

        async def hang(_job: Job) -> Outcome:
            started.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

        async def complete(job: Job) -> Outcome:
            seen.append(job)
            return "applied"

        dying.register_external("topup.check", hang)
        survivor.register_external("topup.check", complete)
        await add_job(db, clock, "topup.check", "op1")
        node = asyncio.create_task(dying.run_due())
        await asyncio.wait_for(started.wait(), 5)
        node.cancel()
        with pytest.raises(asyncio.CancelledError):
            await node

        leased = await job_status(survivor, "topup.check:op1")
        assert (leased.state, leased.attempts) == ("pending", 1)
        assert await survivor.run_due() == 0
        clock.advance(seconds=59)
        assert await survivor.run_due() == 0
        clock.advance(seconds=1)
        assert await survivor.run_due() == 1

        assert [(job.job_id, job.attempts) for job in seen] == [("topup.check:op1", 2)]
        status = await job_status(survivor, "topup.check:op1")
        assert (status.state, status.outcome, status.attempts) == ("done", "applied", 2)
    finally:
        await other_db.dispose()


async def test_a_failing_external_job_counts_its_attempt_once_and_backs_off(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    async def provider_down(_job: Job) -> Outcome:
        raise ConnectionError("provider at 10.0.0.1 refused")

    jobs.register_external("withdrawal.submit", provider_down)
    await add_job(db, clock, "withdrawal.submit", "w1")

    assert await jobs.run_due() == 1

    status = await job_status(jobs, "withdrawal.submit:w1")
    assert (status.state, status.attempts, status.last_error) == (
        "pending",
        1,
        "ConnectionError",
    )
    assert status.due_at == clock.now() + dt.timedelta(seconds=2)


async def test_a_stale_lease_holder_cannot_undo_the_next_holders_work(
    db: Database, database_url: str, clock: FrozenClock
) -> None:
    other_db = Database(database_url)
    try:
        slow, fast = DueJobs(db, clock), DueJobs(other_db, clock)
        started, release = asyncio.Event(), asyncio.Event()

        async def slow_call(_job: Job) -> Outcome:
            started.set()
            await release.wait()
            raise TimeoutError

        async def fast_call(_job: Job) -> Outcome:
            return "applied"

        slow.register_external("topup.check", slow_call)
        fast.register_external("topup.check", fast_call)
        await add_job(db, clock, "topup.check", "op1")
        stale = asyncio.create_task(slow.run_due())
        await asyncio.wait_for(started.wait(), 5)
        clock.advance(seconds=60)
        assert await fast.run_due() == 1
        release.set()
        assert await stale == 1

        status = await job_status(fast, "topup.check:op1")
        assert (status.state, status.outcome, status.attempts, status.last_error) == (
            "done",
            "applied",
            2,
            None,
        )
    finally:
        await other_db.dispose()


# --- the runner -------------------------------------------------------------------------


async def wait_until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(5):
        while not await check():  # noqa: ASYNC110 - the database has no flag to wait on
            await asyncio.sleep(0.01)


async def test_the_runner_runs_due_jobs_and_survives_a_failing_tick(
    db: Database, jobs: DueJobs, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs.register_local("expire", record_effect)
    await add_job(db, clock, "expire", "p1")
    real_run_due = jobs.run_due
    ticks = 0

    async def flaky_run_due(limit: int = 50) -> int:
        nonlocal ticks
        ticks += 1
        if ticks == 1:
            raise OSError("database restarting")
        return await real_run_due(limit)

    monkeypatch.setattr(jobs, "run_due", flaky_run_due)
    runner = DueRunner(jobs, poll_seconds=0.01)
    runner.start()
    try:
        await wait_until(lambda: _has_effects(db, 1))
    finally:
        await runner.stop()

    assert ticks >= 2
    assert await effects(db) == ["expire:p1"]


async def test_the_runner_goes_again_at_once_after_a_full_batch(
    db: Database, jobs: DueJobs, clock: FrozenClock
) -> None:
    jobs.register_local("expire", record_effect)
    for n in range(5):
        await add_job(db, clock, "expire", f"p{n}")
    runner = DueRunner(jobs, poll_seconds=3600, batch=2)

    runner.start()
    try:
        await wait_until(lambda: _has_effects(db, 5))
    finally:
        await runner.stop()

    assert len(await effects(db)) == 5


async def _has_effects(db: Database, count: int) -> bool:
    return len(await effects(db)) >= count
