"""The console's wallet pages over HTTP: the ledger browser (search, account with cached vs
derived balance and paged postings, entry, flow), the user wallet summary, freezing (the
ledger then refuses debits with ``account_frozen``), due jobs, the operator actions trail
(written for every view of a user's money and every action; append-only in the database),
the audit banner, and ``courtyard admin wallet freeze|unfreeze``."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.core.clock import FrozenClock
from courtyard.domains.wallet.oversight_models import WalletAuditRun
from tests.integration.admin_support import (
    OperatorFactory,
    World,
    actions,
    make_world,
    operator_factory,
    top_up,
)
from tests.integration.operator_cli_support import CLI_OPERATOR, add_operator, operator_env
from tests.integration.wallet_support import balance, transfer

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
POSTING_ROW = re.compile(r'<tr data-entry-id="([^"]+)">')
WRONG_PIN = "135790"


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


@pytest.fixture
async def world(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> World:
    return await make_world(app, client, clock)


# --- ledger browser ---------------------------------------------------------------------


async def test_search_finds_an_account_by_username_account_id_entry_id_and_flow_id(
    world: World, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")

    async def search(query: str) -> str:
        found = await fred.http.get("/admin/ledger", params={"q": query})
        assert found.status_code == 200
        return found.text

    row = f'data-account-id="{world.account_id}"'
    assert row in await search("Alice")
    assert row in await search(world.account_id)
    assert f'href="/admin/ledger/entries/{world.entry_id}"' in await search(world.entry_id)
    flow = f'href="/admin/ledger/flows/transfer/{world.transfer_id}"'
    assert flow in await search(world.transfer_id)
    assert 'id="no-results"' in await search("nobody-at-all")


async def test_the_account_page_shows_cached_equal_to_derived_and_postings_newest_first(
    app: FastAPI, world: World, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")
    page = (await fred.http.get(f"/admin/ledger/accounts/{world.account_id}")).text
    assert 'id="account-owner">user · alice' in page
    assert 'id="cached-balance"><span class="money">90.00 CNY' in page
    assert 'id="derived-balance"><span class="money">90.00 CNY' in page
    assert "yes: cached = derived" in page
    entries = POSTING_ROW.findall(page)
    assert len(entries) == 2
    assert entries[1] == world.entry_id  # the top-up, below the newer transfer
    assert page.index("transfer_send") < page.index("<td>topup</td>")

    # A corrupted cache (as a bad restore could leave) is shown, not hidden.
    async with app.state.runtime.db.transaction() as tx:
        await tx.session.execute(
            text("UPDATE ledger_accounts SET balance_minor = 5000 WHERE account_id = :a"),
            {"a": world.account_id},
        )
    page = (await fred.http.get(f"/admin/ledger/accounts/{world.account_id}")).text
    assert 'id="cached-balance"><span class="money">50.00 CNY' in page
    assert "NO: cached ≠ derived" in page


async def test_postings_are_paged_50_at_a_time_without_gaps_or_repeats(
    app: FastAPI, world: World, operators: OperatorFactory
) -> None:
    for _ in range(55):
        await top_up(app, world.alice.user_id, 1)
    fred = await operators("fred", "finance")
    first = await fred.http.get(f"/admin/ledger/accounts/{world.account_id}")
    older = re.search(r'id="older-postings" href="([^"]+)"', first.text)
    assert older is not None
    second = await fred.http.get(older.group(1).replace("&amp;", "&"))
    page_one, page_two = POSTING_ROW.findall(first.text), POSTING_ROW.findall(second.text)
    assert (len(page_one), len(page_two)) == (50, 7)
    assert 'id="older-postings"' not in second.text
    assert set(page_one).isdisjoint(page_two)
    assert page_two[-1] == world.entry_id  # the oldest posting comes last


async def test_the_entry_and_flow_pages_show_postings_kind_flow_initiator_and_state(
    world: World, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")
    entry = (await fred.http.get(f"/admin/ledger/entries/{world.entry_id}")).text
    assert 'id="entry-kind">topup<' in entry
    assert 'id="entry-initiator"><code>test</code>' in entry
    assert "-100.00 CNY" in entry
    assert "system · provider_clearing (sandbox)" in entry

    flow = (await fred.http.get(f"/admin/ledger/flows/transfer/{world.transfer_id}")).text
    assert 'id="flow-state"><span class="status status-pending">pending<' in flow
    assert "<dt>Amount</dt><dd>10.00 CNY</dd>" in flow
    assert "transfer_send" in flow
    assert f"<code>user:{world.alice.user_id}</code>" in flow  # the initiator

    missing = await fred.http.get("/admin/ledger/flows/transfer/no-such-transfer")
    assert missing.status_code == 404
    assert (await fred.http.get("/admin/ledger/accounts/no-such-account")).status_code == 404


# --- user wallet summary ----------------------------------------------------------------


async def test_the_user_summary_shows_balances_pin_lock_and_open_flows_but_no_counterparty(
    client: httpx.AsyncClient, world: World, operators: OperatorFactory
) -> None:
    for _ in range(5):  # the fifth wrong PIN locks payments for 15 minutes
        await transfer(client, world.alice, world.bob, "1.00", pin=WRONG_PIN)
    sam = await operators("sam", "support")
    alice = await sam.http.get("/admin/wallet/users", params={"username": "alice"})
    assert alice.status_code == 200
    assert '<span class="money">90.00 CNY</span>' in alice.text
    assert 'id="pin-locked"><span class="bad">until' in alice.text
    assert "<dt>Transfers sent, not yet accepted</dt><dd>1</dd>" in alice.text
    assert "bob" not in alice.text.lower()
    assert world.bob.user_id not in alice.text
    assert "/admin/ledger/accounts/" not in alice.text  # support does not browse the ledger
    assert 'action="/admin/wallet/accounts/' not in alice.text  # nor freeze
    bob = await sam.http.get("/admin/wallet/users", params={"username": "bob"})
    assert "<dt>Transfers received, not yet accepted</dt><dd>1</dd>" in bob.text
    nobody = await sam.http.get("/admin/wallet/users", params={"username": "nobody"})
    assert nobody.status_code == 404


# --- freezing ---------------------------------------------------------------------------


async def test_freezing_refuses_debits_with_account_frozen_and_unfreezing_lets_them_through(
    app: FastAPI, client: httpx.AsyncClient, world: World, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")
    account = f"/admin/wallet/accounts/{world.account_id}"
    back = "/admin/wallet/users?username=alice"
    frozen = await fred.post(f"{account}/freeze", note="Card fraud report #42", back=back)
    assert (frozen.status_code, frozen.headers["location"]) == (303, back)

    refused = await transfer(client, world.alice, world.bob, "5.00")
    assert refused.status_code == 409
    assert refused.json()["code"] == "account_frozen"
    await top_up(app, world.alice.user_id, 1_00)  # money still comes in
    assert await balance(client, world.alice) == 91_00

    again = await fred.post(f"{account}/freeze", note="twice")
    assert again.status_code == 409
    no_note = await fred.post(f"{account}/unfreeze", note="   ")
    assert no_note.status_code == 400
    assert "note" in no_note.text
    escrow = await app.state.runtime.wallet.accounts.existing_system("transfer_escrow", "CNY")
    system = await fred.post(f"/admin/wallet/accounts/{escrow.account_id}/freeze", note="x")
    assert system.status_code == 400

    thawed = await fred.post(f"{account}/unfreeze", note="Cleared by the bank")
    assert (thawed.status_code, thawed.headers["location"]) == (303, f"/admin/ledger{account[13:]}")
    assert (await transfer(client, world.alice, world.bob, "5.00")).status_code == 201
    changes = [(a.action, a.note) for a in await actions(app, target=f"account:{world.account_id}")]
    assert [c for c in changes if c[0] != "wallet.account.view"] == [
        ("wallet.account.unfreeze", "Cleared by the bank"),
        ("wallet.account.freeze", "Card fraud report #42"),
    ]


# --- operator actions -------------------------------------------------------------------


async def test_every_view_of_a_users_money_is_recorded_and_refused_views_are_not(
    app: FastAPI, world: World, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")
    sam = await operators("sam", "support")
    escrow = await app.state.runtime.wallet.accounts.existing_system("transfer_escrow", "CNY")
    for http, path in (
        (sam.http, "/admin/wallet/users?username=alice"),
        (fred.http, "/admin/ledger?q=alice"),
        (fred.http, f"/admin/ledger/accounts/{world.account_id}"),
        (fred.http, f"/admin/ledger/entries/{world.entry_id}"),
        (fred.http, f"/admin/ledger/flows/transfer/{world.transfer_id}"),
        (fred.http, f"/admin/ledger/accounts/{escrow.account_id}"),  # no one's money
        (fred.http, "/admin/ledger/accounts/no-such-account"),  # refused: nothing seen
        (sam.http, "/admin/jobs"),  # refused: not sam's page
    ):
        await http.get(path)
    trail = [
        (a.operator, a.action, a.target)
        for a in reversed(await actions(app))
        if not a.action.startswith("console.")
    ]
    alice = world.alice.user_id
    assert trail == [
        ("sam", "wallet.user.view", f"user:{alice}"),
        ("fred", "wallet.ledger.search", f"user:{alice}"),
        ("fred", "wallet.account.view", f"account:{world.account_id}"),
        ("fred", "wallet.entry.view", f"entry:{world.entry_id}"),
        ("fred", "wallet.flow.view", f"flow:transfer:{world.transfer_id}"),
    ]


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET note = 'rewritten'", "DELETE FROM audit_log"],
)
async def test_recorded_actions_cannot_be_updated_or_deleted(
    app: FastAPI, world: World, operators: OperatorFactory, statement: str
) -> None:
    fred = await operators("fred", "finance")
    await fred.post(f"/admin/wallet/accounts/{world.account_id}/freeze", note="original")
    before = await actions(app)
    with pytest.raises(DBAPIError, match="append-only"):
        async with app.state.runtime.db.transaction() as tx:
            await tx.session.execute(text(statement))
    assert await actions(app) == before


async def test_the_actions_page_lists_the_latest_and_filters_by_operator_and_target(
    world: World, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    fred = await operators("fred", "finance")
    await fred.post(f"/admin/wallet/accounts/{world.account_id}/freeze", note="by fred")
    await olga.http.get("/admin/wallet/users?username=bob")

    def rows(page: httpx.Response) -> list[str]:
        return re.findall(r'<tr data-action="([^"]+)">', page.text)

    everything = await olga.http.get("/admin/actions")
    assert rows(everything)[:3] == ["wallet.user.view", "wallet.account.freeze", "console.sign_in"]
    by_fred = await olga.http.get("/admin/actions", params={"operator": "fred"})
    assert set(rows(by_fred)) == {"wallet.account.freeze", "console.sign_in"}
    accounts = await olga.http.get("/admin/actions", params={"target": "account:"})
    assert rows(accounts) == ["wallet.account.freeze"]
    assert "by fred" in accounts.text


# --- due jobs and the audit banner ------------------------------------------------------


async def test_finance_sees_failed_jobs_and_an_admin_puts_one_back_to_pending(
    app: FastAPI, world: World, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")
    seen = await fred.http.get("/admin/jobs")
    assert f'<tr data-job-id="{world.job_id}">' in seen.text
    assert "<code>unknown_kind</code>" in seen.text
    assert f"transfer.refund:{world.transfer_id}" in seen.text  # pending
    assert ">Retry</button>" not in seen.text

    olga = await operators("olga", "admin")
    assert ">Retry</button>" in (await olga.http.get("/admin/jobs")).text
    retried = await olga.post("/admin/jobs/retry", job_id=world.job_id)
    assert (retried.status_code, retried.headers["location"]) == (303, "/admin/jobs")
    job = await app.state.runtime.due.get_job(world.job_id)
    assert (job.state, job.attempts) == ("pending", 0)
    assert (await olga.post("/admin/jobs/retry", job_id=world.job_id)).status_code == 404
    [record] = await actions(app, target=f"job:{world.job_id}")
    assert (record.operator, record.action) == ("olga", "jobs.retry")


async def add_audit_run(app: FastAPI, run_id: str, minute: int, ok: bool | None) -> None:
    """A row as the audit job writes it (that job is built elsewhere; this test needs only
    its outcome)."""
    started = dt.datetime(2026, 2, 1, 0, minute, tzinfo=dt.UTC)
    async with app.state.runtime.db.transaction() as tx:
        await tx.session.execute(
            insert(WalletAuditRun).values(
                run_id=run_id,
                scope="incremental",
                started_at=started,
                finished_at=None if ok is None else started + dt.timedelta(seconds=30),
                watermark=None,
                ok=ok,
                findings={},
            )
        )


async def test_home_warns_finance_and_admins_while_the_latest_finished_audit_failed(
    app: FastAPI, operators: OperatorFactory
) -> None:
    fred = await operators("fred", "finance")
    sam = await operators("sam", "support")
    assert 'id="audit-alert"' not in (await fred.http.get("/admin/")).text
    await add_audit_run(app, "run-1", 0, True)
    await add_audit_run(app, "run-2", 10, False)
    await add_audit_run(app, "run-3", 20, None)  # under way: no verdict yet
    warned = (await fred.http.get("/admin/")).text
    assert 'id="audit-alert"' in warned
    assert "run-2" in warned
    assert 'id="audit-alert"' not in (await sam.http.get("/admin/")).text
    await add_audit_run(app, "run-4", 30, True)
    assert 'id="audit-alert"' not in (await fred.http.get("/admin/")).text


# --- the command line -------------------------------------------------------------------


async def courtyard(*args: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(cli, ["admin", "wallet", *args], env=operator_env())

    return await asyncio.to_thread(invoke)


async def test_freeze_and_unfreeze_from_the_command_line(
    app: FastAPI, client: httpx.AsyncClient, world: World, database_url: str
) -> None:
    await add_operator(database_url, CLI_OPERATOR, "finance")
    frozen = await courtyard("freeze", "alice", "cny", "--note", "Chargeback", "--db", database_url)
    assert frozen.exit_code == 0, frozen.output
    assert f"CNY account {world.account_id} of alice is now frozen" in frozen.output
    refused = await transfer(client, world.alice, world.bob, "1.00")
    assert refused.json()["code"] == "account_frozen"

    for args, message in (
        (["unfreeze", "alice", "CNY", "--note", " "], "note_required"),
        (["freeze", "alice", "CNY", "--note", "again"], "account_status_conflict"),
        (["freeze", "nobody", "CNY", "--note", "x"], "user_not_found"),
        (["freeze", "bob", "CNY", "--note", "x"], "ledger_account_not_found"),
    ):
        refusal = await courtyard(*args, "--db", database_url)
        assert refusal.exit_code == 1, refusal.output
        assert message in refusal.output
    assert (await courtyard("freeze", "alice", "CNY", "--db", database_url)).exit_code == 2

    thawed = await courtyard("unfreeze", "alice", "CNY", "--note", "Resolved", "--db", database_url)
    assert thawed.exit_code == 0, thawed.output
    assert (await transfer(client, world.alice, world.bob, "1.00")).status_code == 201
    recorded = [(a.operator, a.action, a.note) for a in await actions(app)]
    assert recorded == [
        (CLI_OPERATOR, "wallet.account.unfreeze", "Resolved"),
        (CLI_OPERATOR, "wallet.account.freeze", "Chargeback"),
    ]
