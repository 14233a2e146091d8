"""Top-ups and withdrawals through the API and the in-process sandbox provider, on SQLite and
PostgreSQL: settled and failed operations, signed callbacks (forged, stale, duplicate,
mismatched), the check job finding a lost callback, idempotency and malformed amounts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import load_settings
from courtyard.core.ids import new_id
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.flow_models import ProviderCallback
from courtyard.domains.wallet.models import LedgerEntry
from courtyard.streams.events import StreamEvent
from tests.conftest import bearer, register
from tests.integration.wallet_support import PIN, Member, balance, member

CALLBACKS = "/v1/wallet/providers/sandbox/callbacks"


@pytest.fixture(autouse=True)
async def ledger_stays_sound(app: FastAPI) -> AsyncIterator[None]:
    """After every test, prove that the ledger is still sound."""
    yield
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Member:
    return await member(client, "alice")


def secret(app: FastAPI) -> bytes:
    return str(app.state.runtime.settings.wallet_provider_secret).encode()


async def topup(
    http: httpx.AsyncClient,
    who: Member,
    amount: Any = "10.00",
    *,
    key: str | None = None,
    currency: Any = "EUR",
    sandbox: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"amount": amount, "currency": currency}
    if sandbox is not None:
        body["sandbox"] = sandbox
    headers = {**who.headers, "Idempotency-Key": key or new_id()}
    return await http.post("/v1/wallet/topups", json=body, headers=headers)


async def withdraw(
    http: httpx.AsyncClient,
    who: Member,
    amount: str,
    *,
    sandbox: dict[str, Any],
    key: str | None = None,
    pin: str = PIN,
) -> httpx.Response:
    body = {"amount": amount, "currency": "EUR", "destination": "tok_bank_1", "pin": pin}
    headers = {**who.headers, "Idempotency-Key": key or new_id()}
    return await http.post(
        "/v1/wallet/withdrawals", json={**body, "sandbox": sandbox}, headers=headers
    )


async def settled(
    http: httpx.AsyncClient, who: Member, operation_id: str, *states: str
) -> dict[str, Any]:
    """The operation once it reaches one of ``states`` (the in-process sandbox settles and
    calls back in the background)."""
    for _ in range(500):
        response = await http.get(f"/v1/wallet/operations/{operation_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] in states:
            return body
        await asyncio.sleep(0.01)
    raise AssertionError(f"operation stayed {body['state']}, expected one of {states}")


async def funded(http: httpx.AsyncClient, who: Member, amount: str = "10.00") -> None:
    created = await topup(http, who, amount, sandbox={"outcome": "succeed"})
    assert created.status_code == 201, created.text
    await settled(http, who, created.json()["operation_id"], "succeeded")


def event(operation_id: str, status: str, amount_minor: int = 1000, **extra: Any) -> bytes:
    body = {
        "event_id": new_id(),
        "operation_id": operation_id,
        "provider_ref": "sbx_test",
        "kind": "charge",
        "status": status,
        "amount_minor": amount_minor,
        "currency": "EUR",
        "failure_code": None,
        "occurred_at": "2026-01-01T00:00:00Z",
    }
    return json.dumps(body | extra).encode()


def signed(key: bytes, body: bytes, t: int) -> dict[str, str]:
    mac = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Courtyard-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


async def deliver(
    http: httpx.AsyncClient, app: FastAPI, body: bytes, *, age: int = 0, key: bytes | None = None
) -> httpx.Response:
    t = int(app.state.runtime.clock.now().timestamp()) - age
    return await http.post(CALLBACKS, content=body, headers=signed(key or secret(app), body, t))


async def count(app: FastAPI, model: Any) -> int:
    async with app.state.runtime.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def callback_outcomes(app: FastAPI, operation_id: str) -> list[str]:
    async with app.state.runtime.db.read() as session:
        rows = await session.scalars(
            select(ProviderCallback.outcome)
            .where(ProviderCallback.operation_id == operation_id)
            .order_by(ProviderCallback.received_at, ProviderCallback.event_id)
        )
        return list(rows)


async def operation_states(app: FastAPI, user_id: str) -> list[str]:
    async with app.state.runtime.db.read() as session:
        rows = await session.scalars(
            select(StreamEvent)
            .where(StreamEvent.user_id == user_id, StreamEvent.type == "wallet.operation")
            .order_by(StreamEvent.position)
        )
        return [row.content["state"] for row in rows]


async def test_a_topup_is_submitted_paid_and_credited_once(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, alice: Member
) -> None:
    created = await topup(client, alice, "12.50", sandbox={"outcome": "succeed", "delay_ms": 1000})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["state"], body["replayed"]) == ("topup", "created", False)
    assert body["amount"] == {"amount_minor": 1250, "currency": "EUR", "amount": "12.50"}
    # Submitted before the answer; the sandbox settles once its delay has passed.
    assert (await settled(client, alice, body["operation_id"], "pending"))["state"] == "pending"
    assert await balance(client, alice, "EUR") == 0
    clock.advance(seconds=2)
    done = await settled(client, alice, body["operation_id"], "succeeded")
    assert done["failure_code"] is None
    assert await balance(client, alice, "EUR") == 1250
    assert await count(app, LedgerEntry) == 1
    assert await operation_states(app, alice.user_id) == ["created", "pending", "succeeded"]


async def test_a_failed_topup_moves_nothing(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "fail"})
    done = await settled(client, alice, created.json()["operation_id"], "failed", "succeeded")
    assert (done["state"], done["failure_code"]) == ("failed", "card_declined")
    assert await balance(client, alice, "EUR") == 0
    assert await count(app, LedgerEntry) == 0


async def test_duplicate_deliveries_of_one_event_credit_once(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "succeed", "duplicates": 3})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "succeeded")
    await asyncio.sleep(0.5)  # the three further copies arrive right after the first
    assert await callback_outcomes(app, operation_id) == ["applied"]
    assert await balance(client, alice, "EUR") == 1000
    assert await count(app, LedgerEntry) == 1


async def test_forged_stale_unknown_and_oversized_callbacks_are_refused(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    await settled(client, alice, operation_id, "pending")
    paid = event(operation_id, "succeeded")
    forged = await deliver(client, app, paid, key=b"not-the-secret-" * 3)
    stale = await deliver(client, app, paid, age=301)
    unsigned = await client.post(CALLBACKS, content=paid)
    other = await client.post(
        "/v1/wallet/providers/acme/callbacks", content=paid, headers=signed(secret(app), paid, 0)
    )
    for refused in (forged, stale, unsigned, other):
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "bad_signature"
    unknown = await deliver(client, app, event(new_id(), "succeeded"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "operation_not_found")
    huge = await deliver(client, app, b" " * (64 * 1024 + 1))
    assert huge.status_code == 413
    assert await callback_outcomes(app, operation_id) == []
    assert (await settled(client, alice, operation_id, "pending"))["state"] == "pending"
    # Within the tolerance the same signed event is accepted, once.
    accepted = await deliver(client, app, paid, age=299)
    assert (accepted.status_code, accepted.json()) == (200, {"ok": True})
    again = await deliver(client, app, paid)
    later = await deliver(client, app, event(operation_id, "succeeded"))
    assert again.status_code == later.status_code == 200
    assert await callback_outcomes(app, operation_id) in (
        ["applied", "noop"],
        ["noop", "applied"],  # same received_at: ordered by event id only
    )
    assert await balance(client, alice, "EUR") == 1000
    assert await count(app, LedgerEntry) == 1


async def test_a_mismatched_callback_sends_the_topup_to_review_without_money(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    wrong = await deliver(client, app, event(operation_id, "succeeded", amount_minor=1001))
    assert wrong.status_code == 200
    review = await settled(client, alice, operation_id, "review")
    assert review["failure_code"] == "provider_mismatch"
    right = await deliver(client, app, event(operation_id, "succeeded"))
    assert right.status_code == 200
    assert (await settled(client, alice, operation_id, "review"))["state"] == "review"
    assert sorted(await callback_outcomes(app, operation_id)) == ["mismatch", "noop"]
    assert await count(app, LedgerEntry) == 0


async def test_success_after_failure_is_a_contradiction_for_review(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    failed = event(operation_id, "failed", failure_code="card_declined")
    assert (await deliver(client, app, failed)).status_code == 200
    assert (await settled(client, alice, operation_id, "failed"))["failure_code"] == "card_declined"
    assert (await deliver(client, app, event(operation_id, "succeeded"))).status_code == 200
    await settled(client, alice, operation_id, "review")
    assert await count(app, LedgerEntry) == 0


async def test_the_sandbox_reporting_a_wrong_amount_ends_in_review(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "succeed", "wrong_amount": True})
    await settled(client, alice, created.json()["operation_id"], "review")
    assert await balance(client, alice, "EUR") == 0


async def test_a_lost_callback_is_applied_by_the_check_job(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, alice: Member
) -> None:
    created = await topup(client, alice, sandbox={"outcome": "succeed", "drop_callbacks": True})
    operation_id = created.json()["operation_id"]
    sandbox = app.state.runtime.wallet.operations.provider
    for _ in range(500):
        if (await sandbox.status(operation_id)).status == "succeeded":
            break
        await asyncio.sleep(0.01)
    assert (await settled(client, alice, operation_id, "pending"))["state"] == "pending"
    clock.advance(minutes=16)
    await app.state.runtime.due.run_due()
    await settled(client, alice, operation_id, "succeeded")
    assert await balance(client, alice, "EUR") == 1000
    job = await app.state.runtime.due.get_job(f"topup.check:{operation_id}:1")
    assert job is not None
    assert job.state == "done"


async def test_a_withdrawal_is_held_then_settled(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    await funded(client, alice)
    created = await withdraw(client, alice, "4.00", sandbox={"outcome": "succeed"})
    assert created.status_code == 201, created.text
    assert (created.json()["kind"], created.json()["state"]) == ("withdrawal", "held")
    assert await balance(client, alice, "EUR") == 600  # held at once
    await settled(client, alice, created.json()["operation_id"], "succeeded")
    assert await balance(client, alice, "EUR") == 600
    assert await count(app, LedgerEntry) == 3  # topup, withdrawal_hold, withdrawal_settle
    wallet = await client.get("/v1/wallet", headers=alice.headers)
    limits = {row["currency"]: row for row in wallet.json()["limits"]}
    assert limits["EUR"]["used_today"]["amount_minor"] == 400


async def test_a_failed_withdrawal_gives_the_money_back(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    await funded(client, alice)
    created = await withdraw(client, alice, "4.00", sandbox={"outcome": "fail"})
    done = await settled(client, alice, created.json()["operation_id"], "failed", "succeeded")
    assert (done["state"], done["failure_code"]) == ("failed", "payout_rejected")
    assert await balance(client, alice, "EUR") == 1000
    assert await count(app, LedgerEntry) == 3  # topup, withdrawal_hold, withdrawal_reverse


async def test_withdrawal_refusals_under_the_lock_are_stored_and_a_wrong_pin_is_not(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    await funded(client, alice, "1.00")
    wrong_pin = await withdraw(client, alice, "0.50", sandbox={}, key="k1", pin="135790")
    assert (wrong_pin.status_code, wrong_pin.json()["code"]) == (403, "wrong_pin")
    too_much = await withdraw(client, alice, "5.00", sandbox={}, key="k1")
    assert (too_much.status_code, too_much.json()["code"]) == (409, "insufficient_funds")
    replay = await withdraw(client, alice, "5.00", sandbox={}, key="k1")
    assert (replay.status_code, replay.json()["code"]) == (409, "insufficient_funds")
    assert await balance(client, alice, "EUR") == 100
    assert await count(app, LedgerEntry) == 1


async def test_a_retry_replays_the_first_answer_and_a_changed_body_is_refused(
    client: httpx.AsyncClient, app: FastAPI, alice: Member
) -> None:
    first = await topup(client, alice, "3.00", key="topup-1", sandbox={"outcome": "succeed"})
    await settled(client, alice, first.json()["operation_id"], "succeeded")
    again = await topup(client, alice, "3.00", key="topup-1", sandbox={"outcome": "succeed"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "replayed": True}  # the first answer: created
    changed = await topup(client, alice, "4.00", key="topup-1", sandbox={"outcome": "succeed"})
    assert (changed.status_code, changed.json()["code"]) == (409, "idempotency_key_reused")
    as_withdrawal = await withdraw(
        client, alice, "3.00", sandbox={"outcome": "succeed"}, key="topup-1"
    )
    assert as_withdrawal.json()["code"] == "idempotency_key_reused"
    assert await balance(client, alice, "EUR") == 300
    bob = await member(client, "bob")  # keys are per user
    assert (await topup(client, bob, "3.00", key="topup-1")).json()["replayed"] is False


@pytest.mark.parametrize(
    ("amount", "currency", "code"),
    [
        ("1.234", "EUR", "invalid_amount"),
        ("-1", "EUR", "invalid_amount"),
        ("0", "EUR", "invalid_amount"),
        ("1e3", "EUR", "invalid_amount"),
        (10.5, "EUR", "invalid_amount"),
        (True, "EUR", "invalid_amount"),
        (None, "EUR", "invalid_amount"),
        ("", "EUR", "invalid_amount"),
        ("1" * 25, "EUR", "invalid_amount"),
        ("1.00", "eur", "unsupported_currency"),
        ("1.00", "XAU", "unsupported_currency"),
    ],
)
async def test_malformed_amounts_are_refused_and_bind_no_key(
    client: httpx.AsyncClient, app: FastAPI, alice: Member, amount: Any, currency: Any, code: str
) -> None:
    async def withdraw() -> httpx.Response:
        return await client.post(
            "/v1/wallet/withdrawals",
            json={"amount": amount, "currency": currency, "destination": "t", "pin": PIN},
            headers={**alice.headers, "Idempotency-Key": "same"},
        )

    for refused in (await topup(client, alice, amount, currency=currency, key="same"),
                    await withdraw()):  # fmt: skip
        assert (refused.status_code, refused.json()["code"]) == (400, code), refused.text
    assert await count(app, LedgerEntry) == 0
    assert (await topup(client, alice, "1.00", key="same")).status_code == 201


async def test_a_key_is_required_and_others_cannot_see_an_operation(
    client: httpx.AsyncClient, alice: Member
) -> None:
    missing = await client.post(
        "/v1/wallet/topups", json={"amount": "1.00", "currency": "EUR"}, headers=alice.headers
    )
    assert missing.json()["code"] == "idempotency_key_required"
    created = await topup(client, alice, sandbox={"outcome": "never"})
    operation_id = created.json()["operation_id"]
    mallory = bearer(await register(client, "mallory"))
    for path in (operation_id, new_id(), "not-an-id"):
        response = await client.get(f"/v1/wallet/operations/{path}", headers=mallory)
        assert (response.status_code, response.json()["code"]) == (404, "operation_not_found")


async def test_without_a_provider_topups_are_unavailable(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path / "none", wallet_provider="none"
    )
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            who = await member(http, "carol")
            refused = await topup(http, who)
            assert (refused.status_code, refused.json()["code"]) == (503, "provider_unavailable")
    finally:
        await application.state.runtime.stop()
