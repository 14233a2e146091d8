"""Bill payments through the API on SQLite and PostgreSQL: billers, paying, every refusal,
idempotent replays, the shared daily limit, who may see a bill, and the ledger after each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.flow_models import WalletUserFlow
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry
from courtyard.streams.events import StreamEvent
from tests.conftest import bearer, register
from tests.integration.bill_support import MOBILE, POWER_METER, pay_bill, register_biller
from tests.integration.wallet_support import Member, balance, direct, fund, member, transfer

GHOST_ID = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
async def alice(client: httpx.AsyncClient, app: FastAPI) -> AsyncIterator[Member]:
    """Alice with a PIN and 100.00 CNY; the ledger is audited after the test."""
    who = await member(client, "alice")
    await fund(app, who.user_id, 100_00)
    yield who
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


@pytest.fixture
async def power(app: FastAPI) -> str:
    return await register_biller(app)


async def entries(app: FastAPI) -> int:
    async with app.state.runtime.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


async def biller_balance(app: FastAPI, biller_id: str) -> int:
    account = await app.state.runtime.wallet.accounts.existing_biller(biller_id, "CNY")
    async with app.state.runtime.db.read() as session:
        row = await session.get(LedgerAccount, account.account_id)
    assert row is not None
    assert (row.owner_kind, row.cached, row.allow_negative) == ("biller", True, False)
    return int(row.balance_minor or 0)


async def events(app: FastAPI, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.scalars(
            select(StreamEvent).where(StreamEvent.user_id == user_id).order_by(StreamEvent.position)
        )
        return [(row.type, row.content) for row in rows if row.type.startswith("wallet.")]


async def test_the_biller_list_shows_enabled_billers_without_their_patterns(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    mobile = await register_biller(app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$")
    gone = await register_biller(app, "Old Gas", "utilities")
    await app.state.runtime.wallet.billers.do_set_enabled(gone, False)
    listed = await client.get("/v1/wallet/billers", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    assert [b["biller_id"] for b in listed.json()] == [power, mobile]  # by name
    assert listed.json()[0] == {
        "biller_id": power,
        "name": "City Power",
        "category": "utilities",
        "currency": "CNY",
        "min": {"amount_minor": 100, "currency": "CNY", "amount": "1.00"},
        "max": {"amount_minor": 500000, "currency": "CNY", "amount": "5000.00"},
        "reference_hint": "the 10-digit meter number",
    }
    assert (await client.get("/v1/wallet/billers")).status_code == 401


async def test_a_bill_moves_money_to_the_biller_once_with_its_events_and_flow_row(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    paid = await pay_bill(client, alice, power, "42.50")
    assert paid.status_code == 201, paid.text
    bill = paid.json()
    assert bill["biller"] == {"biller_id": power, "name": "City Power", "category": "utilities"}
    assert (bill["reference"], bill["state"], bill["replayed"]) == (POWER_METER, "completed", False)
    assert bill["amount"] == {"amount_minor": 4250, "currency": "CNY", "amount": "42.50"}
    assert bill["created_at"] == "2026-01-01T00:00:00Z"
    assert await balance(client, alice) == 100_00 - 4250
    assert await biller_balance(app, power) == 4250

    async with app.state.runtime.db.read() as session:
        entry = await session.scalar(
            select(LedgerEntry).where(LedgerEntry.flow_id == bill["bill_id"])
        )
        flow = await session.get(WalletUserFlow, (alice.user_id, bill["bill_id"]))
    assert entry is not None
    assert (entry.kind, entry.category, entry.flow_kind) == ("bill_payment", "utilities", "bill")
    assert entry.initiator == f"user:{alice.user_id}"
    assert flow is not None
    assert (flow.flow_kind, flow.role) == ("bill", "payer")
    seen = await events(app, alice.user_id)
    assert ("wallet.bill", {"bill_id": bill["bill_id"], "biller_id": power,
                            "amount": bill["amount"], "state": "completed"}) in seen  # fmt: skip
    assert any(t == "wallet.balance" and c["kind"] == "bill_payment" for t, c in seen)

    one = await client.get(f"/v1/wallet/bills/{bill['bill_id']}", headers=alice.headers)
    assert one.json() == {k: v for k, v in bill.items() if k != "replayed"}
    statement = await client.get("/v1/wallet/statement?currency=CNY", headers=alice.headers)
    line = statement.json()["lines"][0]
    assert (line["kind"], line["category"]) == ("bill_payment", "utilities")
    assert line["counterparty"] == {"kind": "biller", "id": power, "name": "City Power"}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"biller_id": GHOST_ID}, 404, "biller_not_found"),
        ({"biller_id": "not-an-id"}, 404, "biller_not_found"),
        ({"reference": "12345"}, 400, "invalid_reference"),
        ({"reference": POWER_METER + "\n"}, 400, "invalid_reference"),
        ({"reference": "x" + POWER_METER}, 400, "invalid_reference"),
        ({"reference": "1" * 65}, 400, "invalid_reference"),
        ({"amount": "0.99"}, 400, "amount_out_of_bounds"),
        ({"amount": "5000.01"}, 400, "amount_out_of_bounds"),
        ({"currency": "EUR"}, 400, "currency_mismatch"),
        ({"currency": "XAU"}, 400, "unsupported_currency"),
        ({"amount": "1.234"}, 400, "invalid_amount"),
        ({"amount": 10}, 400, "invalid_amount"),
        ({"amount": "50000.01"}, 400, "amount_above_limit"),
        ({"pin": "135790"}, 403, "wrong_pin"),
    ],
)
async def test_each_refusal_moves_nothing_and_leaves_the_key_unbound(
    client: httpx.AsyncClient,
    app: FastAPI,
    alice: Member,
    power: str,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = await entries(app)
    fields: dict[str, Any] = {"amount": "10.00", **change}
    biller_id = fields.pop("biller_id", power)
    refused = await pay_bill(client, alice, biller_id, key="bill-1", **fields)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == code
    assert await entries(app) == before
    assert await balance(client, alice) == 100_00
    fine = await pay_bill(client, alice, power, "10.00", key="bill-1")
    assert fine.status_code == 201, fine.text


async def test_refusals_explain_the_biller_rules(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    bad_reference = (await pay_bill(client, alice, power, "10.00", reference="42")).json()
    assert bad_reference["reference_hint"] == "the 10-digit meter number"
    assert "10-digit meter number" in bad_reference["detail"]
    too_big = (await pay_bill(client, alice, power, "6000.00")).json()
    assert (too_big["min"]["amount"], too_big["max"]["amount"]) == ("1.00", "5000.00")
    euros = (await pay_bill(client, alice, power, "10.00", currency="EUR")).json()
    assert euros["currency"] == "CNY"


async def test_a_disabled_biller_takes_no_bills_until_enabled_again(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    billers = app.state.runtime.wallet.billers
    await billers.do_set_enabled(power, False)
    refused = await pay_bill(client, alice, power, "10.00")
    assert (refused.status_code, refused.json()["code"]) == (404, "biller_not_found")
    await billers.do_set_enabled(power, True)
    assert (await pay_bill(client, alice, power, "10.00")).status_code == 201


async def test_a_retry_replays_the_bill_and_another_body_with_the_key_is_refused(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    first = await pay_bill(client, alice, power, "20.00", key="pay-power")
    again = await pay_bill(client, alice, power, "20.00", key="pay-power")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "replayed": True}
    # The biller may be disabled meanwhile: a replay still answers the first result.
    await app.state.runtime.wallet.billers.do_set_enabled(power, False)
    assert (await pay_bill(client, alice, power, "20.00", key="pay-power")).status_code == 201
    await app.state.runtime.wallet.billers.do_set_enabled(power, True)
    for change in ({"amount": "21.00"}, {"reference": "9876543210"}):
        other = await pay_bill(client, alice, power, **{"amount": "20.00", **change},
                               key="pay-power")  # fmt: skip
        assert other.status_code == 409, other.text
        assert other.json()["code"] == "idempotency_key_reused"
        assert other.json()["operation"] == "bill.create"
    assert await balance(client, alice) == 100_00 - 20_00
    assert await biller_balance(app, power) == 20_00
    listed = await client.get("/v1/wallet/bills", headers=alice.headers)
    assert len(listed.json()["bills"]) == 1


async def test_too_little_money_is_a_refusal_stored_for_the_key(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    poor = await pay_bill(client, alice, power, "100.01", key="big-bill")
    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_funds")
    await fund(app, alice.user_id, 1)
    again = await pay_bill(client, alice, power, "100.01", key="big-bill")
    assert (again.json()["code"], again.json()["replayed"]) == ("insufficient_funds", True)
    assert (await pay_bill(client, alice, power, "100.01", key="new-key")).status_code == 201
    assert await balance(client, alice) == 0


async def test_bills_and_transfers_share_the_daily_limit(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    big = await register_biller(app, "Big Insurer", "insurance", low="1.00", high="50000.00")
    bob = await member(client, "bob")
    await direct(client, alice, bob)
    await fund(app, alice.user_id, 100_000_00)
    assert (await transfer(client, alice, bob, "30000.00")).status_code == 201
    assert (await pay_bill(client, alice, big, "19000.00")).status_code == 201
    over = await pay_bill(client, alice, big, "1000.01", key="over")
    assert (over.status_code, over.json()["code"]) == (403, "daily_limit_exceeded")
    assert over.json()["used"]["amount"] == "49000.00"
    assert (await pay_bill(client, alice, big, "1000.00")).status_code == 201
    stored = await pay_bill(client, alice, big, "1000.01", key="over")
    assert stored.json()["replayed"] is True


async def test_a_bill_needs_a_key_and_a_pin(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    body = {"biller_id": power, "reference": POWER_METER, "amount": "1.00", "currency": "CNY"}
    no_key = await client.post("/v1/wallet/bills", json={**body, "pin": "246810"},
                               headers=alice.headers)  # fmt: skip
    assert no_key.json()["code"] == "idempotency_key_required"
    no_pin_field = await client.post(
        "/v1/wallet/bills", json=body, headers={**alice.headers, "Idempotency-Key": "k"}
    )
    assert (no_pin_field.status_code, no_pin_field.json()["code"]) == (422, "invalid_request")
    carol = Member("", bearer(await register(client, "carol")))
    no_pin = await pay_bill(client, carol, power, "1.00")
    assert (no_pin.status_code, no_pin.json()["code"]) == (403, "pin_not_set")


async def test_only_the_payer_sees_a_bill_and_lists_are_paged_newest_first(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, power: str
) -> None:
    mobile = await register_biller(app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$")
    ids = [(await pay_bill(client, alice, power, f"{n}.00")).json()["bill_id"] for n in (1, 2)]
    ids.append((await pay_bill(client, alice, mobile, "3.00", reference=MOBILE)).json()["bill_id"])
    bob = await member(client, "bob")
    for bill_id in (ids[0], GHOST_ID, "nonsense"):
        peek = await client.get(f"/v1/wallet/bills/{bill_id}", headers=bob.headers)
        assert (peek.status_code, peek.json()["code"]) == (404, "bill_not_found")
    assert (await client.get("/v1/wallet/bills", headers=bob.headers)).json() == {
        "bills": [],
        "has_more": False,
    }
    page = (await client.get("/v1/wallet/bills?limit=2", headers=alice.headers)).json()
    assert [b["bill_id"] for b in page["bills"]] == [ids[2], ids[1]]
    assert page["bills"][0]["biller"]["name"] == "Courtyard Mobile"
    assert page["has_more"] is True
    rest = await client.get(f"/v1/wallet/bills?limit=2&before={ids[1]}", headers=alice.headers)
    assert [b["bill_id"] for b in rest.json()["bills"]] == [ids[0]]
    assert rest.json()["has_more"] is False
