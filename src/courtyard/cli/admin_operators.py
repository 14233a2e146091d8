"""``courtyard admin create-operator`` and ``courtyard admin operator list|roles``: who the
operators are and what they may do. Run on a server host against the database. While no
operator exists, ``create-operator`` makes the first one, an admin, without naming anyone;
after that only an admin may add operators or change roles, and each change is recorded in
``operator_actions`` and the audit log (docs/admin-console.md, "Roles")."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import PASSWORD_ENV, OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError

if TYPE_CHECKING:  # the domain loads only when a command runs, as in cli/server.py
    from courtyard.core.config import Settings
    from courtyard.domains.accounts import OperatorRoster

T = TypeVar("T")
NEW_PASSWORD_ENV = "COURTYARD_NEW_OPERATOR_PASSWORD"  # noqa: S105 - a variable's name
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
operator_app = typer.Typer(help="Operators and their roles (admin only).", no_args_is_help=True)

# As in cli/server.py, which registers these commands (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
RolesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--role", help="admin, finance, legal_reviewer, legal_approver or support; repeat."
    ),
]


def _settings(db: str | None, data_dir: Path | None) -> Settings:
    from courtyard.cli.server import settings_or_exit

    return settings_or_exit(database_url=db, data_dir=data_dir)


def _migrated(settings: Settings) -> None:
    from courtyard.db.migrate import upgrade

    upgrade(settings.database_url)


def _on_roster(settings: Settings, action: Callable[[OperatorRoster], Awaitable[T]]) -> T:
    """Run ``action`` on this server's operator roster; a refusal is one line on stderr and
    exit status 1."""
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.domains.accounts import Hasher, OperatorRoster

    async def work() -> T:
        database = Database(settings.database_url)
        try:
            return await action(OperatorRoster(database, SystemClock(), Hasher()))
        finally:
            await database.dispose()

    try:
        return asyncio.run(work())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


def create_operator(
    username: Annotated[str, typer.Argument(help="The new operator's login name.")],
    role: RolesOption = None,
    password_env: Annotated[
        str | None,
        typer.Option(
            help="Read the new operator's password from this environment variable (default: "
            f"{PASSWORD_ENV} for the first operator, {NEW_PASSWORD_ENV} after); "
            "else it is asked for."
        ),
    ] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an operator (roles default to admin). The first operator needs no --operator
    and must be an admin; after that, name yourself as an admin operator."""
    settings = _settings(db, data_dir)
    _migrated(settings)  # a new host's first command: the operators table must exist
    first = _on_roster(settings, lambda roster: roster.get_operator_count()) == 0
    actor = None if first else signed_in_operator(settings, operator, *roles_of("create-operator"))
    variable = password_env or (PASSWORD_ENV if first else NEW_PASSWORD_ENV)
    password = os.environ.get(variable) or typer.prompt(
        f"Password for the new operator {username}", hide_input=True, confirmation_prompt=True
    )
    roles = role or ["admin"]
    created = _on_roster(
        settings, lambda roster: roster.do_add_operator(actor, username, password, roles)
    )
    whose = "the first operator" if first else "operator"
    out.print(f"{whose} {created.username} created with roles {', '.join(created.roles)}")


@operator_app.command("list")
def list_operators(
    operator: OperatorOption = None, db: DbOption = None, data_dir: DataDirOption = None
) -> None:
    """List every operator: username, roles, created (UTC), one line each."""
    settings = _settings(db, data_dir)
    signed_in_operator(settings, operator, *roles_of("operator list"))
    _migrated(settings)
    for entry in _on_roster(settings, lambda roster: roster.get_roster()):
        created = entry.created_at.strftime("%Y-%m-%d %H:%M")
        out.print(f"{entry.username}  {','.join(entry.roles)}  {created}", soft_wrap=True)


@operator_app.command("roles")
def set_roles(
    username: Annotated[str, typer.Argument(help="The operator whose roles change.")],
    roles: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="The operator's roles from now on (replacing theirs); repeat for more.",
        ),
    ],
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Replace an operator's roles; the last admin cannot lose the admin role. Recorded in
    the audit log; takes effect at the operator's next page or command."""
    settings = _settings(db, data_dir)
    actor = signed_in_operator(settings, operator, *roles_of("operator roles"))
    _migrated(settings)
    changed = _on_roster(settings, lambda roster: roster.do_set_roles(actor, username, roles))
    out.print(f"operator {changed.username} now holds {', '.join(changed.roles)}")
