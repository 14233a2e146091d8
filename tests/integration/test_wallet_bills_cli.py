"""``courtyard wallet billers|bill|bills|spending`` against the app served on a loopback port
(the CLI runs in a worker thread with its own event loop)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from courtyard.client import Client, Profile
from tests.conftest import PASSWORD
from tests.integration.bill_support import MOBILE, POWER_METER, register_biller
from tests.integration.test_wallet_cli import PIN, courtyard, signed_in
from tests.integration.wallet_support import fund

PIN_ENV = {"COURTYARD_PIN": PIN}


@pytest.fixture
async def alice(app: FastAPI, live_server: str, tmp_path: Path) -> str:
    """Alice's profile: signed in, 100.00 CNY, a PIN; and two billers to pay."""
    profile = tmp_path / "alice"
    user_id = await signed_in(live_server, "alice", profile)
    await fund(app, user_id, 100_00)
    stored = Profile(profile).load()
    assert stored is not None
    async with Client(live_server, stored.access_token) as client:
        await client.wallet.set_pin(PIN, password=PASSWORD)
    await register_biller(app)
    await register_biller(app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$",
                          hint="mobile number")  # fmt: skip
    return str(profile)


async def test_billers_then_a_bill_by_name_then_the_list_and_spending(alice: str) -> None:
    listed = await courtyard("billers", "--profile", alice)
    assert listed.exit_code == 0, listed.output
    assert "City Power" in listed.output
    assert "Courtyard Mobile" in listed.output

    paid = await courtyard("bill", "city power", POWER_METER, "42.50", "CNY", "--key", "b-1",
                           "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert paid.exit_code == 0, paid.output
    assert f"42.50 CNY to City Power for {POWER_METER}, completed." in paid.output
    assert PIN not in paid.output
    again = await courtyard("bill", "City Power", POWER_METER, "42.50", "CNY", "--key", "b-1",
                            "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert "already paid earlier with this key" in again.output
    assert again.output.split()[1] == paid.output.split()[1]  # the same bill id
    phone = await courtyard("bill", "Courtyard Mobile", MOBILE, "20.00", "CNY",
                            "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert phone.exit_code == 0, phone.output

    bills = await courtyard("bills", "--profile", alice)
    assert bills.exit_code == 0, bills.output
    assert bills.output.index("20.00 CNY") < bills.output.index("42.50 CNY")  # newest first
    spending = await courtyard("spending", "--from", "2026-01-01", "--to", "2026-02-01",
                               "--currency", "CNY", "--profile", alice)  # fmt: skip
    assert spending.exit_code == 0, spending.output
    lines = spending.output.splitlines()
    utilities = next(line for line in lines if "utilities" in line)
    phone_line = next(line for line in lines if "phone" in line)
    assert "42.50" in utilities
    assert "20.00" in phone_line
    assert utilities.count("█") > phone_line.count("█") > 0
    assert "Received: 0.00 CNY" in spending.output
    balance = (await courtyard("balance", "--profile", alice)).output
    assert "37.50" in balance
    assert "62.50" in balance  # spent today: bills count against the daily limit


async def test_refusals_end_with_one_error_line(alice: str) -> None:
    unknown = await courtyard("bill", "Gas Works", POWER_METER, "1.00", "CNY",
                              "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert unknown.exit_code == 1
    assert "no biller is called 'Gas Works'" in unknown.output
    wrong = await courtyard("bill", "City Power", "12", "1.00", "CNY",
                            "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert wrong.exit_code == 1
    assert "invalid_reference" in wrong.output
    ghost = await courtyard("bill", "01900000-0000-7000-8000-000000000000", POWER_METER, "1.00",
                            "CNY", "--profile", alice, env=PIN_ENV)  # fmt: skip
    assert ghost.exit_code == 1
    assert "biller_not_found" in ghost.output
    too_long = await courtyard("spending", "--from", "2024-01-01", "--to", "2026-01-01",
                               "--currency", "CNY", "--profile", alice)  # fmt: skip
    assert too_long.exit_code == 1
    assert "range_too_long" in too_long.output
    empty = await courtyard("spending", "--currency", "EUR", "--profile", alice)
    assert empty.exit_code == 0, empty.output
    assert "Nothing spent in this period." in empty.output
