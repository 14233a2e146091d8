"""The console's oversight pages over HTTP, on SQLite and PostgreSQL: reconciling a day with
the in-process sandbox provider and resolving its exceptions once, with a note; the recorded
ledger audits and a full audit on demand; merchants and billers registered and switched off
through the console (payers then meet ``merchant_unavailable``, and the biller leaves the
payers' list); payments and bills on the flow page. Every change is an operator action."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings
from tests.integration.admin_support import Operator, OperatorFactory, actions, operator_factory
from tests.integration.bill_support import POWER_METER, pay_bill, register_biller
from tests.integration.merchant_support import make_code, pay, refund, register_merchant
from tests.integration.operator_cli_support import operator_env
from tests.integration.oversight_support import oversight_settings, started_without_job_loop
from tests.integration.test_wallet_topups import deliver, event, settled, topup
from tests.integration.wallet_support import Member, fund, member

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
DAY = "2026-01-01"  # the frozen clock's day
RUNS = "/admin/wallet/reconciliation/runs"
NOTE = "Provider support ticket 7781: the charge never reached them; customer refunded"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return oversight_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    async for application in started_without_job_loop(settings, clock):
        yield application


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Member:
    return await member(client, "alice")


@pytest.fixture
async def fred(operators: OperatorFactory) -> Operator:
    return await operators("fred", "finance")


def item_row(page: httpx.Response, item_no: int) -> str:
    found = re.search(rf'<tr id="item-{item_no}".*?</tr>', page.text, re.S)
    assert found is not None, page.text
    return found.group(0)


async def reconciled_with_exceptions(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, fred: Operator
) -> tuple[str, str]:
    """A top-up the provider never settled but a signed callback called succeeded, then the
    day reconciled through the console: item 1 ``missing_there``, item 2 ``balance``.
    Returns the run's and the operation's ids."""
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id: str = created.json()["operation_id"]
    await settled(client, alice, operation_id, "pending")
    assert (await deliver(client, app, event(operation_id, "succeeded"))).status_code == 200
    answer = await fred.post(RUNS, day=DAY)
    assert answer.status_code == 303, answer.text
    run_id = answer.headers["location"].removeprefix(RUNS + "/")
    return run_id, operation_id


# --- reconciliation ---------------------------------------------------------------------


async def test_a_day_reconciled_through_the_page_is_listed_with_its_exceptions(
    app: FastAPI, client: httpx.AsyncClient, alice: Member, fred: Operator
) -> None:
    run_id, operation_id = await reconciled_with_exceptions(client, app, alice, fred)

    listed = await fred.http.get("/admin/wallet/reconciliation")
    row = re.search(rf'<tr data-run-id="{run_id}">.*?</tr>', listed.text, re.S)
    assert row is not None
    assert f"<td>sandbox</td><td>{DAY}</td>" in row.group(0)
    assert "missing_there 1 · balance 1" in row.group(0)
    assert '<span class="bad">2</span>' in row.group(0)  # unresolved

    page = await fred.http.get(f"{RUNS}/{run_id}")
    missing, balance = item_row(page, 1), item_row(page, 2)
    assert 'data-kind="missing_there" data-resolved="no"' in missing
    flow = f"/admin/ledger/flows/operation/{operation_id}"
    assert f'href="{flow}"' in missing
    assert '<span class="muted">provider_status</span> pending' in missing
    assert 'data-kind="balance"' in balance
    assert '<span class="muted">difference_minor</span> -1000' in balance
    assert "topup through sandbox" in (await fred.http.get(flow)).text
    [record] = await actions(app, target=f"reconciliation_run:{run_id}")
    assert (record.operator, record.action) == ("fred", "wallet.reconciliation.run")
    assert record.note == DAY


async def test_an_exception_is_resolved_once_with_a_note_and_shows_who_and_why(
    app: FastAPI, client: httpx.AsyncClient, alice: Member, fred: Operator
) -> None:
    run_id, _ = await reconciled_with_exceptions(client, app, alice, fred)
    resolve = f"{RUNS}/{run_id}/items/1/resolve"

    done = await fred.post(resolve, resolution="dismissed", note=NOTE)
    assert (done.status_code, done.headers["location"]) == (303, f"{RUNS}/{run_id}")
    page = await fred.http.get(f"{RUNS}/{run_id}")
    resolved = item_row(page, 1)
    assert 'data-resolved="yes"' in resolved
    assert 'class="status status-dismissed">dismissed<' in resolved
    assert NOTE in resolved
    assert "by fred," in resolved
    assert 'id="run-unresolved">1<' in page.text

    again = await fred.post(resolve, resolution="adjusted", note="second thoughts")
    assert again.status_code == 409
    assert "Item #1 was not resolved: This reconciliation item has been resolved already" in (
        again.text
    )
    assert 'id="reconciliation-items"' in again.text  # the run's page, not a bare error
    no_note = await fred.post(f"{RUNS}/{run_id}/items/2/resolve", resolution="dismissed", note=" ")
    assert no_note.status_code == 400
    assert "needs a note of 1-500 characters" in no_note.text
    unchosen = await fred.post(f"{RUNS}/{run_id}/items/2/resolve", resolution="", note="kept")
    assert unchosen.status_code == 400
    assert ">kept</textarea>" in item_row(unchosen, 2)  # the note comes back for a retry
    assert 'data-resolved="no"' in item_row(await fred.http.get(f"{RUNS}/{run_id}"), 2)
    for absent in (3, 10**12):
        gone = await fred.post(f"{RUNS}/{run_id}/items/{absent}/resolve", resolution="dismissed",
                               note="x")  # fmt: skip
        assert gone.status_code == 404

    trail = [(a.operator, a.action, a.target, a.note) for a in await actions(app)]
    resolutions = [t for t in trail if t[1].startswith("wallet.reconciliation.")]
    assert resolutions == [
        ("fred", "wallet.reconciliation.dismissed", f"reconciliation_item:{run_id}/1", NOTE),
        ("fred", "wallet.reconciliation.run", f"reconciliation_run:{run_id}", DAY),
    ]


async def test_support_can_neither_see_nor_resolve_reconciliation_exceptions(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Member,
    fred: Operator,
    operators: OperatorFactory,
) -> None:
    run_id, _ = await reconciled_with_exceptions(client, app, alice, fred)
    sam = await operators("sam", "support")
    refused = await sam.post(f"{RUNS}/{run_id}/items/1/resolve", resolution="dismissed", note="x")
    assert refused.status_code == 403
    assert (await sam.http.get(f"{RUNS}/{run_id}")).status_code == 403
    assert 'data-resolved="no"' in item_row(await fred.http.get(f"{RUNS}/{run_id}"), 1)
    assert await actions(app, operator="sam", target=f"reconciliation_item:{run_id}/1") == []


async def test_a_day_that_is_not_a_day_or_has_not_begun_is_refused_on_the_page(
    app: FastAPI, fred: Operator
) -> None:
    for day, message in (("01/02/2026", "YYYY-MM-DD"), ("2026-01-02", "has not begun")):
        refused = await fred.post(RUNS, day=day)
        assert refused.status_code == 400
        assert message in refused.text
        assert f'name="day" type="date" value="{day}"' in refused.text
    assert 'id="no-runs"' in (await fred.http.get("/admin/wallet/reconciliation")).text


# --- audits -------------------------------------------------------------------------------


async def test_a_full_audit_run_from_the_page_lists_its_findings(
    app: FastAPI, client: httpx.AsyncClient, alice: Member, operators: OperatorFactory
) -> None:
    await fund(app, alice.user_id, 100_00)
    account = await app.state.runtime.wallet.accounts.find_user(alice.user_id, "CNY")
    async with app.state.runtime.db.transaction() as tx:  # a corrupted cache
        await tx.session.execute(
            text("UPDATE ledger_accounts SET balance_minor = balance_minor + 5 "
                 "WHERE account_id = :a"),
            {"a": account.account_id},
        )  # fmt: skip
    olga = await operators("olga", "admin")

    ran = await olga.post("/admin/wallet/audits")
    assert ran.status_code == 303
    run_id = ran.headers["location"].removeprefix("/admin/wallet/audits/")
    page = await olga.http.get(ran.headers["location"])
    assert 'id="audit-verdict"><span class="bad">1 findings<' in page.text
    finding = re.search(r'<tr data-check="cached_equals_derived">.*?</tr>', page.text, re.S)
    assert finding is not None
    assert f'href="/admin/ledger/accounts/{account.account_id}"' in finding.group(0)
    listed = await olga.http.get("/admin/wallet/audits")
    assert f'<tr data-run-id="{run_id}" data-ok="False">' in listed.text
    assert f'href="/admin/wallet/audits/{run_id}"' in (await olga.http.get("/admin/")).text
    [record] = await actions(app, target=f"audit_run:{run_id}")
    assert (record.operator, record.action) == ("olga", "wallet.audit.run")
    assert (await olga.http.get("/admin/wallet/audits/no-such-run")).status_code == 404


# --- merchants and billers ----------------------------------------------------------------


async def test_a_merchant_registered_and_suspended_in_the_console_stops_taking_payments(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Member,
    fred: Operator,
    operators: OperatorFactory,
) -> None:
    bob = await member(client, "bob")
    await fund(app, alice.user_id, 100_00)
    form = {"owner": "bob", "name": "Noodle Bar", "category": "food", "fee_bps": "0"}
    unknown = await fred.post("/admin/wallet/merchants", **{**form, "owner": "nobody"})
    assert unknown.status_code == 400
    assert "No user is called &#39;nobody&#39;" in unknown.text
    assert 'value="Noodle Bar"' in unknown.text  # what was typed comes back
    registered = await fred.http.post(
        "/admin/wallet/merchants", data={"csrf_token": fred.csrf, **form, "currency": ["CNY"]}
    )
    assert registered.status_code == 303, registered.text
    listed = await fred.http.get("/admin/wallet/merchants")
    [merchant_id] = re.findall(r'data-merchant-id="([^"]+)" data-status="active"', listed.text)
    code = await make_code(client, bob, merchant_id)
    assert (await pay(client, alice, code["payload"], "1.00")).status_code == 201

    suspended = await fred.post(f"/admin/wallet/merchants/{merchant_id}/suspend")
    assert suspended.status_code == 303
    refused = await pay(client, alice, code["payload"], "1.00")
    assert (refused.status_code, refused.json()["code"]) == (409, "merchant_unavailable")
    sam = await operators("sam", "support")
    seen = await sam.http.get("/admin/wallet/merchants")
    assert f'data-merchant-id="{merchant_id}" data-status="suspended"' in seen.text
    assert 'id="register-merchant"' not in seen.text
    assert "/activate" not in seen.text
    assert (await sam.post(f"/admin/wallet/merchants/{merchant_id}/activate")).status_code == 403
    assert (await fred.post(f"/admin/wallet/merchants/{merchant_id}/activate")).status_code == 303
    assert (await pay(client, alice, code["payload"], "1.00")).status_code == 201

    trail = await actions(app, target=f"merchant:{merchant_id}")
    assert [(a.operator, a.action) for a in reversed(trail)] == [
        ("fred", "wallet.merchant.create"),
        ("fred", "wallet.merchant.suspend"),
        ("fred", "wallet.merchant.activate"),
    ]


async def courtyard(*args: str, operator: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(cli, ["admin", "wallet", *args], env=operator_env(operator))

    return await asyncio.to_thread(invoke)


async def payable(client: httpx.AsyncClient, who: Member) -> list[str]:
    answer = await client.get("/v1/wallet/billers", headers=who.headers)
    assert answer.status_code == 200, answer.text
    return [b["name"] for b in answer.json()]


async def test_a_biller_registered_and_disabled_in_the_console_leaves_the_payers_list(
    app: FastAPI, client: httpx.AsyncClient, alice: Member, fred: Operator, database_url: str
) -> None:
    form = {
        "name": "City Power", "category": "utilities", "currency": "CNY", "pattern": "^[0-9]{10}$",
        "hint": "the meter number", "min": "1.00", "max": "900.00",
    }  # fmt: skip
    bad = await fred.post("/admin/wallet/billers", **{**form, "pattern": "^[0-9"})
    assert bad.status_code == 400
    assert "not a regular expression" in bad.text
    assert (await fred.post("/admin/wallet/billers", **form)).status_code == 303
    assert await payable(client, alice) == ["City Power"]
    listed = await fred.http.get("/admin/wallet/billers")
    [biller_id] = re.findall(r'data-biller-id="([^"]+)" data-state="enabled"', listed.text)

    assert (await fred.post(f"/admin/wallet/billers/{biller_id}/disable")).status_code == 303
    assert await payable(client, alice) == []
    disabled_row = f'data-biller-id="{biller_id}" data-state="disabled"'
    assert disabled_row in (await fred.http.get("/admin/wallet/billers")).text
    assert (await fred.post(f"/admin/wallet/billers/{biller_id}/enable")).status_code == 303
    assert await payable(client, alice) == ["City Power"]
    # The command line records its changes too, as the operator who runs it.
    disabled = await courtyard(
        "biller", "disable", biller_id, "--db", database_url, operator="fred"
    )
    assert disabled.exit_code == 0, disabled.output

    trail = await actions(app, target=f"biller:{biller_id}")
    assert [(a.operator, a.action) for a in reversed(trail)] == [
        ("fred", "wallet.biller.create"),
        ("fred", "wallet.biller.disable"),
        ("fred", "wallet.biller.enable"),
        ("fred", "wallet.biller.disable"),
    ]


# --- payments and bills on the flow page -------------------------------------------------


async def test_the_flow_page_shows_a_payment_with_its_refunds_and_a_bill(
    app: FastAPI, client: httpx.AsyncClient, alice: Member, fred: Operator
) -> None:
    bob = await member(client, "bob")
    await fund(app, alice.user_id, 100_00)
    merchant_id = await register_merchant(app, bob.user_id, name="Tea House")
    code = await make_code(client, bob, merchant_id)
    paid = await pay(client, alice, code["payload"], "30.00")
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["payment_id"]
    refunded = await refund(client, bob, payment_id, "12.00")
    assert refunded.status_code == 201, refunded.text

    page = (await fred.http.get(f"/admin/ledger/flows/payment/{payment_id}")).text
    assert 'id="flow-state"><span class="status status-partially_refunded">' in page
    assert "<dt>Amount</dt><dd>30.00 CNY</dd>" in page
    assert "<dt>Refunded</dt><dd>12.00 CNY</dd>" in page
    assert f"<dt>Merchant</dt><dd>Tea House ({merchant_id})</dd>" in page
    assert f"<dt>Payer</dt><dd>{alice.user_id}</dd>" in page
    refund_id = refunded.json()["refund_id"]
    assert (
        f"<dt>Refund {refund_id}</dt><dd>12.00 CNY at 2026-01-01T00:00:00Z by {bob.user_id}</dd>"
    ) in page
    assert "payment_refund" in page  # the refund's entry, under the payment's

    biller_id = await register_biller(app)
    bill = await pay_bill(client, alice, biller_id, "20.00")
    assert bill.status_code == 201, bill.text
    page = (await fred.http.get(f"/admin/ledger/flows/bill/{bill.json()['bill_id']}")).text
    assert 'id="flow-state"><span class="status status-completed">completed<' in page
    assert f"<dt>Biller</dt><dd>City Power ({biller_id})</dd>" in page
    assert f"<dt>Reference</dt><dd>{POWER_METER}</dd>" in page
    assert f"<dt>Payer</dt><dd>{alice.user_id}</dd>" in page
    assert (await fred.http.get("/admin/ledger/flows/bill/no-such-bill")).status_code == 404
