"""``courtyard wallet withdraw`` against the app served on a loopback port (the CLI runs in a
worker thread with its own event loop), paid out by the in-process sandbox provider."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI

from courtyard.client import Client, Profile
from courtyard.core.money import Money
from tests.conftest import PASSWORD
from tests.integration.test_wallet_cli import PIN, courtyard, signed_in
from tests.integration.wallet_support import fund

PIN_ENV = {"COURTYARD_PIN": PIN}


@pytest.fixture
async def alice(app: FastAPI, live_server: str, tmp_path: Path) -> str:
    """Alice's profile: signed in, 100.00 CNY and a PIN."""
    profile = tmp_path / "alice"
    user_id = await signed_in(live_server, "alice", profile)
    await fund(app, user_id, 100_00)
    async with await sdk(live_server, profile) as client:
        await client.wallet.set_pin(PIN, password=PASSWORD)
    return str(profile)


async def sdk(live_server: str, profile: Path) -> Client:
    stored = Profile(profile).load()
    assert stored is not None
    return Client(live_server, stored.access_token)


async def test_a_withdrawal_from_the_command_line_is_held_then_paid_out(
    alice: str, live_server: str
) -> None:
    made = await courtyard("withdraw", "30.00", "CNY", "--to", "tok_bank_1", "--sandbox-outcome",
                           "succeed", "--key", "w-1", "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "30.00 CNY to tok_bank_1, held." in made.output
    assert PIN not in made.output
    operation_id = made.output.split()[1].rstrip(":")
    again = await courtyard("withdraw", "30.00", "CNY", "--to", "tok_bank_1", "--sandbox-outcome",
                            "succeed", "--key", "w-1", "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert again.exit_code == 0, again.output
    assert f"Withdrawal {operation_id}:" in again.output
    assert "already made earlier with this key" in again.output

    async with await sdk(live_server, Path(alice)) as client:
        for _ in range(500):
            if (await client.wallet.operation(operation_id)).state == "succeeded":
                break
            await asyncio.sleep(0.01)
        assert (await client.wallet.operation(operation_id)).state == "succeeded"
        assert await client.wallet.balance("CNY") == Money(70_00, "CNY")
    assert "70.00" in (await courtyard("balance", "--profile", alice)).output


async def test_the_pin_comes_from_a_hidden_prompt_and_refusals_end_with_one_error_line(
    alice: str,
) -> None:
    prompted = await courtyard("withdraw", "5.00", "CNY", "--to", "tok_bank_1", "--profile", alice,
                               stdin=f"{PIN}\n")  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    assert "5.00 CNY to tok_bank_1, held." in prompted.output
    assert PIN not in prompted.output
    wrong = await courtyard("withdraw", "5.00", "CNY", "--to", "tok_bank_1", "--profile", alice,
                            env={"COURTYARD_PIN": "135790"})  # fmt: skip
    assert wrong.exit_code == 1
    assert "wrong_pin" in wrong.output
    poor = await courtyard("withdraw", "500.00", "CNY", "--to", "tok_bank_1", "--profile", alice,
                           env=PIN_ENV)  # fmt: skip
    assert poor.exit_code == 1
    assert "insufficient_funds" in poor.output
    no_destination = await courtyard("withdraw", "5.00", "CNY", "--profile", alice, env=PIN_ENV)
    assert no_destination.exit_code == 2
    assert "--to" in no_destination.output
    assert "95.00" in (await courtyard("balance", "--profile", alice)).output
