"""A merchant owner's API on SQLite and PostgreSQL: their merchants, codes and images, and
the IDOR matrix: a stranger gets 404 on every merchant and payment path, learning nothing."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.errors import InvalidInput
from courtyard.core.money import UnsupportedCurrency
from courtyard.domains.wallet import MerchantRegistration, audit_ledger
from tests.integration.merchant_support import make_code, pay, register_merchant
from tests.integration.wallet_support import Member, fund, member

GHOST = "01900000-0000-7000-8000-000000000000"


async def audit_ok(app: FastAPI) -> None:
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def test_owners_list_their_merchants_make_codes_and_print_them(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    bob = await member(client, "bob")
    merchant_id = await register_merchant(
        app, bob.user_id, name="Bob's Books", category="shopping", currencies=("CNY", "EUR")
    )
    mine = await client.get("/v1/wallet/merchants/mine", headers=bob.headers)
    (merchant,) = mine.json()["merchants"]
    assert merchant["merchant_id"] == merchant_id
    shown = (merchant["name"], merchant["status"], merchant["fee_bps"])
    assert shown == ("Bob's Books", "active", 0)
    assert [b["currency"] for b in merchant["balances"]] == ["CNY", "EUR"]

    static = await make_code(client, bob, merchant_id, currency="EUR")
    fixed = await make_code(client, bob, merchant_id, "25.00")
    listed = await client.get(f"/v1/wallet/merchants/{merchant_id}/qr", headers=bob.headers)
    assert [c["qr_id"] for c in listed.json()["codes"]] == [fixed["qr_id"], static["qr_id"]]
    assert listed.json()["codes"][0]["payload"] == fixed["payload"]  # deterministic signature

    base = f"/v1/wallet/merchants/{merchant_id}/qr/{fixed['qr_id']}"
    svg = await client.get(base + ".svg", headers=bob.headers)
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    png = await client.get(base + ".png", headers=bob.headers)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.headers["cache-control"] == "private, no-store"

    for body, code in (
        ({"kind": "fixed", "currency": "CNY"}, "invalid_input"),
        ({"kind": "static", "currency": "CNY", "amount": "1.00"}, "invalid_input"),
        ({"kind": "fixed", "currency": "CNY", "amount": "0"}, "invalid_amount"),
        ({"kind": "static", "currency": "USD"}, "unsupported_currency"),
        ({"kind": "static", "currency": "usd"}, "unsupported_currency"),
        ({"kind": "static", "currency": "CNY", "label": "a\u0000b"}, "invalid_input"),
    ):
        refused = await client.post(
            f"/v1/wallet/merchants/{merchant_id}/qr", json=body, headers=bob.headers
        )
        assert (refused.status_code, refused.json()["code"]) == (400, code), body
    missing = await client.get(
        f"/v1/wallet/merchants/{merchant_id}/qr/{GHOST}.png", headers=bob.headers
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "qr_not_found")
    await audit_ok(app)


async def test_a_stranger_gets_404_on_every_merchant_and_payment_path(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    carol = await member(client, "carol")
    await fund(app, alice.user_id, 10_00)
    merchant_id = await register_merchant(app, bob.user_id)
    code = await make_code(client, bob, merchant_id)
    payment_id = (await pay(client, alice, code["payload"], "5.00")).json()["payment_id"]

    def merchant_paths(mid: str, qid: str) -> list[tuple[str, str, dict[str, object] | None]]:
        return [
            ("GET", f"/v1/wallet/merchants/{mid}/qr", None),
            ("POST", f"/v1/wallet/merchants/{mid}/qr", {"kind": "static", "currency": "CNY"}),
            ("GET", f"/v1/wallet/merchants/{mid}/qr/{qid}.svg", None),
            ("GET", f"/v1/wallet/merchants/{mid}/qr/{qid}.png", None),
            ("DELETE", f"/v1/wallet/merchants/{mid}/qr/{qid}", None),
            ("GET", f"/v1/wallet/merchants/{mid}/payments", None),
            ("GET", f"/v1/wallet/merchants/{mid}/statement?currency=CNY", None),
        ]

    # Someone else's merchant, one that does not exist, and a malformed id look the same.
    for who, mid in ((carol, merchant_id), (alice, merchant_id), (bob, GHOST), (bob, "x")):
        for method, path, body in merchant_paths(mid, code["qr_id"]):
            response = await client.request(method, path, json=body, headers=who.headers)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["code"] == "merchant_not_found"
    payment_paths: list[tuple[str, str, dict[str, object] | None]] = [
        ("GET", f"/v1/wallet/payments/{payment_id}", None),
        ("POST", f"/v1/wallet/payments/{payment_id}/refunds", {"amount": "1.00", "pin": "1"}),
    ]
    for method, path, body in payment_paths:
        headers = {**carol.headers, "Idempotency-Key": "k"}
        response = await client.request(method, path, json=body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (404, "payment_not_found")
    assert (await client.get("/v1/wallet/merchants/mine", headers=carol.headers)).json() == {
        "merchants": []
    }
    # The code is still live: the stranger's DELETE revoked nothing.
    assert (await pay(client, alice, code["payload"], "1.00")).status_code == 201
    await audit_ok(app)


async def test_the_merchant_payment_list_pages_newest_first(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await fund(app, alice.user_id, 10_00)
    merchant_id = await register_merchant(app, bob.user_id)
    qr = (await make_code(client, bob, merchant_id))["payload"]
    ids = [(await pay(client, alice, qr, f"0.0{n}")).json()["payment_id"] for n in range(1, 6)]
    path = f"/v1/wallet/merchants/{merchant_id}/payments"
    first = (await client.get(path + "?limit=3", headers=bob.headers)).json()
    assert [p["payment_id"] for p in first["payments"]] == ids[::-1][:3]
    assert first["payments"][0]["payer_user_id"] == alice.user_id
    rest = await client.get(
        path, params={"limit": 3, "before": first["next_before"]}, headers=bob.headers
    )
    assert [p["payment_id"] for p in rest.json()["payments"]] == ids[::-1][3:]
    assert rest.json()["next_before"] is None
    bad = await client.get(path, params={"before": "yesterday"}, headers=bob.headers)
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_input")
    await audit_ok(app)


async def test_the_registry_refuses_bad_registrations(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    bob: Member = await member(client, "bob")
    registry = app.state.runtime.wallet.merchant_registry
    bad = [
        (MerchantRegistration(bob.user_id, " ", "food", ("CNY",)), InvalidInput),
        (MerchantRegistration(bob.user_id, "x" * 81, "food", ("CNY",)), InvalidInput),
        (MerchantRegistration(bob.user_id, "Shop", "weapons", ("CNY",)), InvalidInput),
        (MerchantRegistration(bob.user_id, "Shop", "food", ()), UnsupportedCurrency),
        (MerchantRegistration(bob.user_id, "Shop", "food", ("JPY",)), UnsupportedCurrency),
        (MerchantRegistration(bob.user_id, "Shop", "food", ("CNY",), 10_000), InvalidInput),
        (MerchantRegistration(GHOST, "Shop", "food", ("CNY",)), InvalidInput),
    ]
    for registration, error in bad:
        with pytest.raises(error):
            await registry.do_register(registration, operator_id="test-operator")
    assert await registry.list_all() == []
