"""``courtyard admin wallet merchant create|list|suspend|activate`` against the test database,
with the server app running on it: registration by username, refusals, and a suspension that
payments see at once. Each change leaves an audit-log entry."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.domains.accounts import OperatorActionsLog
from courtyard.domains.wallet import audit_ledger
from tests.integration.merchant_support import make_code, pay
from tests.integration.operator_cli_support import CLI_OPERATOR, add_operator, operator_env
from tests.integration.wallet_support import fund, member


@pytest.fixture
async def operator_id(database_url: str) -> str:
    """The finance operator every command here runs as."""
    return await add_operator(database_url, CLI_OPERATOR, "finance")


async def admin(database_url: str, *args: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(
            cli, ["admin", "wallet", "merchant", *args, "--db", database_url], env=operator_env()
        )

    return await asyncio.to_thread(invoke)


async def test_an_operator_registers_lists_suspends_and_activates_a_merchant(
    client: httpx.AsyncClient, app: FastAPI, database_url: str, operator_id: str
) -> None:
    alice, bob = await member(client, "alice"), await member(client, "bob")
    await fund(app, alice.user_id, 10_00)
    created = await admin(
        database_url, "create", "--owner", "Bob", "--name", "Noodle Bar", "--category", "food",
        "--currency", "CNY", "--currency", "EUR", "--fee-bps", "150",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "(food, CNY, EUR, fee 150 bps), run by Bob" in created.output
    match = re.search(r"merchant ([0-9a-f-]{36}) registered", created.output)
    assert match, created.output
    merchant_id = match.group(1)

    mine = await client.get("/v1/wallet/merchants/mine", headers=bob.headers)
    (merchant,) = mine.json()["merchants"]
    assert (merchant["merchant_id"], merchant["fee_bps"]) == (merchant_id, 150)
    listed = await admin(database_url, "list")
    assert listed.exit_code == 0, listed.output
    assert merchant_id in listed.output
    assert "Noodle Bar" in listed.output

    code = await make_code(client, bob, merchant_id)
    suspended = await admin(database_url, "suspend", merchant_id)
    assert suspended.exit_code == 0, suspended.output
    assert f"merchant {merchant_id} (Noodle Bar) suspended" in suspended.output
    refused = await pay(client, alice, code["payload"], "1.00")
    assert refused.json()["code"] == "merchant_unavailable"
    activated = await admin(database_url, "activate", merchant_id)
    assert "active" in activated.output
    assert (await pay(client, alice, code["payload"], "1.00")).status_code == 201

    trail = await OperatorActionsLog(app.state.runtime.db).get_latest(
        target=f"merchant:{merchant_id}"
    )
    assert [(a.operator_id, a.action) for a in reversed(trail)] == [
        (operator_id, "wallet.merchant.create"),
        (operator_id, "wallet.merchant.suspend"),
        (operator_id, "wallet.merchant.activate"),
    ]
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


@pytest.mark.usefixtures("operator_id")
async def test_bad_registrations_end_with_one_error_line(
    client: httpx.AsyncClient, app: FastAPI, database_url: str
) -> None:
    await member(client, "bob")
    cases = [
        (["--owner", "nobody"], "No user is called 'nobody'"),
        (["--owner", "bob", "--category", "weapons"], "The category is one of"),
        (["--owner", "bob", "--fee-bps", "10000"], "0 to 9999 basis points"),
        (["--owner", "bob", "--currency", "JPY"], "unsupported_currency"),
    ]
    for args, message in cases:
        options = {"--name": "Shop", "--category": "food", "--currency": "CNY"}
        for name, value in zip(args[::2], args[1::2], strict=True):
            options[name] = value
        flat = [part for pair in options.items() for part in pair]
        result = await admin(database_url, "create", *flat)
        assert result.exit_code == 1, result.output
        assert message in result.output
    unknown = await admin(database_url, "suspend", "01900000-0000-7000-8000-000000000000")
    assert unknown.exit_code == 1
    assert "merchant_not_found" in unknown.output
    assert "no merchants yet" in (await admin(database_url, "list")).output
    assert await app.state.runtime.wallet.merchant_registry.list_all() == []
