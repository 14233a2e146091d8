"""``courtyard admin create-operator``: roles, password rules, and no password in argv (who
may run it is tested in test_admin_cli_roles.py)."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from courtyard.cli.main import app
from courtyard.core.clock import SystemClock
from courtyard.db import Database
from courtyard.domains.accounts import Hasher, OperatorsService

runner = CliRunner()


def _operators(url: str) -> list[tuple[str, list[str]]]:
    async def read() -> list[tuple[str, list[str]]]:
        db = Database(url)
        try:
            ops = await OperatorsService(db, SystemClock(), Hasher()).get_operators()
            return [(o.username, o.roles) for o in ops]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_create_operator_with_roles_from_the_environment(database_url: str) -> None:
    result = runner.invoke(
        app,
        [
            "admin",
            "create-operator",
            "olga",
            "--role",
            "admin",
            "--role",
            "support",
            "--db",
            database_url,
        ],
        env={"COURTYARD_OPERATOR_PASSWORD": "a strong operator passphrase"},
    )
    assert result.exit_code == 0, result.output
    assert _operators(database_url) == [("olga", ["admin", "support"])]


def test_create_operator_prompts_for_the_password_hidden(database_url: str) -> None:
    result = runner.invoke(
        app,
        ["admin", "create-operator", "olga", "--db", database_url],
        input="a strong operator passphrase\na strong operator passphrase\n",
        env={"COURTYARD_OPERATOR_PASSWORD": ""},
    )
    assert result.exit_code == 0, result.output
    assert "a strong operator passphrase" not in result.output
    assert _operators(database_url) == [("olga", ["admin"])]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--role", "overlord"], "a strong operator passphrase", "roles must be"),
        ([], "password", "too common"),
    ],
)
def test_create_operator_refuses_bad_input(
    database_url: str, args: list[str], password: str, message: str
) -> None:
    result = runner.invoke(
        app,
        ["admin", "create-operator", "olga", "--db", database_url, *args],
        env={"COURTYARD_OPERATOR_PASSWORD": password},
    )
    assert result.exit_code == 1
    assert message in result.output
    assert _operators(database_url) == []


def test_duplicate_operator_is_refused(database_url: str) -> None:
    env = {"COURTYARD_OPERATOR_PASSWORD": "a strong operator passphrase"}
    assert (
        runner.invoke(
            app, ["admin", "create-operator", "olga", "--db", database_url], env=env
        ).exit_code
        == 0
    )
    as_olga = {
        **env,
        "COURTYARD_OPERATOR": "olga",
        "COURTYARD_NEW_OPERATOR_PASSWORD": "another strong passphrase",
    }
    again = runner.invoke(
        app, ["admin", "create-operator", "OLGA", "--db", database_url], env=as_olga
    )
    assert again.exit_code == 1
    assert "exists" in again.output
    assert _operators(database_url) == [("olga", ["admin"])]


def test_there_is_no_password_option() -> None:
    result = runner.invoke(app, ["admin", "create-operator", "--help"])
    assert "--password " not in result.output
