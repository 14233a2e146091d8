"""Daily reconciliation with the in-process sandbox provider, on SQLite and PostgreSQL: a lost
callback is applied by the run (and recorded as ``fixed``); succeeded here but absent there,
a contradicting report, an operation stuck for a day and a clearing balance that differs from
the provider's are exceptions; the ``reconcile:<provider>:<day>`` job runs once per day
across two runners and schedules the next day's."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings
from courtyard.db import Database
from courtyard.domains.jobs import DueJobs
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.audit_runs import AUDIT_JOB
from courtyard.domains.wallet.oversight_models import ReconciliationRun
from courtyard.domains.wallet.reconcile import RECONCILE_JOB
from tests.integration.oversight_support import (
    items_of,
    oversight_settings,
    settled_there,
    started_without_job_loop,
)
from tests.integration.test_wallet_topups import deliver, event, funded, settled, topup, withdraw
from tests.integration.wallet_support import Member, balance, fund, member

DAY = dt.date(2026, 1, 1)  # the frozen clock's day


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oversight_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    async for application in started_without_job_loop(settings, clock):
        yield application


@pytest.fixture(autouse=True)
async def ledger_stays_sound(app: FastAPI) -> AsyncIterator[None]:
    yield
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Member:
    return await member(client, "alice")


async def test_lost_callbacks_are_applied_by_the_run_and_the_balance_is_right(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    await funded(client, alice, "10.00")
    lost = {"outcome": "succeed", "drop_callbacks": True}
    topup_id = (await topup(client, alice, "10.00", sandbox=lost)).json()["operation_id"]
    payout_id = (await withdraw(client, alice, "4.00", sandbox=lost)).json()["operation_id"]
    assert await settled_there(app, topup_id) == await settled_there(app, payout_id) == "succeeded"
    await settled(client, alice, payout_id, "submitted")
    assert (await settled(client, alice, topup_id, "pending"))["state"] == "pending"
    assert await balance(client, alice, "EUR") == 600  # the withdrawal is held

    run = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)

    assert (run.provider, run.day, run.state, run.unresolved) == ("sandbox", DAY, "finished", 0)
    assert run.counts == {"lines": 3, "matched": 1, "fixed": 2, "missing_there": 0,
                          "missing_here": 0, "mismatch": 0, "stuck": 0, "balance": 0}  # fmt: skip
    assert items_of(run) == [(1, "fixed", topup_id), (2, "fixed", payout_id)]
    assert {i.resolution for i in run.items} == {"applied_provider_status"}
    assert run.items[0].detail["from"] == "pending"
    assert run.items[1].detail == {**run.items[1].detail, "from": "submitted", "to": "succeeded"}
    assert (await settled(client, alice, topup_id, "succeeded"))["state"] == "succeeded"
    assert await balance(client, alice, "EUR") == 1000 + 1000 - 400
    again = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)
    assert (again.counts["matched"], again.counts["fixed"], again.items) == (3, 0, ())


async def test_succeeded_here_but_absent_there_is_missing_there_and_a_balance_difference(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "pending")
    # A signed "succeeded" the provider's own books do not bear out.
    assert (await deliver(client, app, event(operation_id, "succeeded"))).status_code == 200
    assert await balance(client, alice, "EUR") == 1000

    run = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)

    assert items_of(run) == [(1, "missing_there", operation_id), (2, "balance", None)]
    missing, difference = run.items
    assert missing.detail == {"kind": "topup", "amount_minor": 1000, "currency": "EUR",
                              "provider_status": "pending"}  # fmt: skip
    assert difference.detail == {"currency": "EUR", "clearing_minor": -1000,
                                 "provider_minor": 0, "difference_minor": -1000}  # fmt: skip
    assert (run.counts["missing_there"], run.counts["balance"], run.unresolved) == (1, 1, 2)


async def test_a_report_contradicting_the_operation_is_a_mismatch(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "succeed", "wrong_amount": True})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "review")  # the callback said 10.01

    run = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)

    assert items_of(run) == [(1, "mismatch", operation_id), (2, "balance", None)]
    assert run.items[0].detail["here"]["state"] == "review"
    assert run.items[0].detail["there"] == {"status": "succeeded", "kind": "charge",
                                            "amount_minor": 1000, "currency": "EUR"}  # fmt: skip
    assert run.items[1].detail["difference_minor"] == 1000
    assert await balance(client, alice, "EUR") == 0  # nothing moves until an operator decides


async def test_a_report_of_another_amount_is_a_mismatch_and_moves_no_money(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    lost = {"outcome": "succeed", "drop_callbacks": True}
    operation_id = (await topup(client, alice, "10.00", sandbox=lost)).json()["operation_id"]
    assert await settled_there(app, operation_id) == "succeeded"
    # The provider's books say 9.99 (its database, changed behind its back).
    sandbox_db = app.state.runtime.settings.data_dir / "sandbox-provider.db"
    with sqlite3.connect(sandbox_db) as conn:
        conn.execute(
            "UPDATE operations SET amount_minor = 999 WHERE operation_id = ?", (operation_id,)
        )

    run = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)

    assert items_of(run) == [(1, "mismatch", operation_id), (2, "balance", None)]
    assert run.items[0].detail["there"]["amount_minor"] == 999
    # As a callback with another amount would: review, and no money.
    assert run.items[0].detail["here"] == {"state": "review", "kind": "topup",
                                           "amount_minor": 1000, "currency": "EUR"}  # fmt: skip
    assert (await settled(client, alice, operation_id, "review"))["state"] == "review"
    assert await balance(client, alice, "EUR") == 0


async def test_an_operation_open_for_more_than_a_day_is_stuck(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "pending")
    early = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)
    assert early.items == ()
    clock.advance(hours=24, seconds=1)

    run = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)

    assert items_of(run) == [(1, "stuck", operation_id)]
    assert run.items[0].detail == {
        "state": "pending",
        "kind": "topup",
        "amount_minor": 1000,
        "currency": "EUR",
        "created_at": "2026-01-01T00:00:00Z",
    }


async def test_a_clearing_balance_unlike_the_providers_is_a_balance_exception(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    await funded(client, alice, "3.00")  # through the provider: agrees
    clean = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)
    assert (clean.counts["matched"], clean.items) == (1, ())
    await fund(app, alice.user_id, 500, "EUR")  # booked on clearing, never at the provider

    run = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)

    assert items_of(run) == [(1, "balance", None)]
    assert run.items[0].detail == {"currency": "EUR", "clearing_minor": -800,
                                   "provider_minor": 300, "difference_minor": -500}  # fmt: skip


async def test_the_daily_job_runs_once_per_day_across_two_runners(
    app: FastAPI, clock: FrozenClock, database_url: str
) -> None:
    wallet = app.state.runtime.wallet
    second_db = Database(database_url)
    runners = [app.state.runtime.due, DueJobs(second_db, clock)]
    runners[1].register_external(RECONCILE_JOB, wallet.reconciliation.run_job)
    runners[1].register_external(AUDIT_JOB, wallet.audit_runs.run_job)
    first = await app.state.runtime.due.get_job("reconcile:sandbox:2025-12-31")
    assert first is not None
    assert (first.state, first.due_at) == ("pending", dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC))
    try:
        clock.advance(hours=1, minutes=59)  # 01:59: not due yet
        await asyncio.gather(*(runner.run_due() for runner in runners))
        assert await runs(app) == []
        clock.advance(minutes=1)  # 02:00 on 1 January: the run for 31 December
        await both_run_due_twice(runners)
        await check_day_done(app, dt.date(2025, 12, 31))
        clock.advance(days=1)  # 02:00 on 2 January: the run for 1 January
        await both_run_due_twice(runners)
        await check_day_done(app, DAY)
    finally:
        await second_db.dispose()
    assert await runs(app) == [(dt.date(2025, 12, 31), "finished"), (DAY, "finished")]


async def runs(app: FastAPI) -> list[tuple[dt.date, str]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.execute(
            select(ReconciliationRun.day, ReconciliationRun.state).order_by(
                ReconciliationRun.started_at
            )
        )
        return [(day, state) for day, state in rows]


async def both_run_due_twice(runners: list[DueJobs]) -> None:
    for _ in range(2):
        await asyncio.gather(*(runner.run_due() for runner in runners))


async def check_day_done(app: FastAPI, day: dt.date) -> None:
    """The day's job ran (applied) and scheduled the next day's for 02:00 the day after."""
    job = await app.state.runtime.due.get_job(f"reconcile:sandbox:{day}")
    assert job is not None
    assert (job.state, job.outcome) == ("done", "applied")
    following = day + dt.timedelta(days=1)
    successor = await app.state.runtime.due.get_job(f"reconcile:sandbox:{following}")
    assert successor is not None
    due = dt.datetime.combine(following + dt.timedelta(days=1), dt.time(2), dt.UTC)
    assert (successor.state, successor.due_at) == ("pending", due)
