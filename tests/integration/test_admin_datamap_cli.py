"""``courtyard admin datamap``: any operator prints the data map (as a table, as JSON, one
table); without an operator it refuses."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner, Result

from courtyard.cli.main import app
from courtyard.domains.privacy import data_map_json, get_data_map
from tests.integration.operator_cli_support import cli_operator

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


def datamap(database_url: str, env: dict[str, str], *args: str) -> Result:
    where = {"COURTYARD_DATABASE_URL": database_url, **env}
    return CliRunner().invoke(app, ["admin", "datamap", *args], env=where)


@pytest.fixture
async def support(database_url: str) -> dict[str, str]:
    return await cli_operator(database_url, "support")


def test_json_is_the_public_map(database_url: str, support: dict[str, str]) -> None:
    result = datamap(database_url, support, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == data_map_json(get_data_map())


def test_one_table_as_a_table(database_url: str, support: dict[str, str]) -> None:
    result = datamap(database_url, support, "--table", "ledger_postings")
    assert result.exit_code == 0, result.output
    assert "ledger_postings" in result.output
    assert "ledger_entries" not in result.output
    assert "through account_id → ledger_accounts.account_id" in result.output
    assert "financial_record" in result.output
    users = datamap(database_url, support, "--table", "users")
    assert "password_hash" in users.output
    assert "credential" in users.output


def test_an_undeclared_table_and_no_operator_are_refused(
    database_url: str, support: dict[str, str]
) -> None:
    missing = datamap(database_url, support, "--table", "nope")
    assert missing.exit_code == 1
    assert "table_not_declared" in missing.output
    unnamed = datamap(database_url, {"COURTYARD_OPERATOR": ""})
    assert unnamed.exit_code == 2
