"""The recorded ledger audit on SQLite and PostgreSQL: the 10-minute ``wallet.audit`` job runs
once per slot however many nodes poll and schedules its successor; an incremental run finds
a corruption written in its window and not an older one, which a full run finds; findings
stay until they are gone and show on the metric; the CLI records its runs too."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select, text
from typer.testing import CliRunner

from courtyard.cli.main import app as cli
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings
from courtyard.db import Database
from courtyard.domains.jobs import DueJobs
from courtyard.domains.wallet import AuditRuns, AuditRunView
from courtyard.domains.wallet.audit_runs import AUDIT_JOB, audit_job_id
from courtyard.domains.wallet.models import LedgerPosting
from courtyard.domains.wallet.oversight_models import WalletAuditRun
from tests.integration.operator_cli_support import cli_operator
from tests.integration.oversight_support import oversight_settings, started_without_job_loop
from tests.integration.wallet_support import Member, fund, member

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the frozen clock's start, a slot boundary


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oversight_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    async for application in started_without_job_loop(settings, clock):
        yield application


@pytest.fixture
async def second_node(
    app: FastAPI, database_url: str, clock: FrozenClock
) -> AsyncIterator[tuple[DueJobs, AuditRuns]]:
    """Another node's job runner and audit, on connections of their own."""
    db = Database(database_url)
    audit = AuditRuns(db, clock)
    runner = DueJobs(db, clock)
    runner.register_external(AUDIT_JOB, audit.run_job)
    try:
        yield runner, audit
    finally:
        await db.dispose()


async def recorded(app: FastAPI) -> list[WalletAuditRun]:
    async with app.state.runtime.db.read() as session:
        rows = await session.scalars(select(WalletAuditRun).order_by(WalletAuditRun.started_at))
        return list(rows)


async def account_of(app: FastAPI, user_id: str) -> str:
    account = await app.state.runtime.wallet.accounts.find_user(user_id, "CNY")
    assert account is not None
    return str(account.account_id)


def subjects(view: AuditRunView) -> set[tuple[str, str]]:
    return {(f["check"], f["subject"]) for f in view.findings}


def gauge(app: FastAPI) -> float | None:
    registry = app.state.runtime.metrics.registry
    value: float | None = registry.get_sample_value("courtyard_wallet_audit_findings")
    return value


async def test_start_up_schedules_the_current_slot_once(app: FastAPI) -> None:
    wallet = app.state.runtime.wallet
    await wallet.audit_runs.start(schedule_job=True)  # a second node starting
    pending = [j for j in await app.state.runtime.due.pending() if j.kind == AUDIT_JOB]
    assert [(j.job_id, j.due_at) for j in pending] == [(audit_job_id(T0), T0)]
    assert audit_job_id(T0) == "wallet.audit:2026-01-01T00:00Z"


async def test_the_job_runs_once_per_slot_with_two_runners_and_schedules_its_successor(
    app: FastAPI, clock: FrozenClock, second_node: tuple[DueJobs, AuditRuns]
) -> None:
    runners = [app.state.runtime.due, second_node[0]]
    for slot in range(3):
        await asyncio.gather(*(runner.run_due() for runner in runners))
        await asyncio.gather(*(runner.run_due() for runner in runners))  # nothing more due
        assert len(await recorded(app)) == slot + 1
        this = await app.state.runtime.due.get_job(
            audit_job_id(T0 + slot * dt.timedelta(minutes=10))
        )
        assert this is not None
        assert (this.state, this.outcome) == ("done", "applied")
        after = T0 + (slot + 1) * dt.timedelta(minutes=10)
        successor = await app.state.runtime.due.get_job(audit_job_id(after))
        assert successor is not None
        assert (successor.state, successor.due_at) == ("pending", after)
        clock.advance(minutes=10)
    runs = await recorded(app)
    assert {r.scope for r in runs} == {"incremental"}
    assert all(r.ok for r in runs)
    # Each run resumes at the previous watermark, ten minutes behind its own start.
    assert [r.watermark for r in runs] == [T0 + dt.timedelta(minutes=m) for m in (-10, 0, 10)]


async def test_a_late_node_runs_one_catch_up_audit_not_one_per_missed_slot(
    app: FastAPI, clock: FrozenClock
) -> None:
    clock.advance(hours=1, minutes=3)
    await app.state.runtime.due.run_due()
    await app.state.runtime.due.run_due()
    assert len(await recorded(app)) == 1
    nxt = T0 + dt.timedelta(hours=1, minutes=10)
    pending = [j.job_id for j in await app.state.runtime.due.pending() if j.kind == AUDIT_JOB]
    assert pending == [audit_job_id(nxt)]


async def plant_forged_postings(app: FastAPI, account_id: str, at: dt.datetime) -> None:
    """Two postings that sum to zero under an entry that does not exist, written behind the
    ledger's back (a corrupted database): the alice account's postings no longer match its
    cached balance."""
    clearing = await app.state.runtime.wallet.accounts.ensure_system(
        "provider_clearing", "CNY", "sandbox"
    )
    rows = [
        {"account_id": account_id, "entry_id": "forged-entry", "leg": 0, "currency": "CNY",
         "amount_minor": 7, "balance_after": None, "created_at": at},
        {"account_id": clearing.account_id, "entry_id": "forged-entry", "leg": 1,
         "currency": "CNY", "amount_minor": -7, "balance_after": None, "created_at": at},
    ]  # fmt: skip
    async with app.state.runtime.db.transaction() as tx:
        await tx.session.execute(insert(LedgerPosting), rows)


async def corrupt_cached_balance(app: FastAPI, account_id: str) -> None:
    async with app.state.runtime.db.transaction() as tx:
        await tx.session.execute(
            text("UPDATE ledger_accounts SET balance_minor = balance_minor + 5 "
                 "WHERE account_id = :a"),
            {"a": account_id},
        )  # fmt: skip


async def test_an_incremental_run_finds_what_was_written_in_its_window_and_a_full_run_the_rest(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice: Member = await member(client, "alice")
    bob: Member = await member(client, "bob")
    await fund(app, alice.user_id, 100_00)
    await fund(app, bob.user_id, 100_00)
    audits = app.state.runtime.wallet.audit_runs
    clock.advance(minutes=11)
    await app.state.runtime.due.run_due()  # the 00:00 job: everything before 00:01, clean
    first = await audits.latest_audit_run()
    assert first is not None
    assert (first.ok, first.watermark, first.checked["postings"]) == (
        True,
        T0 + dt.timedelta(minutes=1),
        4,
    )
    assert gauge(app) == 0

    # Bob's cached balance is changed; nothing is written to bob's account in the next window.
    await corrupt_cached_balance(app, await account_of(app, bob.user_id))
    # Forged postings on alice's account, dated inside the next window [00:01, 00:10).
    alice_account = await account_of(app, alice.user_id)
    await plant_forged_postings(app, alice_account, T0 + dt.timedelta(minutes=5))
    clock.advance(minutes=9)  # 00:20: the job the first run scheduled checks [00:01, 00:10)
    await app.state.runtime.due.run_due()
    incremental = await audits.latest_audit_run()
    assert incremental is not None
    assert incremental.scope == "incremental"
    assert incremental.ok is False
    assert subjects(incremental) == {
        ("posting_has_entry", "forged-entry"),
        ("cached_equals_derived", alice_account),
    }
    assert gauge(app) == 2

    full = await audits.do_audit(full=True)
    bob_account = await account_of(app, bob.user_id)
    assert subjects(full) == subjects(incremental) | {("cached_equals_derived", bob_account)}
    assert gauge(app) == 3

    # Findings stay until they are gone: the next incremental run re-checks their subjects
    # (bob's too, found by the full run), though nothing new was written.
    clock.advance(minutes=10)
    await app.state.runtime.due.run_due()
    later = await audits.latest_audit_run()
    assert later is not None
    assert later.run_id != full.run_id
    assert subjects(later) == subjects(full)
    assert [r.run_id for r in await audits.list_audit_runs(2)] == [later.run_id, full.run_id]
    stored = (await recorded(app))[-1].findings
    assert stored["count"] == 3
    assert all(set(item) <= {"check", "subject", "cached", "derived", "newest_balance_after"}
               for item in stored["items"])  # fmt: skip


async def test_a_clean_incremental_run_after_new_money_checks_only_the_new_postings(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice = await member(client, "alice")
    await fund(app, alice.user_id, 5_00)
    clock.advance(minutes=11)
    await app.state.runtime.due.run_due()
    await fund(app, alice.user_id, 5_00)  # at 00:11, in the window of the 00:20 slot's job
    clock.advance(minutes=19)
    await app.state.runtime.due.run_due()
    runs = await app.state.runtime.wallet.audit_runs.list_audit_runs()
    assert [(r.ok, r.checked["postings"], r.checked["entries"]) for r in runs] == [
        (True, 2, 1),
        (True, 2, 1),
    ]


def test_the_audit_command_records_incremental_and_full_runs(database_url: str) -> None:
    runner = CliRunner(env=asyncio.run(cli_operator(database_url)))
    first = runner.invoke(cli, ["admin", "wallet", "audit", "--db", database_url])
    assert first.exit_code == 0, first.output
    assert "incremental audit" in first.output
    full = runner.invoke(
        cli, ["admin", "wallet", "audit", "--full", "--json", "--db", database_url]
    )
    assert full.exit_code == 0, full.output
    assert '"scope": "full"' in full.output

    async def scopes() -> list[str]:
        db = Database(database_url)
        try:
            async with db.read() as session:
                rows = await session.scalars(
                    select(WalletAuditRun.scope).order_by(WalletAuditRun.started_at)
                )
                count = await session.scalar(select(func.count()).select_from(WalletAuditRun))
                assert count == 2
                return list(rows)
        finally:
            await db.dispose()

    assert asyncio.run(scopes()) == ["incremental", "full"]
