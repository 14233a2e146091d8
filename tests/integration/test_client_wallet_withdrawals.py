"""``wallet.withdraw`` in the SDK against the real app and the in-process sandbox provider:
a payout held then settled, a failed one given back, refusals (wrong PIN, too little money),
replays with the same key, and retries of an unknown outcome that hold the money once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client
from courtyard.client.wallet import Operation, Wallet
from courtyard.core.ids import new_id
from courtyard.core.money import Money
from courtyard.domains.wallet import audit_ledger
from tests.conftest import PASSWORD
from tests.integration.test_client_wallet import BASE_URL, PIN, Flaky, Party, party

BANK = "tok_bank_1"


@pytest.fixture(autouse=True)
async def ledger_stays_sound(app: FastAPI) -> AsyncIterator[None]:
    """After every test, prove that the ledger is still sound."""
    yield
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def until(wallet: Wallet, operation_id: str, *states: str) -> Operation:
    """The operation once it reaches one of ``states`` (the in-process sandbox settles and
    calls back in the background)."""
    for _ in range(500):
        operation = await wallet.operation(operation_id)
        if operation.state in states:
            return operation
        await asyncio.sleep(0.01)
    raise AssertionError(f"operation stayed {operation.state}, expected one of {states}")


@pytest.fixture
async def alice(app: FastAPI) -> AsyncIterator[Party]:
    """Alice with a PIN and 10.00 EUR, topped up through the sandbox provider."""
    alice = await party(app, "alice", httpx.ASGITransport(app=app))
    try:
        started = await alice.client.wallet.topup("10.00", "EUR", sandbox={"outcome": "succeed"})
        await until(alice.client.wallet, started.operation_id, "succeeded")
        assert await alice.client.wallet.balance("EUR") == Money(1_000, "EUR")
        yield alice
    finally:
        await alice.client.aclose()


async def test_a_withdrawal_is_held_at_once_then_paid_out(alice: Party) -> None:
    wallet = alice.client.wallet
    held = await wallet.withdraw("4.00", "EUR", BANK, sandbox={"outcome": "succeed"})
    assert (held.kind, held.state, held.amount) == ("withdrawal", "held", Money(400, "EUR"))
    assert held.replayed is False
    assert await wallet.balance("EUR") == Money(600, "EUR")
    done = await until(wallet, held.operation_id, "succeeded", "failed")
    assert (done.state, done.failure_code) == ("succeeded", None)
    assert await wallet.balance("EUR") == Money(600, "EUR")
    statement = await wallet.statement("EUR")
    assert [line.kind for line in statement.lines] == ["withdrawal_hold", "topup"]


async def test_a_failed_payout_gives_the_money_back(alice: Party) -> None:
    wallet = alice.client.wallet
    held = await wallet.withdraw(Money(250, "EUR"), "EUR", BANK, sandbox={"outcome": "fail"})
    # Held at once (the test above shows it); the in-process sandbox may fail the payout and
    # return the money before a balance read here, so only the end state is certain.
    assert (held.state, held.amount) == ("held", Money(250, "EUR"))
    done = await until(wallet, held.operation_id, "succeeded", "failed")
    assert (done.state, done.failure_code) == ("failed", "payout_rejected")
    assert await wallet.balance("EUR") == Money(1_000, "EUR")


async def test_a_wrong_pin_and_too_little_money_are_refused_and_move_nothing(
    alice: Party,
) -> None:
    wallet = alice.client.wallet
    with pytest.raises(ApiError) as wrong:
        await wallet.withdraw("1.00", "EUR", BANK, pin="135790")
    assert (wrong.value.status, wrong.value.code) == (403, "wrong_pin")
    with pytest.raises(ApiError) as poor:
        await wallet.withdraw("10.01", "EUR", BANK)
    assert (poor.value.status, poor.value.code) == (409, "insufficient_funds")
    assert await wallet.balance("EUR") == Money(1_000, "EUR")
    # The right PIN still works: a wrong one is not stored against anything.
    assert (await wallet.withdraw("10.00", "EUR", BANK)).state == "held"
    assert await wallet.balance("EUR") == Money(0, "EUR")


async def test_a_replay_with_the_same_key_answers_the_first_withdrawal_once(
    alice: Party,
) -> None:
    wallet = alice.client.wallet
    key = new_id()
    first = await wallet.withdraw("3.00", "EUR", BANK, sandbox={"outcome": "never"},
                                  idempotency_key=key)  # fmt: skip
    again = await wallet.withdraw("3.00", "EUR", BANK, sandbox={"outcome": "never"},
                                  idempotency_key=key)  # fmt: skip
    assert again.operation_id == first.operation_id
    assert (first.replayed, again.replayed) == (False, True)
    assert await wallet.balance("EUR") == Money(700, "EUR")
    with pytest.raises(ApiError) as changed:
        await wallet.withdraw("4.00", "EUR", BANK, sandbox={"outcome": "never"},
                              idempotency_key=key)  # fmt: skip
    assert changed.value.code == "idempotency_key_reused"
    assert await wallet.balance("EUR") == Money(700, "EUR")


async def test_5xx_answers_are_retried_with_the_same_key_and_body_and_hold_once(
    app: FastAPI, alice: Party
) -> None:
    flaky = Flaky(app, failures=2, status=503)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=5)
        held = await wallet.withdraw("2.00", "EUR", BANK, sandbox={"outcome": "never"})
        assert held.replayed is False
        assert len(flaky.money_calls) == 3
        assert len(set(flaky.money_calls)) == 1
        sent = json.loads(flaky.money_calls[0][1])
        assert (sent["destination"], sent["pin"], sent["amount"]) == (BANK, PIN, "2.00")
        assert await wallet.balance("EUR") == Money(800, "EUR")


async def test_a_pin_and_a_string_amount_are_needed_before_anything_is_sent(
    app: FastAPI, alice: Party
) -> None:
    flaky = Flaky(app, failures=0)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        with pytest.raises(ValueError, match="needs the payment PIN"):
            await Wallet(client).withdraw("1.00", "EUR", BANK)
        with pytest.raises(TypeError, match="decimal string"):
            await Wallet(client, pin=PIN).withdraw(1, "EUR", BANK)  # type: ignore[arg-type]
        assert flaky.money_calls == []
