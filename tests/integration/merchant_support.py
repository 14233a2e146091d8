"""Helpers for merchant and QR payment tests: a merchant registered as an operator would,
codes made and paid through the API."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI

from courtyard.core.ids import new_id
from courtyard.core.qr_payload import b64url, from_b64url
from courtyard.domains.wallet import MerchantRegistration
from tests.integration.wallet_support import PIN, Member


async def register_merchant(
    app: FastAPI,
    owner_user_id: str,
    *,
    name: str = "Noodle Bar",
    category: str = "food",
    currencies: tuple[str, ...] = ("CNY",),
    fee_bps: int = 0,
) -> str:
    """Register a merchant through the operator's service; return its id."""
    registry = app.state.runtime.wallet.merchant_registry
    registration = MerchantRegistration(owner_user_id, name, category, currencies, fee_bps)
    merchant = await registry.do_register(registration, operator_id="test-operator")
    merchant_id: str = merchant["merchant_id"]
    return merchant_id


async def make_code(
    http: httpx.AsyncClient,
    owner: Member,
    merchant_id: str,
    amount: str | None = None,
    currency: str = "CNY",
    label: str = "till 1",
) -> dict[str, Any]:
    """A static code (no ``amount``) or a fixed one, made by the owner through the API."""
    body: dict[str, Any] = {
        "kind": "static" if amount is None else "fixed",
        "currency": currency,
        "label": label,
    }
    if amount is not None:
        body["amount"] = amount
    response = await http.post(
        f"/v1/wallet/merchants/{merchant_id}/qr", json=body, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    code: dict[str, Any] = response.json()
    return code


async def pay(
    http: httpx.AsyncClient,
    payer: Member,
    qr: Any,
    amount: Any = None,
    *,
    currency: Any = None,
    key: str | None = None,
    pin: str = PIN,
) -> httpx.Response:
    body: dict[str, Any] = {"qr": qr, "pin": pin}
    if amount is not None:
        body["amount"] = amount
    if currency is not None:
        body["currency"] = currency
    return await http.post(
        "/v1/wallet/payments",
        json=body,
        headers={**payer.headers, "Idempotency-Key": key or new_id()},
    )


async def refund(
    http: httpx.AsyncClient,
    owner: Member,
    payment_id: str,
    amount: Any,
    *,
    key: str | None = None,
    pin: str = PIN,
) -> httpx.Response:
    return await http.post(
        f"/v1/wallet/payments/{payment_id}/refunds",
        json={"amount": amount, "pin": pin},
        headers={**owner.headers, "Idempotency-Key": key or new_id()},
    )


async def merchant_balance(http: httpx.AsyncClient, owner: Member, merchant_id: str) -> int:
    """The merchant's CNY balance as its owner sees it."""
    response = await http.get("/v1/wallet/merchants/mine", headers=owner.headers)
    assert response.status_code == 200, response.text
    for merchant in response.json()["merchants"]:
        if merchant["merchant_id"] == merchant_id:
            amount: int = merchant["balances"][0]["amount_minor"]
            return amount
    raise AssertionError(f"{merchant_id} is not among the owner's merchants")


def forge(payload_uri: str, **changes: Any) -> str:
    """The same code with payload fields changed and the old signature kept."""
    head, signature = payload_uri.split("&s=")
    fields = json.loads(from_b64url(head.removeprefix("courtyard://pay?p="), "payload"))
    fields.update(changes)
    data = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return f"courtyard://pay?p={b64url(data)}&s={signature}"
