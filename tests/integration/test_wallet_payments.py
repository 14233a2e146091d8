"""Scan to pay through the API on SQLite and PostgreSQL: static and fixed codes, resolve,
every refusal, idempotent replays, limits, events, statements, images, and who may see what.
Every test ends with the ledger audit clean."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from courtyard.core.ids import new_id
from courtyard.core.qr_payload import QrPayload, from_b64url
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.models import LedgerEntry, LedgerPosting
from courtyard.streams.events import StreamEvent
from tests.integration.merchant_support import (
    forge,
    make_code,
    merchant_balance,
    pay,
    register_merchant,
)
from tests.integration.wallet_support import PIN, Member, balance, fund, member

GHOST = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
async def shop(client: httpx.AsyncClient, app: FastAPI) -> tuple[Member, Member, str]:
    """Alice (100.00 CNY) pays; Bob owns the merchant "Noodle Bar"."""
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await fund(app, alice.user_id, 100_00)
    return alice, bob, await register_merchant(app, bob.user_id)


async def audit_ok(app: FastAPI) -> None:
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def entries(app: FastAPI) -> int:
    async with app.state.runtime.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


async def events(app: FastAPI, user_id: str, type_: str) -> list[dict[str, Any]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.scalars(
            select(StreamEvent)
            .where(StreamEvent.user_id == user_id, StreamEvent.type == type_)
            .order_by(StreamEvent.position)
        )
        return [row.content for row in rows]


async def test_a_static_code_pays_the_amount_typed_and_tells_payer_and_owner(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    code = await make_code(client, bob, merchant_id)
    assert code["kind"] == "static"
    assert code["amount"] is None
    assert code["payload"].startswith("courtyard://pay?p=")

    paid = await pay(client, alice, code["payload"], "25.00")
    assert paid.status_code == 201, paid.text
    body = paid.json()
    noodles = {"merchant_id": merchant_id, "name": "Noodle Bar", "category": "food"}
    assert body["merchant"] == noodles
    assert body["amount"]["amount"] == "25.00"
    assert body["refunded"]["amount_minor"] == 0
    assert (body["state"], body["qr_id"], body["replayed"]) == ("completed", code["qr_id"], False)
    assert "fee" not in body  # the payer does not see the platform's fee
    assert await balance(client, alice) == 75_00
    assert await merchant_balance(client, bob, merchant_id) == 25_00

    for user in (alice, bob):
        (event,) = await events(app, user.user_id, "wallet.payment")
        assert event["payment_id"] == body["payment_id"]
        assert event["state"] == "completed"
    # The owner is told the merchant account's new balance, as a user is told theirs.
    (shop_balance,) = await events(app, bob.user_id, "wallet.balance")
    assert shop_balance["balance"]["amount"] == "25.00"
    assert shop_balance["kind"] == "payment"
    as_owner = await client.get(f"/v1/wallet/payments/{body['payment_id']}", headers=bob.headers)
    assert as_owner.json()["fee"]["amount_minor"] == 0
    assert as_owner.json()["refunds"] == []

    mine = await client.get("/v1/wallet/statement?currency=CNY", headers=alice.headers)
    line = mine.json()["lines"][0]
    assert (line["kind"], line["category"]) == ("payment", "food")
    assert line["counterparty"] == {"kind": "merchant", "id": merchant_id, "name": "Noodle Bar"}
    theirs = await client.get(
        f"/v1/wallet/merchants/{merchant_id}/statement?currency=CNY", headers=bob.headers
    )
    assert theirs.status_code == 200, theirs.text
    (received,) = theirs.json()["lines"]
    assert received["amount"]["amount"] == "25.00"
    assert received["counterparty"] == {"kind": "user", "id": alice.user_id, "name": "Alice"}
    csv = await client.get(
        f"/v1/wallet/merchants/{merchant_id}/statement?currency=CNY&format=csv",
        headers=bob.headers,
    )
    assert ",Alice,25.00,CNY,25.00,payment," in csv.text
    await audit_ok(app)


async def test_a_fixed_code_takes_only_its_own_amount_and_currency(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    fixed = (await make_code(client, bob, merchant_id, "12.00"))["payload"]
    static = (await make_code(client, bob, merchant_id))["payload"]
    refusals = [
        (await pay(client, alice, fixed, "12.01"), "amount_mismatch"),
        (await pay(client, alice, fixed, "12.00", currency="EUR"), "currency_mismatch"),
        (await pay(client, alice, static, "1.00", currency="EUR"), "currency_mismatch"),
        (await pay(client, alice, static), "invalid_amount"),
        (await pay(client, alice, static, "1.001"), "invalid_amount"),
        (await pay(client, alice, static, 5), "invalid_amount"),
        (await pay(client, alice, static, "1.00", currency="cny"), "unsupported_currency"),
        (await pay(client, alice, static, "50000.01"), "amount_above_limit"),
    ]
    for response, code in refusals:
        assert response.status_code == 400, response.text
        assert response.json()["code"] == code
    assert await entries(app) == 1  # the funding only
    assert (await pay(client, alice, fixed)).json()["amount"]["amount"] == "12.00"
    assert (await pay(client, alice, fixed, "12.00", currency="CNY")).status_code == 201
    assert await balance(client, alice) == 100_00 - 24_00
    await audit_ok(app)


async def test_resolve_names_the_merchant_and_the_keys_are_public(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    code = await make_code(client, bob, merchant_id, "8.80", label="coffee")
    keys = await client.get("/v1/wallet/qr-keys")  # no token
    assert keys.status_code == 200
    (key,) = keys.json()["keys"]
    assert len(from_b64url(key["ed25519"], "key")) == 32
    assert f'"k":"{key["key_id"]}"'.encode() in from_b64url(
        code["payload"].split("p=")[1].split("&")[0], "payload"
    )
    resolved = await client.post(
        "/v1/wallet/qr/resolve", json={"qr": code["payload"]}, headers=alice.headers
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json() == {
        "merchant": {"merchant_id": merchant_id, "name": "Noodle Bar", "category": "food"},
        "qr_id": code["qr_id"],
        "kind": "fixed",
        "amount": {"amount_minor": 880, "currency": "CNY", "amount": "8.80"},
        "currency": "CNY",
        "label": "coffee",
    }
    anonymous = await client.post("/v1/wallet/qr/resolve", json={"qr": code["payload"]})
    assert anonymous.status_code == 401
    await audit_ok(app)


async def test_altered_unknown_and_malformed_codes_are_invalid_qr(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    code = await make_code(client, bob, merchant_id, "20.00")
    keyring = app.state.runtime.wallet.qr_keys
    unknown = QrPayload(merchant_id, new_id(), "CNY", 2000, keyring.current_key_id)
    never_issued = keyring.sign(unknown)
    bad = [
        forge(code["payload"], a=1),
        forge(code["payload"], m=GHOST),
        never_issued,
        code["payload"] + "x",
        code["payload"].replace("courtyard://", "https://"),
        "",
        12,
        None,
        {"qr": code["payload"]},
        "courtyard://pay?p=" + "A" * 600,
    ]
    for qr in bad:
        for path, body in (
            ("/v1/wallet/qr/resolve", {"qr": qr}),
            ("/v1/wallet/payments", {"qr": qr, "pin": PIN}),
        ):
            headers = {**alice.headers, "Idempotency-Key": new_id()}
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 400, (qr, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "invalid_qr"
    assert await balance(client, alice) == 100_00
    await audit_ok(app)


async def test_revoked_codes_suspended_merchants_and_self_payment_are_refused(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    await fund(app, bob.user_id, 10_00)
    code = await make_code(client, bob, merchant_id)
    own = await pay(client, bob, code["payload"], "1.00")
    assert (own.status_code, own.json()["code"]) == (400, "self_payment")

    registry = app.state.runtime.wallet.merchant_registry
    await registry.do_set_status(merchant_id, "suspended", operator_id="test-operator")
    for response in (
        await pay(client, alice, code["payload"], "1.00"),
        await client.post(
            "/v1/wallet/qr/resolve", json={"qr": code["payload"]}, headers=alice.headers
        ),
        await client.post(
            f"/v1/wallet/merchants/{merchant_id}/qr",
            json={"kind": "static", "currency": "CNY"},
            headers=bob.headers,
        ),
    ):
        assert (response.status_code, response.json()["code"]) == (409, "merchant_unavailable")
    await registry.do_set_status(merchant_id, "active", operator_id="test-operator")
    assert (await pay(client, alice, code["payload"], "1.00")).status_code == 201

    revoked = await client.delete(
        f"/v1/wallet/merchants/{merchant_id}/qr/{code['qr_id']}", headers=bob.headers
    )
    assert revoked.status_code == 204
    again = await client.delete(
        f"/v1/wallet/merchants/{merchant_id}/qr/{code['qr_id']}", headers=bob.headers
    )
    assert again.status_code == 204
    refused = await pay(client, alice, code["payload"], "1.00")
    assert (refused.status_code, refused.json()["code"]) == (409, "qr_revoked")
    listed = await client.get(f"/v1/wallet/merchants/{merchant_id}/qr", headers=bob.headers)
    (row,) = listed.json()["codes"]
    assert row["revoked_at"] is not None
    assert row["payload"] is None
    image = await client.get(
        f"/v1/wallet/merchants/{merchant_id}/qr/{code['qr_id']}.svg", headers=bob.headers
    )
    assert (image.status_code, image.json()["code"]) == (409, "qr_revoked")
    assert await balance(client, alice) == 99_00
    await audit_ok(app)


async def test_refusals_under_the_lock_and_pins(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    code = (await make_code(client, bob, merchant_id))["payload"]
    poor = await pay(client, alice, code, "100.01", key="too-much")
    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_funds")
    stored = await pay(client, alice, code, "100.01", key="too-much")
    assert stored.json()["replayed"] is True
    wrong = await pay(client, alice, code, "1.00", pin="135790", key="w")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_pin")
    assert (await pay(client, alice, code, "1.00", key="w")).status_code == 201  # unbound
    no_key = await client.post(
        "/v1/wallet/payments", json={"qr": code, "amount": "1.00", "pin": PIN},
        headers=alice.headers,
    )  # fmt: skip
    assert no_key.json()["code"] == "idempotency_key_required"
    carol = await member(client, "carol", pin="975318")
    no_money = await pay(client, carol, code, "1.00", pin="975318")
    assert no_money.json()["code"] == "insufficient_funds"
    await audit_ok(app)


async def test_a_retry_replays_even_after_revocation_and_a_changed_body_is_refused(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    code = await make_code(client, bob, merchant_id)
    first = await pay(client, alice, code["payload"], "5.00", key="pay-1")
    await client.delete(
        f"/v1/wallet/merchants/{merchant_id}/qr/{code['qr_id']}", headers=bob.headers
    )
    replay = await pay(client, alice, code["payload"], "5.00", key="pay-1", pin="000000")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == {**first.json(), "replayed": True}
    changed = await pay(client, alice, code["payload"], "6.00", key="pay-1")
    assert (changed.status_code, changed.json()["code"]) == (409, "idempotency_key_reused")
    assert await balance(client, alice) == 95_00
    await audit_ok(app)


async def test_payments_count_against_the_daily_limit(
    client: httpx.AsyncClient, app: FastAPI, shop: tuple[Member, Member, str]
) -> None:
    alice, bob, merchant_id = shop
    await fund(app, alice.user_id, 100_000_00)
    code = (await make_code(client, bob, merchant_id))["payload"]
    assert (await pay(client, alice, code, "30000.00")).status_code == 201
    over = await pay(client, alice, code, "20000.01")
    assert (over.status_code, over.json()["code"]) == (403, "daily_limit_exceeded")
    assert over.json()["used"]["amount"] == "30000.00"
    await audit_ok(app)


async def test_fees_are_rounded_down_and_posted_to_the_fees_account(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await fund(app, alice.user_id, 200_00)
    merchant_id = await register_merchant(app, bob.user_id, fee_bps=250)  # 2.5 %
    code = (await make_code(client, bob, merchant_id))["payload"]
    for amount in ("100.00", "0.39", "1.00"):  # fees 2.50, 0 (0.00975), 0.02 (0.025)
        assert (await pay(client, alice, code, amount)).status_code == 201
    assert await merchant_balance(client, bob, merchant_id) == 97_50 + 39 + 98
    payments = await client.get(f"/v1/wallet/merchants/{merchant_id}/payments", headers=bob.headers)
    assert [p["fee"]["amount_minor"] for p in payments.json()["payments"]] == [2, 0, 250]
    fees = await app.state.runtime.wallet.accounts.existing_system("fees", "CNY")
    async with app.state.runtime.db.read() as session:
        kept = await session.scalar(
            select(func.sum(LedgerPosting.amount_minor)).where(
                LedgerPosting.account_id == fees.account_id
            )
        )
        assert int(kept or 0) == 252
        legs = await session.execute(
            select(LedgerEntry.entry_id, func.count())
            .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.entry_id)
            .where(LedgerEntry.kind == "payment")
            .group_by(LedgerEntry.entry_id)
        )
        assert sorted(n for _, n in legs) == [2, 3, 3]  # no zero fee leg
    await audit_ok(app)


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("1.234", None, "invalid_amount"),
        ("-1", None, "invalid_amount"),
        ("0", None, "invalid_amount"),
        ("1e3", None, "invalid_amount"),
        (10.5, None, "invalid_amount"),
        (True, None, "invalid_amount"),
        ("1.00", "XAU", "unsupported_currency"),
        ("1.00", 156, "unsupported_currency"),
    ],
)
async def test_malformed_amounts_move_nothing_and_bind_no_key(
    client: httpx.AsyncClient,
    app: FastAPI,
    shop: tuple[Member, Member, str],
    amount: Any,
    currency: Any,
    code: str,
) -> None:
    alice, bob, merchant_id = shop
    qr = (await make_code(client, bob, merchant_id))["payload"]
    before = await entries(app)
    refused = await pay(client, alice, qr, amount, currency=currency, key="same")
    assert (refused.status_code, refused.json()["code"]) == (400, code)
    assert await entries(app) == before
    assert (await pay(client, alice, qr, "1.00", key="same")).status_code == 201
    await audit_ok(app)
