"""``courtyard admin wallet biller create|list|disable|enable`` on a migrated database:
what operators register is what payers can pay, and bad registrations are refused."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from courtyard.cli.main import app
from courtyard.core.clock import SystemClock
from courtyard.db import Database
from courtyard.domains.accounts import OperatorActionsLog
from courtyard.domains.wallet import AccountDirectory
from courtyard.domains.wallet.billers import BillerRegistry
from tests.integration.operator_cli_support import CLI_OPERATOR, add_operator, operator_env

runner = CliRunner()
POWER = [
    "--name", "City Power", "--category", "utilities", "--currency", "CNY",
    "--reference-pattern", "^[0-9]{10}$", "--reference-hint", "10-digit meter number",
    "--min", "1.00", "--max", "5000.00",
]  # fmt: skip


@pytest.fixture(autouse=True)
def operator_id(database_url: str) -> str:
    """The finance operator every command here runs as."""
    return asyncio.run(add_operator(database_url, CLI_OPERATOR, "finance"))


def biller(database_url: str, *args: str) -> Result:
    return runner.invoke(
        app, ["admin", "wallet", "biller", *args, "--db", database_url], env=operator_env()
    )


def recorded(url: str) -> list[tuple[str, str]]:
    """Who did what, oldest first, from the audit log."""

    async def read() -> list[tuple[str, str]]:
        db = Database(url)
        try:
            return [(a.operator_id, a.action) for a in await OperatorActionsLog(db).get_latest()]
        finally:
            await db.dispose()

    return asyncio.run(read())[::-1]


def stored(url: str) -> list[dict[str, Any]]:
    """The billers as the registry reads them, with each one's ledger account kind."""

    async def read() -> list[dict[str, Any]]:
        db = Database(url)
        try:
            clock = SystemClock()
            accounts = AccountDirectory(db, clock)
            rows = await BillerRegistry(db, clock, accounts, ["CNY"]).list_billers(
                enabled_only=False
            )
            for row in rows:
                account = await accounts.existing_biller(row["biller_id"], row["currency"])
                row["account_matches"] = account.account_id == row["account_id"]
                row["account_owner"] = (account.owner_kind, account.owner_id, account.cached)
            return rows
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_a_created_biller_is_listed_with_its_own_ledger_account(database_url: str) -> None:
    created = biller(database_url, "create", *POWER)
    assert created.exit_code == 0, created.output
    (biller_id,) = re.findall(r"biller ([0-9a-f-]{36}) created: City Power", created.output)
    (row,) = stored(database_url)
    assert row["biller_id"] == biller_id
    assert (row["category"], row["currency"], row["enabled"]) == ("utilities", "CNY", True)
    assert (row["min"]["amount"], row["max"]["amount"]) == ("1.00", "5000.00")
    assert (row["reference_pattern"], row["reference_hint"]) == (
        "^[0-9]{10}$",
        "10-digit meter number",
    )
    assert row["account_matches"] is True
    assert row["account_owner"] == ("biller", biller_id, True)
    listed = biller(database_url, "list")
    assert listed.exit_code == 0, listed.output
    assert biller_id in listed.output
    assert "City Power" in listed.output
    assert "1.00-5000.00 CNY" in listed.output


def option(name: str, value: str) -> list[str]:
    """POWER with one option's value replaced."""
    changed = list(POWER)
    changed[changed.index(name) + 1] = value
    return changed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (option("--reference-pattern", "([0-9]"), "invalid_biller: The reference pattern is not"),
        (option("--category", "food"), "invalid_biller: The category is one of"),
        (option("--name", "  "), "invalid_biller: A biller's name"),
        (option("--currency", "JPY"), "unsupported_currency"),
        (option("--currency", "cny"), "unsupported_currency"),
        (option("--min", "0"), "invalid_amount"),
        (option("--max", "1.005"), "invalid_amount"),
        (option("--min", "6000.00"), "invalid_biller: The largest bill must not be smaller"),
    ],
)
def test_bad_registrations_are_refused_and_store_nothing(
    database_url: str, args: list[str], message: str
) -> None:
    refused = biller(database_url, "create", *args)
    assert refused.exit_code == 1, refused.output
    assert message in refused.output
    assert stored(database_url) == []


def test_disable_and_enable_switch_payments_off_and_on(database_url: str, operator_id: str) -> None:
    created = biller(database_url, "create", *POWER)
    biller_id = created.output.split()[1]
    disabled = biller(database_url, "disable", biller_id)
    assert disabled.exit_code == 0, disabled.output
    assert f"biller {biller_id} (City Power) disabled" in disabled.output
    assert [row["enabled"] for row in stored(database_url)] == [False]
    assert (
        "City Power  utilities  1.00-5000.00 CNY  ^[0-9]{10}$  disabled"
        in biller(database_url, "list").output
    )
    enabled = biller(database_url, "enable", biller_id)
    assert "enabled" in enabled.output
    assert [row["enabled"] for row in stored(database_url)] == [True]
    for unknown in ("01900000-0000-7000-8000-000000000000", "not-an-id"):
        missing = biller(database_url, "disable", unknown)
        assert missing.exit_code == 1
        assert "biller_not_found" in missing.output
    assert recorded(database_url) == [
        (operator_id, "wallet.biller.create"),
        (operator_id, "wallet.biller.disable"),
        (operator_id, "wallet.biller.enable"),
    ]
