"""P2P transfers through the API on SQLite and PostgreSQL: escrow, chat cards, accept,
return, the 24-hour refund, idempotency, PIN lockout, limits and malformed amounts."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from courtyard.core.clock import FrozenClock
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.models import LedgerEntry
from courtyard.streams.events import StreamEvent
from tests.integration.wallet_support import (
    PIN,
    Member,
    balance,
    direct,
    fund,
    member,
    transfer,
)


@pytest.fixture
async def pair(client: httpx.AsyncClient, app: FastAPI) -> tuple[Member, Member]:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await direct(client, alice, bob)
    await fund(app, alice.user_id, 100_00)
    return alice, bob


async def audit_ok(app: FastAPI) -> None:
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def entries(app: FastAPI) -> int:
    async with app.state.runtime.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


async def cards(app: FastAPI, user_id: str) -> list[dict[str, Any]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.scalars(
            select(StreamEvent)
            .where(StreamEvent.user_id == user_id, StreamEvent.type == "conversation.event")
            .order_by(StreamEvent.position)
        )
        return [
            row.content["content"] for row in rows if row.content["type"] == "m.wallet.transfer"
        ]


async def test_a_transfer_is_escrowed_carded_and_accepted(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    sent = await transfer(client, alice, bob, "12.50")
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["state"] == "pending"
    assert body["replayed"] is False
    assert body["amount"] == {"amount_minor": 1250, "currency": "CNY", "amount": "12.50"}
    assert await balance(client, alice) == 100_00 - 1250
    assert await balance(client, bob) == 0
    assert [c["state"] for c in await cards(app, bob.user_id)] == ["pending"]

    accepted = await client.post(
        f"/v1/wallet/transfers/{body['transfer_id']}/accept", headers=bob.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "accepted"
    assert await balance(client, bob) == 1250
    assert [c["state"] for c in await cards(app, alice.user_id)] == ["pending", "accepted"]
    again = await client.post(
        f"/v1/wallet/transfers/{body['transfer_id']}/accept", headers=bob.headers
    )
    assert again.json()["replayed"] is True
    assert await balance(client, bob) == 1250
    listed = await client.get("/v1/wallet/transfers?role=received", headers=bob.headers)
    assert [t["transfer_id"] for t in listed.json()["transfers"]] == [body["transfer_id"]]
    await audit_ok(app)


async def test_a_returned_transfer_goes_back_and_cannot_then_be_accepted(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    transfer_id = (await transfer(client, alice, bob, "30.00")).json()["transfer_id"]
    sender_tries = await client.post(
        f"/v1/wallet/transfers/{transfer_id}/accept", headers=alice.headers
    )
    assert sender_tries.json()["code"] == "not_transfer_recipient"
    returned = await client.post(f"/v1/wallet/transfers/{transfer_id}/return", headers=bob.headers)
    assert returned.json()["state"] == "returned"
    assert await balance(client, alice) == 100_00
    late = await client.post(f"/v1/wallet/transfers/{transfer_id}/accept", headers=bob.headers)
    assert late.status_code == 409
    assert late.json()["code"] == "transfer_not_pending"
    assert late.json()["state"] == "returned"
    await audit_ok(app)


async def test_an_unaccepted_transfer_is_refunded_once_after_24_hours(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    transfer_id = (await transfer(client, alice, bob, "40.00")).json()["transfer_id"]
    clock.advance(hours=23, minutes=59)
    assert await app.state.runtime.due.run_due() == 0
    clock.advance(minutes=1)
    expired = await client.post(f"/v1/wallet/transfers/{transfer_id}/accept", headers=bob.headers)
    assert expired.json()["code"] == "transfer_expired"
    assert await app.state.runtime.due.run_due() == 1
    assert await app.state.runtime.due.run_due() == 0
    state = await client.get(f"/v1/wallet/transfers/{transfer_id}", headers=alice.headers)
    assert state.json()["state"] == "refunded"
    assert await balance(client, alice) == 100_00
    assert [c["state"] for c in await cards(app, bob.user_id)] == ["pending", "refunded"]
    await audit_ok(app)


async def test_accept_racing_the_refund_moves_the_money_once(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    ids = [(await transfer(client, alice, bob, "1.00")).json()["transfer_id"] for _ in range(8)]
    clock.advance(hours=24, seconds=-1)  # accepts pass their expiry check ...
    runtime = app.state.runtime

    async def refunds_at_expiry() -> None:
        await asyncio.sleep(0)
        clock.advance(seconds=1)  # ... while the refunds fall due
        while await runtime.due.run_due():
            pass

    accepts = [client.post(f"/v1/wallet/transfers/{i}/accept", headers=bob.headers) for i in ids]
    answers = await asyncio.gather(*accepts, refunds_at_expiry())
    codes = [a.json().get("code") for a in answers[:-1] if a is not None]
    assert set(codes) <= {None, "transfer_not_pending", "transfer_expired"}
    states = [
        (await client.get(f"/v1/wallet/transfers/{i}", headers=bob.headers)).json()["state"]
        for i in ids
    ]
    accepted = states.count("accepted")
    assert accepted + states.count("refunded") == 8
    assert await balance(client, bob) == accepted * 100
    assert await balance(client, alice) == 100_00 - accepted * 100
    await audit_ok(app)


async def test_a_retry_with_the_same_key_replays_and_a_changed_body_is_refused(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    first = await transfer(client, alice, bob, "5.00", key="pay-1")
    replay = await transfer(client, alice, bob, "5.00", key="pay-1")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == {**first.json(), "replayed": True}
    changed = await transfer(client, alice, bob, "6.00", key="pay-1")
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_key_reused"
    assert await balance(client, alice) == 100_00 - 500
    theirs = await transfer(client, bob, alice, "0.01", key="pay-1")
    assert theirs.json()["code"] == "insufficient_funds"  # keys are per user
    await audit_ok(app)


async def test_a_refusal_under_the_lock_is_stored_for_its_key(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    poor = await transfer(client, alice, bob, "100.01", key="too-much")
    assert poor.status_code == 409
    assert poor.json()["code"] == "insufficient_funds"
    await fund(app, alice.user_id, 1)
    again = await transfer(client, alice, bob, "100.01", key="too-much")
    assert again.json()["code"] == "insufficient_funds"
    assert again.json()["replayed"] is True
    fresh = await transfer(client, alice, bob, "100.01", key="enough-now")
    assert fresh.status_code == 201


async def test_concurrent_twins_with_one_key_move_money_once(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    before = await entries(app)
    answers = await asyncio.gather(
        *(transfer(client, alice, bob, "2.00", key="twin") for _ in range(10))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["transfer_id"] for a in answers}) == 1
    assert sum(not a.json()["replayed"] for a in answers) == 1
    assert await entries(app) == before + 1


async def test_five_wrong_pins_lock_payments_for_15_minutes(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    first = await transfer(client, alice, bob, "1.00", pin="135790", key="k")
    assert first.status_code == 403
    assert first.json()["code"] == "wrong_pin"
    assert first.json()["attempts_left"] == 4
    codes = [
        (await transfer(client, alice, bob, "1.00", pin="135790")).json()["code"] for _ in range(4)
    ]
    assert codes == ["wrong_pin"] * 3 + ["pin_locked"]
    locked = await transfer(client, alice, bob, "1.00")
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    clock.advance(minutes=15)
    unlocked = await transfer(client, alice, bob, "1.00", key="k")  # the key stayed unbound
    assert unlocked.status_code == 201, unlocked.text
    assert await balance(client, alice) == 100_00 - 100


async def test_limits_refuse_large_and_too_many_debits(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    await fund(app, alice.user_id, 200_000_00)
    above = await transfer(client, alice, bob, "50000.01")
    assert above.status_code == 400
    assert above.json()["code"] == "amount_above_limit"
    assert (await transfer(client, alice, bob, "30000.00")).status_code == 201
    over = await transfer(client, alice, bob, "20000.01")
    assert over.status_code == 403
    assert over.json()["code"] == "daily_limit_exceeded"
    assert over.json()["used"]["amount"] == "30000.00"


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("1.234", "CNY", "invalid_amount"),
        ("-1", "CNY", "invalid_amount"),
        ("0", "CNY", "invalid_amount"),
        ("1e3", "CNY", "invalid_amount"),
        (" 1", "CNY", "invalid_amount"),
        ("1,00", "CNY", "invalid_amount"),
        ("١٢", "CNY", "invalid_amount"),
        ("NaN", "CNY", "invalid_amount"),
        (".5", "CNY", "invalid_amount"),
        ("00.10", "CNY", "invalid_amount"),
        (10.5, "CNY", "invalid_amount"),
        (True, "CNY", "invalid_amount"),
        (None, "CNY", "invalid_amount"),
        ("1" * 25, "CNY", "invalid_amount"),
        ("1.00", "cny", "unsupported_currency"),
        ("1.00", "XXX", "unsupported_currency"),
        ("1.00", "XAU", "unsupported_currency"),
        ("1.00", "JPY", "unsupported_currency"),
        ("1.00", 156, "unsupported_currency"),
    ],
)
async def test_malformed_amounts_and_currencies_move_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    pair: tuple[Member, Member],
    amount: Any,
    currency: Any,
    code: str,
) -> None:
    alice, bob = pair
    before = await entries(app)
    refused = await transfer(client, alice, bob, amount, currency=currency, key="same")
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == code
    assert await entries(app) == before
    assert (await transfer(client, alice, bob, "1.00", key="same")).status_code == 201


async def test_who_can_send_and_see_a_transfer(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    carol = await member(client, "carol")
    assert (await transfer(client, alice, alice, "1.00")).json()["code"] == "self_transfer"
    assert (await transfer(client, alice, carol, "1.00")).json()["code"] == (
        "no_direct_conversation"
    )
    ghost = Member("01900000-0000-7000-8000-000000000000", {})
    assert (await transfer(client, alice, ghost, "1.00")).json()["code"] == "recipient_not_found"
    transfer_id = (await transfer(client, alice, bob, "1.00")).json()["transfer_id"]
    for path in ("", "/accept", "/return"):
        method = client.get if not path else client.post
        peek = await method(f"/v1/wallet/transfers/{transfer_id}{path}", headers=carol.headers)
        assert peek.status_code == 404
        assert peek.json()["code"] == "transfer_not_found"
    no_key = await client.post(
        "/v1/wallet/transfers",
        json={"to_user_id": bob.user_id, "amount": "1.00", "currency": "CNY", "pin": PIN},
        headers=alice.headers,
    )
    assert no_key.json()["code"] == "idempotency_key_required"


async def test_the_statement_lists_postings_as_json_and_csv(
    client: httpx.AsyncClient, app: FastAPI, pair: tuple[Member, Member]
) -> None:
    alice, bob = pair
    await transfer(client, alice, bob, "7.25")
    page = await client.get("/v1/wallet/statement?currency=CNY", headers=alice.headers)
    assert page.status_code == 200, page.text
    lines = page.json()["lines"]
    assert [line["kind"] for line in lines] == ["transfer_send", "topup"]
    assert lines[0]["amount"]["amount"] == "-7.25"
    assert lines[0]["balance_after"]["amount"] == "92.75"
    assert lines[0]["counterparty"] == {"kind": "user", "id": bob.user_id, "name": "Bob"}
    csv = await client.get("/v1/wallet/statement?currency=CNY&format=csv", headers=alice.headers)
    assert csv.headers["content-type"].startswith("text/csv")
    rows = csv.text.strip().split("\r\n")
    assert rows[0].startswith("posted_at,entry_id,kind")
    assert ",'-7.25," not in rows[1]  # amounts are numbers, not formula-escaped text
    assert ",Bob,-7.25,CNY,92.75,transfer," in rows[1]
