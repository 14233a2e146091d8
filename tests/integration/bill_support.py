"""Helpers for bill tests: billers registered through the wallet's registry (as the admin CLI
does), bills paid through the API."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from courtyard.core.ids import new_id
from courtyard.domains.wallet.billers import BillerSpec
from tests.integration.wallet_support import PIN, Member

POWER_METER = "0123456789"
MOBILE = "13812345678"


async def register_biller(
    app: FastAPI,
    name: str = "City Power",
    category: str = "utilities",
    *,
    currency: str = "CNY",
    pattern: str = "^[0-9]{10}$",
    hint: str = "the 10-digit meter number",
    low: str = "1.00",
    high: str = "5000.00",
) -> str:
    """Register an enabled biller; return its id."""
    spec = BillerSpec(name, category, currency, pattern, hint, low, high)
    created = await app.state.runtime.wallet.billers.do_create_biller(spec)
    biller_id: str = created["biller_id"]
    return biller_id


async def pay_bill(
    http: httpx.AsyncClient,
    payer: Member,
    biller_id: str,
    amount: Any,
    *,
    reference: str = POWER_METER,
    currency: Any = "CNY",
    pin: str = PIN,
    key: str | None = None,
) -> httpx.Response:
    body = {
        "biller_id": biller_id,
        "reference": reference,
        "amount": amount,
        "currency": currency,
        "pin": pin,
    }
    headers = {**payer.headers, "Idempotency-Key": key or new_id()}
    return await http.post("/v1/wallet/bills", json=body, headers=headers)
