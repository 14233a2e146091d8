"""Erasure through the API on SQLite and PostgreSQL: the password asked again, 30 days' grace,
cancelling, the due job, an empty wallet required (and money arriving meanwhile holding the
erasure), and after it: no sign-in, pseudonymised payment records, a clean ledger audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from courtyard.core.clock import FrozenClock
from courtyard.domains.wallet import audit_ledger
from tests.conftest import PASSWORD
from tests.integration.wallet_support import Member, direct, fund, member, transfer

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
ERASURE = "/v1/privacy/erasure"


async def ask(client: httpx.AsyncClient, who: Member, password: str = PASSWORD) -> httpx.Response:
    return await client.post(ERASURE, json={"password": password}, headers=who.headers)


async def rows(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    async with app.state.runtime.db.read() as session:
        return list((await session.execute(text(sql), params)).all())


async def audit_actions(app: FastAPI, user_id: str) -> list[str]:
    found = await rows(
        app, "SELECT action FROM audit_log WHERE subject_user_id = :u ORDER BY seq", u=user_id
    )
    return [row[0] for row in found]


async def alice_paid_everything_to_bob(
    client: httpx.AsyncClient, app: FastAPI
) -> tuple[Member, Member, str]:
    """Alice had 100.00 CNY and sent all of it to Bob, who accepted: her wallet is empty but
    her payment records exist."""
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await direct(client, alice, bob)
    await fund(app, alice.user_id, 100_00)
    sent = await transfer(client, alice, bob, "100.00")
    assert sent.status_code == 201, sent.text
    transfer_id = sent.json()["transfer_id"]
    accepted = await client.post(f"/v1/wallet/transfers/{transfer_id}/accept", headers=bob.headers)
    assert accepted.status_code == 200, accepted.text
    return alice, bob, transfer_id


async def test_erasure_waits_30_days_then_the_account_is_gone_and_the_books_still_balance(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice, bob, transfer_id = await alice_paid_everything_to_bob(client, app)
    runtime = app.state.runtime
    wrong = await ask(client, alice, "not my password")
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")

    asked = await ask(client, alice)
    assert asked.status_code == 202, asked.text
    due = clock.now() + dt.timedelta(days=30)
    assert asked.json() == {
        "status": "pending",
        "requested_at": clock.now().isoformat().replace("+00:00", "Z"),
        "due_at": due.isoformat().replace("+00:00", "Z"),
        "cancellable": True,
        "explanation": None,
    }
    again = await ask(client, alice)
    assert (again.status_code, again.json()["code"]) == (409, "erasure_pending")
    job = await runtime.due.get_job(f"privacy.erase:{alice.user_id}")
    assert (job.state, job.due_at) == ("pending", due)

    clock.advance(days=29, hours=23)
    await runtime.due.run_due()
    assert (await client.get(ERASURE, headers=alice.headers)).json()["status"] == "pending"

    clock.advance(hours=1)
    await runtime.due.run_due()
    job = await runtime.due.get_job(f"privacy.erase:{alice.user_id}")
    assert (job.state, job.outcome) == ("done", "applied")

    login = await client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    assert (login.status_code, login.json()["code"]) == (401, "invalid_credentials")
    old_token = await client.get("/v1/account", headers=alice.headers)
    assert old_token.status_code == 401

    [(status, pseudonym, completed)] = await rows(
        app, "SELECT status, pseudonym, completed_at FROM erasure_requests WHERE user_id = :u",
        u=alice.user_id,
    )  # fmt: skip
    assert (status, bool(pseudonym), completed is not None) == ("done", True, True)
    owners = await rows(
        app, "SELECT owner_id, status FROM ledger_accounts WHERE owner_kind = 'user' "
        "AND owner_id IN (:a, :p)", a=alice.user_id, p=pseudonym,
    )  # fmt: skip
    assert owners == [(pseudonym, "closed")]
    assert await rows(
        app, "SELECT sender_user_id, recipient_user_id FROM transfers WHERE transfer_id = :t",
        t=transfer_id,
    ) == [(pseudonym, bob.user_id)]  # fmt: skip
    assert await rows(app, "SELECT 1 FROM users WHERE user_id = :u", u=alice.user_id) == []
    report = await audit_ledger(runtime.db)
    assert report.ok, report.findings
    assert report.entries >= 3  # the top-up, the send, the accept: none removed
    assert await audit_actions(app, alice.user_id) == [
        "privacy.erasure.request",
        "privacy.erasure.done",
    ]
    # Bob's side is untouched: his balance, and he can still sign in.
    assert (await client.get("/v1/wallet", headers=bob.headers)).status_code == 200


async def test_cancelling_in_the_grace_period_keeps_the_account_and_a_new_request_starts_over(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice = await member(client, "alice")
    runtime = app.state.runtime
    not_asked = await client.delete(ERASURE, headers=alice.headers)
    assert (not_asked.status_code, not_asked.json()["code"]) == (404, "erasure_not_found")
    assert (await ask(client, alice)).status_code == 202
    clock.advance(days=10)
    cancelled = await client.delete(ERASURE, headers=alice.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancellable"]) == ("cancelled", False)
    twice = await client.delete(ERASURE, headers=alice.headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "erasure_not_pending")

    clock.advance(days=25)  # past the first request's due time
    await runtime.due.run_due()
    job = await runtime.due.get_job(f"privacy.erase:{alice.user_id}")
    assert (job.state, job.outcome) == ("done", "skipped")
    assert (await client.get("/v1/account", headers=alice.headers)).status_code == 200

    renewed = await ask(client, alice)
    assert renewed.status_code == 202, renewed.text
    due = clock.now() + dt.timedelta(days=30)
    job = await runtime.due.get_job(f"privacy.erase:{alice.user_id}")
    assert (job.state, job.due_at, job.attempts) == ("pending", due, 0)
    notices = (await client.get("/v1/privacy/notices", headers=alice.headers)).json()
    assert [n["title"] for n in notices] == [
        "Your account will be erased",
        "Your erasure was cancelled",
        "Your account will be erased",
    ]
    assert {n["kind"] for n in notices} == {"erasure"}
    assert await audit_actions(app, alice.user_id) == [
        "privacy.erasure.request",
        "privacy.erasure.cancel",
        "privacy.erasure.request",
    ]


async def test_a_balance_or_money_in_flight_refuses_erasure_with_what_is_left(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await direct(client, alice, bob)
    await fund(app, alice.user_id, 5_00)
    refused = await ask(client, alice)
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["code"] == "wallet_not_empty"
    assert body["balances"] == [{"amount_minor": 500, "currency": "CNY", "amount": "5.00"}]
    assert body["in_flight"] == []

    sent = await transfer(client, alice, bob, "5.00")  # pending until Bob accepts
    transfer_id = sent.json()["transfer_id"]
    for who in (alice, bob):
        refused = await ask(client, who)
        assert refused.json()["code"] == "wallet_not_empty", who
        assert refused.json()["in_flight"] == [f"transfer:{transfer_id}"]
    assert (await client.get(ERASURE, headers=alice.headers)).status_code == 404


async def test_money_arriving_in_the_grace_period_holds_the_erasure_until_it_has_gone(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await direct(client, alice, bob)
    runtime = app.state.runtime
    assert (await ask(client, alice)).status_code == 202
    await fund(app, bob.user_id, 3_00)
    clock.advance(days=29, hours=12)
    sent = await transfer(client, bob, alice, "3.00")  # pending: refunded to Bob after 24 h
    assert sent.status_code == 201, sent.text

    clock.advance(hours=12)
    await runtime.due.run_due()
    held = (await client.get(ERASURE, headers=alice.headers)).json()
    assert held["status"] == "held"
    assert held["cancellable"] is True
    assert "legal obligation" in held["explanation"]
    assert "held_reason" not in held
    [(reason,)] = await rows(
        app, "SELECT held_reason FROM erasure_requests WHERE user_id = :u", u=alice.user_id
    )
    assert reason == f"wallet_not_empty: transfer:{sent.json()['transfer_id']}"

    clock.advance(days=1)  # the transfer is refunded to Bob; the daily re-check re-arms
    await runtime.due.run_due()
    async with runtime.db.transaction() as tx:
        assert await runtime.rights.erasures.recheck_all(tx, clock.now()) == 1
    await runtime.due.run_due()
    assert (await client.get("/v1/account", headers=alice.headers)).status_code == 401
    assert await audit_actions(app, alice.user_id) == [
        "privacy.erasure.request",
        "privacy.erasure.held",
        "privacy.erasure.done",
    ]
