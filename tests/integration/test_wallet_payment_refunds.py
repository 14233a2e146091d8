"""Partial refunds of QR payments through the API on SQLite and PostgreSQL: up to the total,
never more (also under concurrency), within the refund window, from the merchant's funds,
by the owner only. Every test ends with the ledger audit clean."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.clock import FrozenClock
from courtyard.domains.wallet import audit_ledger
from tests.integration.merchant_support import (
    make_code,
    merchant_balance,
    pay,
    refund,
    register_merchant,
)
from tests.integration.wallet_support import Member, balance, fund, member


@pytest.fixture
async def paid(client: httpx.AsyncClient, app: FastAPI) -> tuple[Member, Member, str, str]:
    """Alice (100.00 CNY) paid Bob's merchant 30.00; returns alice, bob, merchant, payment."""
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await fund(app, alice.user_id, 100_00)
    merchant_id = await register_merchant(app, bob.user_id)
    code = await make_code(client, bob, merchant_id)
    response = await pay(client, alice, code["payload"], "30.00")
    assert response.status_code == 201, response.text
    return alice, bob, merchant_id, response.json()["payment_id"]


async def audit_ok(app: FastAPI) -> None:
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def test_partial_refunds_add_up_to_the_payment_and_no_further(
    client: httpx.AsyncClient, app: FastAPI, paid: tuple[Member, Member, str, str]
) -> None:
    alice, bob, merchant_id, payment_id = paid
    first = await refund(client, bob, payment_id, "10.00")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["amount"]["amount"] == "10.00"
    assert body["payment"]["state"] == "partially_refunded"
    assert body["payment"]["refunded"]["amount"] == "10.00"
    assert (await refund(client, bob, payment_id, "15.00")).status_code == 201
    over = await refund(client, bob, payment_id, "5.01", key="over")
    assert (over.status_code, over.json()["code"]) == (409, "refund_exceeds_payment")
    assert over.json()["refundable"]["amount"] == "5.00"
    stored = await refund(client, bob, payment_id, "5.01", key="over")
    assert stored.json()["replayed"] is True
    last = await refund(client, bob, payment_id, "5.00", key="last")
    assert last.json()["payment"]["state"] == "refunded"
    replay = await refund(client, bob, payment_id, "5.00", key="last")
    assert replay.json() == {**last.json(), "replayed": True}
    assert (await refund(client, bob, payment_id, "0.01")).json()["code"] == (
        "refund_exceeds_payment"
    )

    assert await balance(client, alice) == 100_00
    assert await merchant_balance(client, bob, merchant_id) == 0
    shown = await client.get(f"/v1/wallet/payments/{payment_id}", headers=alice.headers)
    assert shown.json()["state"] == "refunded"
    assert [r["amount"]["amount"] for r in shown.json()["refunds"]] == ["10.00", "15.00", "5.00"]
    lines = (await client.get("/v1/wallet/statement?currency=CNY", headers=alice.headers)).json()
    refunds = [line for line in lines["lines"] if line["kind"] == "payment_refund"]
    assert len(refunds) == 3
    assert {line["category"] for line in refunds} == {"food"}
    assert refunds[0]["counterparty"]["kind"] == "merchant"
    await audit_ok(app)


async def test_only_the_owner_refunds_and_others_learn_nothing(
    client: httpx.AsyncClient, app: FastAPI, paid: tuple[Member, Member, str, str]
) -> None:
    alice, bob, _, payment_id = paid
    payer = await refund(client, alice, payment_id, "1.00")
    assert (payer.status_code, payer.json()["code"]) == (403, "not_merchant_owner")
    carol = await member(client, "carol")
    for response in (
        await refund(client, carol, payment_id, "1.00"),
        await client.get(f"/v1/wallet/payments/{payment_id}", headers=carol.headers),
        await refund(client, bob, "01900000-0000-7000-8000-000000000000", "1.00"),
        await refund(client, bob, "not-an-id", "1.00"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "payment_not_found")
    wrong_pin = await refund(client, bob, payment_id, "1.00", pin="135790", key="k")
    assert wrong_pin.json()["code"] == "wrong_pin"
    assert (await refund(client, bob, payment_id, "1.00", key="k")).status_code == 201
    other_currency = await client.post(
        f"/v1/wallet/payments/{payment_id}/refunds",
        json={"amount": "1.00", "currency": "EUR", "pin": "246810"},
        headers={**bob.headers, "Idempotency-Key": "eur"},
    )
    assert other_currency.json()["code"] == "currency_mismatch"
    assert (await refund(client, bob, payment_id, "1.234")).json()["code"] == "invalid_amount"
    assert await balance(client, alice) == 71_00
    await audit_ok(app)


async def test_the_refund_window_closes_after_365_days(
    client: httpx.AsyncClient,
    app: FastAPI,
    clock: FrozenClock,
    paid: tuple[Member, Member, str, str],
) -> None:
    alice, bob, _, payment_id = paid
    clock.advance(days=365, seconds=-1)
    assert (await refund(client, bob, payment_id, "1.00")).status_code == 201
    clock.advance(seconds=1)
    late = await refund(client, bob, payment_id, "1.00", key="late")
    assert (late.status_code, late.json()["code"]) == (409, "refund_window_closed")
    assert (await refund(client, bob, payment_id, "1.00", key="late")).json()["replayed"] is True
    assert await balance(client, alice) == 71_00
    await audit_ok(app)


async def test_a_refund_needs_the_merchants_own_funds_since_fees_are_kept(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await fund(app, alice.user_id, 100_00)
    merchant_id = await register_merchant(app, bob.user_id, fee_bps=100)  # 1 %
    code = await make_code(client, bob, merchant_id, "100.00")
    payment_id = (await pay(client, alice, code["payload"])).json()["payment_id"]
    assert await merchant_balance(client, bob, merchant_id) == 99_00
    whole = await refund(client, bob, payment_id, "100.00", key="whole")
    assert (whole.status_code, whole.json()["code"]) == (409, "insufficient_funds")
    assert (await refund(client, bob, payment_id, "99.00")).status_code == 201
    assert await balance(client, alice) == 99_00
    assert await merchant_balance(client, bob, merchant_id) == 0
    await audit_ok(app)


async def test_concurrent_partial_refunds_never_exceed_the_payment(
    client: httpx.AsyncClient, app: FastAPI, paid: tuple[Member, Member, str, str]
) -> None:
    alice, bob, merchant_id, payment_id = paid
    # Ten refunds of 7.00 at once against 30.00: exactly four fit (28.00).
    answers = await asyncio.gather(
        *(refund(client, bob, payment_id, "7.00", key=f"r-{n}") for n in range(10))
    )
    codes = sorted(a.json().get("code", "ok") for a in answers)
    assert codes == ["ok"] * 4 + ["refund_exceeds_payment"] * 6
    shown = (await client.get(f"/v1/wallet/payments/{payment_id}", headers=bob.headers)).json()
    assert shown["refunded"]["amount"] == "28.00"
    assert len(shown["refunds"]) == 4
    assert await balance(client, alice) == 70_00 + 28_00
    assert await merchant_balance(client, bob, merchant_id) == 2_00
    await audit_ok(app)
