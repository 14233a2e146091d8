"""Resolving reconciliation exceptions, on SQLite and PostgreSQL: a finance or admin operator
applies the provider's status, books an adjustment against suspense, or dismisses, once, with
a note, and an audit-log entry commits with it; the ledger audit stays clean. And the
``courtyard admin wallet reconcile|reconcile-resolve`` commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from typer.testing import CliRunner

from courtyard.api import create_app
from courtyard.api.problems import status_for
from courtyard.cli.main import app as cli
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings, load_settings
from courtyard.core.ids import new_id
from courtyard.domains.wallet import ReconciliationRunView, audit_ledger
from courtyard.domains.wallet.errors import (
    InvalidResolution,
    ItemAlreadyResolved,
    NoteRequired,
    OperatorNotAllowed,
    ReconciliationItemNotFound,
    ResolutionNotApplicable,
)
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting
from courtyard.domains.wallet.providers import ProviderRequest
from courtyard.domains.wallet.reconcile import clearing_balances
from tests.integration.operator_cli_support import operator_env
from tests.integration.oversight_support import (
    items_of,
    make_operator,
    operator_actions,
    oversight_settings,
    settled_there,
    started_without_job_loop,
)
from tests.integration.test_wallet_topups import deliver, event, funded, settled, topup
from tests.integration.wallet_support import Member, balance, fund, member

DAY = dt.date(2026, 1, 1)
NOTE = "checked with the provider's support desk, ticket 4711"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oversight_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    async for application in started_without_job_loop(settings, clock):
        yield application


@pytest.fixture(autouse=True)
async def ledger_stays_sound(app: FastAPI) -> AsyncIterator[None]:
    """After every test, and so after every adjustment, the full audit finds nothing."""
    yield
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Member:
    return await member(client, "alice")


@pytest.fixture
async def fiona(app: FastAPI) -> str:
    return await make_operator(app, "fiona", "finance")


async def reconcile(app: FastAPI) -> ReconciliationRunView:
    run: ReconciliationRunView = await app.state.runtime.wallet.reconciliation.do_reconcile(DAY)
    return run


async def resolve(
    app: FastAPI, operator_id: str, run: ReconciliationRunView, item_no: int, resolution: str,
    note: str = NOTE,
) -> None:  # fmt: skip
    await app.state.runtime.wallet.resolutions.resolve_item(
        operator_id, run.run_id, item_no, resolution, note
    )


async def adjustments(app: FastAPI) -> list[tuple[str | None, str | None, dict[str, int]]]:
    """Adjustment entries: their flow and their postings by account purpose."""
    async with app.state.runtime.db.read() as session:
        entries = list(
            await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "adjustment"))
        )
        found = []
        for entry in entries:
            assert entry.category == "adjustment"
            legs = await session.execute(
                select(LedgerAccount.purpose, LedgerPosting.amount_minor)
                .join(LedgerAccount, LedgerAccount.account_id == LedgerPosting.account_id)
                .where(LedgerPosting.entry_id == entry.entry_id)
            )
            found.append((entry.flow_kind, entry.flow_id, dict(legs.all())))
        return found


async def test_applying_the_providers_status_settles_a_mismatch_once(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, fiona: str
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "succeed", "wrong_amount": True})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "review")
    run = await reconcile(app)
    assert items_of(run) == [(1, "mismatch", operation_id), (2, "balance", None)]

    item = await app.state.runtime.wallet.resolutions.resolve_item(
        fiona, run.run_id, 1, "applied_provider_status", NOTE
    )

    assert (item.resolution, item.resolved_by, item.note) == (
        "applied_provider_status",
        fiona,
        NOTE,
    )
    assert (await settled(client, alice, operation_id, "succeeded"))["failure_code"] is None
    assert await balance(client, alice, "EUR") == 1000
    target = f"reconciliation_item:{run.run_id}/1"
    action = "wallet.reconciliation.applied_provider_status"
    assert await operator_actions(app) == [(fiona, action, target, NOTE)]
    with pytest.raises(ItemAlreadyResolved) as twice:
        await resolve(app, fiona, run, 1, "dismissed")
    assert status_for(twice.value) == 409
    assert twice.value.code == "item_already_resolved"
    # The balance difference went with it: nothing is left to adjust, and a refusal leaves
    # the item open and writes no action.
    with pytest.raises(ResolutionNotApplicable, match="Nothing to adjust"):
        await resolve(app, fiona, run, 2, "adjusted")
    await resolve(app, fiona, run, 2, "dismissed")
    assert len(await operator_actions(app)) == 2
    assert await adjustments(app) == []
    assert (await reconcile(app)).items == ()


async def test_adjusting_an_operation_missing_there_books_it_against_suspense_once(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    admin = await make_operator(app, "adam", "admin")
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "pending")
    assert (await deliver(client, app, event(operation_id, "succeeded"))).status_code == 200
    run = await reconcile(app)
    assert items_of(run) == [(1, "missing_there", operation_id), (2, "balance", None)]
    with pytest.raises(ResolutionNotApplicable, match="reports it pending"):
        await resolve(app, admin, run, 1, "applied_provider_status")

    await resolve(app, admin, run, 1, "adjusted")

    assert await adjustments(app) == [
        ("operation", operation_id, {"provider_clearing": 1000, "suspense": -1000})
    ]
    assert await clearing_balances(app.state.runtime.db, "sandbox") == {
        "CNY": 0, "EUR": 0, "USD": 0
    }  # fmt: skip
    assert await balance(client, alice, "EUR") == 1000  # the user keeps it; suspense owes it
    # The next run still sees the operation missing there, but its clearing now agrees:
    # a second adjustment of the same operation finds nothing to book.
    later = await reconcile(app)
    assert items_of(later) == [(1, "missing_there", operation_id)]
    with pytest.raises(ResolutionNotApplicable, match="Nothing to adjust"):
        await resolve(app, admin, later, 1, "adjusted")
    with pytest.raises(ResolutionNotApplicable, match="Nothing to adjust"):
        await resolve(app, admin, run, 2, "adjusted")
    assert len(await adjustments(app)) == 1


async def test_adjusting_a_balance_difference_brings_clearing_to_the_providers_balance(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, fiona: str
) -> None:
    await funded(client, alice, "3.00")
    await fund(app, alice.user_id, 500, "EUR")  # booked on clearing, never at the provider
    run = await reconcile(app)
    assert items_of(run) == [(1, "balance", None)]

    await resolve(app, fiona, run, 1, "adjusted")

    flow = f"{run.run_id}/1"
    assert await adjustments(app) == [
        ("reconciliation", flow, {"provider_clearing": 500, "suspense": -500})
    ]
    assert (await clearing_balances(app.state.runtime.db, "sandbox"))["EUR"] == -300
    assert (await reconcile(app)).items == ()
    target = f"reconciliation_item:{run.run_id}/1"
    assert await operator_actions(app) == [(fiona, "wallet.reconciliation.adjusted", target, NOTE)]


async def test_a_settlement_unknown_here_is_missing_here_and_can_be_adjusted(
    app: FastAPI, fiona: str
) -> None:
    """A charge someone made at the provider with our key, for no operation of ours."""
    provider = app.state.runtime.wallet.operations.provider
    stranger = new_id()
    await provider.create_charge(ProviderRequest(stranger, 500, "EUR", "http://nowhere.test/"))
    assert await settled_there(app, stranger) == "succeeded"
    run = await reconcile(app)
    assert items_of(run) == [(1, "missing_here", stranger), (2, "balance", None)]
    with pytest.raises(ResolutionNotApplicable, match="no operation of ours"):
        await resolve(app, fiona, run, 1, "applied_provider_status")

    await resolve(app, fiona, run, 1, "adjusted")

    assert await adjustments(app) == [
        ("operation", stranger, {"provider_clearing": -500, "suspense": 500})
    ]
    assert (await reconcile(app)).counts["balance"] == 0  # clearing now mirrors the provider


async def test_a_stuck_operation_can_be_dismissed_but_has_no_final_status_to_apply(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, alice: Member, fiona: str
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "never"})
    await settled(client, alice, created.json()["operation_id"], "pending")
    clock.advance(hours=25)
    run = await reconcile(app)
    assert [kind for _, kind, _ in items_of(run)] == ["stuck"]
    with pytest.raises(ResolutionNotApplicable, match="pending"):
        await resolve(app, fiona, run, 1, "applied_provider_status")
    with pytest.raises(ResolutionNotApplicable, match="still pending"):
        await resolve(app, fiona, run, 1, "adjusted")
    await resolve(app, fiona, run, 1, "dismissed")
    view = await app.state.runtime.wallet.reconciliation.reconciliation_run(run.run_id)
    assert view is not None
    assert (view.unresolved, view.items[0].resolution) == (0, "dismissed")


async def test_a_resolution_needs_a_note_a_finance_or_admin_operator_and_an_open_item(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, fiona: str
) -> None:
    lost = {"outcome": "succeed", "drop_callbacks": True}
    operation_id = (await topup(client, alice, sandbox=lost)).json()["operation_id"]
    await settled_there(app, operation_id)
    await fund(app, alice.user_id, 500, "EUR")
    run = await reconcile(app)
    assert items_of(run) == [(1, "fixed", operation_id), (2, "balance", None)]
    support = await make_operator(app, "sam", "support", "legal_reviewer")
    refusals = [
        (NoteRequired, fiona, 2, "dismissed", ""),
        (NoteRequired, fiona, 2, "dismissed", "   "),
        (NoteRequired, fiona, 2, "dismissed", "x" * 501),
        (InvalidResolution, fiona, 2, "fixed_it", NOTE),
        (OperatorNotAllowed, support, 2, "dismissed", NOTE),
        (OperatorNotAllowed, "01940000-0000-7000-8000-000000000000", 2, "dismissed", NOTE),
        (ReconciliationItemNotFound, fiona, 3, "dismissed", NOTE),
        (ItemAlreadyResolved, fiona, 1, "dismissed", NOTE),  # fixed by the run itself
    ]
    for error, operator_id, item_no, resolution, note in refusals:
        with pytest.raises(error):
            await resolve(app, operator_id, run, item_no, resolution, note)
    assert await operator_actions(app) == []
    # Two operators at once: one resolution wins, the other is told it came second.
    admin = await make_operator(app, "adam", "admin")
    outcomes = await asyncio.gather(
        resolve(app, fiona, run, 2, "dismissed"),
        resolve(app, admin, run, 2, "dismissed", "a second look"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["ItemAlreadyResolved", "NoneType"]
    [(who, action, target, _note)] = await operator_actions(app)
    assert (action, target) == (
        "wallet.reconciliation.dismissed",
        f"reconciliation_item:{run.run_id}/2",
    )
    view = await app.state.runtime.wallet.reconciliation.reconciliation_run(run.run_id)
    assert view is not None
    assert view.items[1].resolved_by == who
    listed = await app.state.runtime.wallet.reconciliation.list_reconciliation_runs()
    assert [(r.run_id, r.unresolved, r.items) for r in listed] == [(run.run_id, 0, ())]


# --- the commands ------------------------------------------------------------------------


def prepare(database_url: str, data_dir: Path) -> str:
    """A server's state for the commands (real clock): a top-up whose callback was lost, one
    we think succeeded that the provider never settled, and two operators. Returns the day."""

    async def run() -> str:
        settings = load_settings(
            database_url=database_url, data_dir=data_dir, wallet_oversight_jobs=False
        )
        application = create_app(settings)
        await application.state.runtime.start()
        transport = httpx.ASGITransport(app=application)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                who = await member(http, "carol")
                lost = {"outcome": "succeed", "drop_callbacks": True}
                lost_id = (await topup(http, who, sandbox=lost)).json()["operation_id"]
                await settled_there(application, lost_id)
                never = await topup(http, who, sandbox={"outcome": "never"})
                never_id = never.json()["operation_id"]
                await settled(http, who, never_id, "pending")
                paid = await deliver(http, application, event(never_id, "succeeded"))
                assert paid.status_code == 200
            await make_operator(application, "fiona", "finance")
            await make_operator(application, "sam", "support")
            return str(application.state.runtime.clock.now().date())
        finally:
            await application.state.runtime.stop()

    return asyncio.run(run())


def test_the_reconcile_commands_find_fix_and_resolve(database_url: str, tmp_path: Path) -> None:
    # make_operator's password; --operator names someone else below
    runner = CliRunner(env=operator_env("fiona", "a strong operator passphrase"))
    where = ["--db", database_url, "--data-dir", str(tmp_path)]
    day = prepare(database_url, tmp_path)
    bad_day = runner.invoke(cli, ["admin", "wallet", "reconcile", "--day", "1 May", *where])
    assert bad_day.exit_code == 2

    found = runner.invoke(cli, ["admin", "wallet", "reconcile", "--day", day, "--json", *where])

    assert found.exit_code == 1, found.output  # exceptions wait for an operator
    run = json.loads(found.stdout)
    assert {k: v for k, v in run["counts"].items() if v} == {
        "lines": 1, "fixed": 1, "missing_there": 1, "balance": 1
    }  # fmt: skip
    assert [i["kind"] for i in run["items"]] == ["fixed", "missing_there", "balance"]
    resolve = ["admin", "wallet", "reconcile-resolve", run["run_id"], "2",
               "--resolution", "dismissed", "--note", NOTE, *where]  # fmt: skip
    by_support = runner.invoke(cli, [*resolve, "--operator", "sam"])
    assert by_support.exit_code == 3  # support may not resolve: refused before anything runs
    assert "refused" in by_support.output
    by_nobody = runner.invoke(cli, [*resolve, "--operator", "nobody"])
    assert (by_nobody.exit_code, "invalid_credentials" in by_nobody.output) == (1, True)
    no_note = runner.invoke(cli, [*resolve[:7], *where, "--operator", "fiona"])
    assert no_note.exit_code == 2  # --note is required
    resolved = runner.invoke(cli, [*resolve, "--operator", "fiona", "--json"])
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(resolved.stdout)["resolution"] == "dismissed"
    again = runner.invoke(cli, [*resolve, "--operator", "fiona"])
    assert (again.exit_code, "item_already_resolved" in again.output) == (1, True)
    plain = runner.invoke(cli, ["admin", "wallet", "reconcile", "--day", day, *where])
    assert "missing_there" in plain.output
