"""Helpers for wallet tests: users with a PIN and a direct conversation, funded accounts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from courtyard.core.ids import new_id
from courtyard.domains.wallet import EntryDraft, Leg
from tests.conftest import PASSWORD, bearer, register

PIN = "246810"


@dataclass
class Member:
    user_id: str
    headers: dict[str, str]


async def member(http: httpx.AsyncClient, username: str, *, pin: str = PIN) -> Member:
    """A registered user with a payment PIN set through the API."""
    session = await register(http, username)
    headers = bearer(session)
    response = await http.put(
        "/v1/wallet/pin", json={"pin": pin, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 204, response.text
    return Member(session["user_id"], headers)


async def direct(http: httpx.AsyncClient, a: Member, b: Member) -> str:
    response = await http.post(
        "/v1/conversations", json={"kind": "direct", "members": [b.user_id]}, headers=a.headers
    )
    assert response.status_code in (200, 201), response.text
    conversation_id: str = response.json()["conversation_id"]
    return conversation_id


async def fund(app: FastAPI, user_id: str, amount_minor: int, currency: str = "CNY") -> None:
    """Credit a user as a settled top-up would (the provider flow has its own tests)."""
    wallet = app.state.runtime.wallet
    account = await wallet.accounts.ensure_user(user_id, currency)
    clearing = await wallet.accounts.ensure_system("provider_clearing", currency, "sandbox")
    draft = EntryDraft(
        "topup",
        "topup",
        (Leg(account, amount_minor), Leg(clearing, -amount_minor)),
        initiator="test",
        flow_kind="test",
        flow_id=new_id(),
    )
    async with wallet.db.transaction() as tx, wallet.ledger.book(tx) as book:
        await book.post(draft)


async def balance(http: httpx.AsyncClient, who: Member, currency: str = "CNY") -> int:
    response = await http.get("/v1/wallet", headers=who.headers)
    assert response.status_code == 200, response.text
    for account in response.json()["accounts"]:
        if account["currency"] == currency:
            amount: int = account["balance"]["amount_minor"]
            return amount
    raise AssertionError(f"no {currency} account")


async def transfer(
    http: httpx.AsyncClient,
    sender: Member,
    to: Member,
    amount: str,
    *,
    key: str | None = None,
    pin: str = PIN,
    currency: Any = "CNY",
) -> httpx.Response:
    return await http.post(
        "/v1/wallet/transfers",
        json={"to_user_id": to.user_id, "amount": amount, "currency": currency, "pin": pin},
        headers={**sender.headers, "Idempotency-Key": key or new_id()},
    )
