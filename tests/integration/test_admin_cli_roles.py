"""Who may run each ``courtyard admin …`` command (and each other command that takes
``--operator``): every one found in the Typer app is declared in cli/admin_roles.py, names its
operator, and admits exactly the declared roles (exit 3 for the others, before it changes
anything); wrong passwords, unnamed operators, throttling, and the first operator of a host."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import types
import typing
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.testing import CliRunner, Result

from courtyard.cli.admin_roles import ADMIN_COMMAND_ROLES, OTHER_COMMAND_ROLES
from courtyard.cli.main import app
from courtyard.db import Database
from courtyard.domains.accounts import OPERATOR_ROLES
from courtyard.domains.accounts.models import Operator
from courtyard.domains.audit import AuditEntry
from tests.conftest import PASSWORD
from tests.integration.operator_cli_support import add_operator, operator_env

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
runner = CliRunner()
# Arguments for commands whose generated ones would test less than they could.
SAMPLES: dict[str, list[str]] = {
    "admin create-operator": ["newcomer", "--role", "support"],
    "admin operator roles": ["op-support", "--set", "support"],
    "admin policy publish": ["EU", "sample.txt"],  # a file of the test's tmp_path
    "admin policy show": ["EU"],
}
# Every declared command, keyed by its words after ``courtyard``.
DECLARED = {f"admin {name}": roles for name, roles in ADMIN_COMMAND_ROLES.items()} | dict(
    OTHER_COMMAND_ROLES
)


def operator_commands() -> dict[str, TyperCommand]:
    """Every command under ``courtyard admin``, and every other that takes ``--operator``,
    keyed by its words after ``courtyard``."""
    found: dict[str, TyperCommand] = {}

    def walk(group: TyperGroup, prefix: str) -> None:
        for name, command in group.commands.items():
            if isinstance(command, TyperGroup):
                walk(command, f"{prefix}{name} ")
                continue
            assert isinstance(command, TyperCommand), name
            takes_operator = any(p.name == "operator" for p in command.params)
            if prefix.startswith("admin ") or takes_operator:
                found[prefix + name] = command

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    walk(root, "")
    return found


def sample_args(name: str, command: TyperCommand, tmp_path: Path) -> list[str]:
    """Values for the command's required parameters that its parser accepts."""
    sample_file = tmp_path / "sample.txt"
    sample_file.write_text("sample\n")
    if name in SAMPLES:
        return [str(tmp_path / a) if a == sample_file.name else a for a in SAMPLES[name]]
    assert command.callback is not None
    hints = typing.get_type_hints(command.callback)
    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        assert param.name is not None
        values = [_sample_value(hints[param.name], sample_file)] * max(param.nargs, 1)
        args += values if isinstance(param, TyperArgument) else [param.opts[0], *values]
    return args


def _sample_value(kind: object, sample_file: Path) -> str:
    """A value of type ``kind`` (the parameter's annotation) for a command line."""
    origin, inner = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Literal:
        return str(inner[0])
    if origin in (list, tuple) or isinstance(kind, types.UnionType):
        return _sample_value(inner[0], sample_file)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return str(next(iter(kind)).value)
    if kind in (int, float):
        return "1"
    if kind in (dt.date, dt.datetime):
        return "2024-01-01"
    if kind is Path:
        return str(sample_file)
    return "sample"


def footprint(database_url: str) -> tuple[int, int]:
    """How many operators and audit-log entries (operator actions among them) it holds."""

    async def count() -> tuple[int, int]:
        db = Database(database_url)
        try:
            async with db.read() as session:
                counts = [
                    int(await session.scalar(select(func.count()).select_from(model)) or 0)
                    for model in (Operator, AuditEntry)
                ]
        finally:
            await db.dispose()
        return counts[0], counts[1]

    return asyncio.run(count())


def invoke_as(
    operator: str | None, args: list[str], where: dict[str, str], password: str = PASSWORD
) -> Result:
    """``courtyard ARGS`` run by ``operator`` (None: nobody named)."""
    env = {**where, "COURTYARD_NEW_OPERATOR_PASSWORD": "a new operator passphrase"}
    if operator is not None:
        env |= operator_env(operator, password)
    return runner.invoke(app, args, env=env)


def run_as(
    operator: str | None, args: list[str], where: dict[str, str], password: str = PASSWORD
) -> Result:
    """``courtyard admin ARGS`` run by ``operator``."""
    return invoke_as(operator, ["admin", *args], where, password)


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> dict[str, str]:
    """Settings through the environment, so commands without ``--db`` find the database."""
    return {"COURTYARD_DATABASE_URL": database_url, "COURTYARD_DATA_DIR": str(tmp_path)}


@pytest.fixture
def one_operator_per_role(database_url: str) -> dict[str, str]:
    """``op-<role>`` holding only that role, for each role; their ids by role."""
    return {
        role: asyncio.run(add_operator(database_url, f"op-{role}", role)) for role in OPERATOR_ROLES
    }


def test_every_operator_command_declares_its_roles() -> None:
    found = set(operator_commands())
    assert {"admin create-operator", "admin wallet freeze"} <= found
    undeclared = sorted(found - set(DECLARED))
    stale = sorted(set(DECLARED) - found)
    assert not undeclared, f"declare the roles of {undeclared} in cli/admin_roles.py"
    assert not stale, f"cli/admin_roles.py declares commands that do not exist: {stale}"
    for name, roles in DECLARED.items():
        assert roles, f"{name}: declare at least one role (least privilege)"
        assert set(roles) <= set(OPERATOR_ROLES), name


@pytest.mark.parametrize("name", sorted(operator_commands()))
def test_every_operator_command_names_its_operator(name: str) -> None:
    (option,) = [p for p in operator_commands()[name].params if p.name == "operator"]
    assert isinstance(option, TyperOption)
    assert (option.opts, option.envvar) == (["--operator"], "COURTYARD_OPERATOR")


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_each_command_admits_exactly_its_declared_roles(
    name: str,
    database_url: str,
    tmp_path: Path,
    where: dict[str, str],
    one_operator_per_role: dict[str, str],
) -> None:
    command = operator_commands()[name]
    args = [*name.split(), *sample_args(name, command, tmp_path)]
    allowed = DECLARED[name]
    for role in sorted(OPERATOR_ROLES, key=lambda r: r in allowed):  # refusals first
        before = footprint(database_url)
        result = invoke_as(f"op-{role}", args, where)
        if role in allowed:
            assert result.exit_code not in (2, 3), (role, args, result.output)
            assert "refused" not in result.output, (role, result.output)
        else:
            assert result.exit_code == 3, (role, args, result.output)
            assert "refused: this needs" in result.output
            assert footprint(database_url) == before, f"{name} acted for {role} before refusing"


def test_a_wrong_password_or_unknown_operator_exits_1_alike(
    where: dict[str, str], one_operator_per_role: dict[str, str]
) -> None:
    wrong = run_as("op-admin", ["operator", "list"], where, password="not the password at all")
    unknown = run_as("nobody", ["operator", "list"], where)
    assert (wrong.exit_code, unknown.exit_code) == (1, 1)
    assert "invalid_credentials" in wrong.output
    assert wrong.output.replace("op-admin", "nobody") == unknown.output
    assert "op-admin" not in wrong.output  # nothing listed


def test_no_operator_named_exits_2(where: dict[str, str], database_url: str) -> None:
    asyncio.run(add_operator(database_url, "olga", "admin"))
    result = run_as(None, ["wallet", "audit"], {**where, "COURTYARD_OPERATOR_PASSWORD": PASSWORD})
    assert result.exit_code == 2
    assert "name yourself with --operator" in result.output


def test_the_password_is_prompted_hidden_when_not_in_the_environment(
    where: dict[str, str], database_url: str
) -> None:
    asyncio.run(add_operator(database_url, "olga", "admin"))
    result = runner.invoke(
        app, ["admin", "operator", "list", "--operator", "olga"],
        env={**where, "COURTYARD_OPERATOR_PASSWORD": ""}, input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Password for operator olga" in result.output
    assert PASSWORD not in result.output
    assert "olga  admin" in result.output


def test_failures_are_throttled_per_operator_even_with_the_right_password(
    where: dict[str, str], database_url: str
) -> None:
    asyncio.run(add_operator(database_url, "olga", "admin"))
    strict = {**where, "COURTYARD_LOGIN_MAX_FAILURES_PER_ACCOUNT": "2"}
    for _ in range(3):
        assert run_as("olga", ["operator", "list"], strict, password="a wrong guess").exit_code == 1
    throttled = run_as("olga", ["operator", "list"], strict)
    assert throttled.exit_code == 1
    assert "login_throttled" in throttled.output


def test_a_database_without_tables_is_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    empty = {"COURTYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
    result = run_as("olga", ["wallet", "audit"], empty)
    assert result.exit_code == 1
    assert "is it migrated?" in result.output


# --- the first operator, and operators an admin adds ------------------------------------


def audit_trail(database_url: str) -> list[tuple[str, str, str, dict[str, object] | None]]:
    """The audit log's entries, oldest first: actor, action, target, detail."""

    async def read() -> list[tuple[str, str, str, dict[str, object] | None]]:
        db = Database(database_url)
        try:
            async with db.read() as session:
                rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
                return [(e.actor, e.action, e.target, e.detail) for e in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_the_first_operator_needs_no_operator_and_must_be_an_admin(
    where: dict[str, str], database_url: str
) -> None:
    first = {**where, "COURTYARD_OPERATOR_PASSWORD": "the first admin's passphrase"}
    not_admin = runner.invoke(
        app, ["admin", "create-operator", "sam", "--role", "support"], env=first
    )
    assert not_admin.exit_code == 1
    assert "must hold the admin role" in not_admin.output
    assert footprint(database_url) == (0, 0)

    created = runner.invoke(app, ["admin", "create-operator", "olga"], env=first)
    assert created.exit_code == 0, created.output
    assert "the first operator olga created with roles admin" in created.output
    [(actor, action, target, detail)] = audit_trail(database_url)
    assert (actor, action, detail) == ("system", "operators.bootstrap", {
        "username": "olga", "roles": ["admin"]})  # fmt: skip
    as_olga = {**first, "COURTYARD_OPERATOR": "olga"}
    listed = runner.invoke(app, ["admin", "operator", "list"], env=as_olga)
    assert (listed.exit_code, target.startswith("operator:")) == (0, True), listed.output

    again = runner.invoke(app, ["admin", "create-operator", "mallory"], env=first)
    assert again.exit_code == 2  # operators exist now: name yourself
    assert footprint(database_url)[0] == 1


def test_after_the_first_only_an_admin_adds_operators_and_it_is_recorded(
    where: dict[str, str], database_url: str, one_operator_per_role: dict[str, str]
) -> None:
    add = ["create-operator", "nina", "--role", "legal_reviewer"]
    by_support = run_as("op-support", add, where)
    assert by_support.exit_code == 3
    by_admin = run_as("op-admin", add, where)
    assert by_admin.exit_code == 0, by_admin.output
    assert "operator nina created with roles legal_reviewer" in by_admin.output
    admin_id = one_operator_per_role["admin"]
    [(actor, action, _, detail)] = audit_trail(database_url)
    assert (actor, action) == (f"operator:{admin_id}", "operators.create")
    assert detail == {"username": "nina", "roles": ["legal_reviewer"]}
    # nina's password is the new one, never the admin's own from COURTYARD_OPERATOR_PASSWORD
    assert run_as("nina", ["operator", "list"], where).exit_code == 1
    as_nina = run_as("nina", ["operator", "list"], where, password="a new operator passphrase")
    assert as_nina.exit_code == 3  # signed in, but listing operators is for admins


def test_an_admin_changes_roles_and_the_last_admin_keeps_theirs(
    where: dict[str, str], database_url: str, one_operator_per_role: dict[str, str]
) -> None:
    assert run_as("op-support", ["wallet", "merchant", "suspend", "x"], where).exit_code == 3
    changed = run_as("op-admin", ["operator", "roles", "op-support", "--set", "finance"], where)
    assert changed.exit_code == 0, changed.output
    assert "operator op-support now holds finance" in changed.output
    # the new role applies at once: suspending is for finance (the merchant does not exist)
    suspend = run_as("op-support", ["wallet", "merchant", "suspend", "x"], where)
    assert (suspend.exit_code, "merchant_not_found" in suspend.output) == (1, True)
    [(actor, action, target, detail)] = audit_trail(database_url)
    assert (actor, action, target) == (
        f"operator:{one_operator_per_role['admin']}", "operators.set_roles",
        f"operator:{one_operator_per_role['support']}",
    )  # fmt: skip
    assert detail == {"before": ["support"], "after": ["finance"]}

    last = run_as("op-admin", ["operator", "roles", "op-admin", "--set", "finance"], where)
    assert (last.exit_code, "last_admin" in last.output) == (1, True)
    for bad, code in ((["nobody", "--set", "admin"], "operator_not_found"),
                      (["op-finance", "--set", "root"], "roles must be")):  # fmt: skip
        refused = run_as("op-admin", ["operator", "roles", *bad], where)
        assert (refused.exit_code, code in refused.output) == (1, True), refused.output
    listed = run_as("op-admin", ["operator", "list"], where)
    assert "op-support  finance" in listed.output
    assert "op-admin  admin" in listed.output
    assert len(audit_trail(database_url)) == 1  # refusals leave no entry
