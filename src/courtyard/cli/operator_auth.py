"""Who runs an ``courtyard admin …`` command: every such command names an operator
(``--operator`` or ``COURTYARD_OPERATOR``), whose password is asked for (or read from
``COURTYARD_OPERATOR_PASSWORD``), and checks the operator's roles before it touches anything —
the same roles the console checks (docs/admin-console.md, "Roles"; the table of commands is
cli/admin_roles.py).

Exit statuses: 2 when no operator is named, 1 for a wrong password, an unknown operator or
too many failures, 3 when the operator holds none of the command's roles."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.core.errors import CourtyardError

if TYPE_CHECKING:  # the domain loads only when a command runs, as in cli/server.py
    from collections.abc import Awaitable, Callable

    from courtyard.core.config import Settings
    from courtyard.domains.accounts import OperatorSessions, SignedInOperator

err = Console(stderr=True, highlight=False)

OperatorOption = Annotated[
    str | None,
    typer.Option(
        "--operator",
        envvar="COURTYARD_OPERATOR",
        help="Your operator username (or COURTYARD_OPERATOR); the password is asked for "
        "(or read from COURTYARD_OPERATOR_PASSWORD).",
    ),
]
PASSWORD_ENV = "COURTYARD_OPERATOR_PASSWORD"  # noqa: S105 - the variable's name, not a password
NO_OPERATOR, NOT_SIGNED_IN, ROLE_MISSING = 2, 1, 3  # exit statuses


def operator_password(username: str) -> str:
    """The named operator's password: ``COURTYARD_OPERATOR_PASSWORD`` when set and not
    empty, else asked for without echo."""
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    prompted: str = typer.prompt(f"Password for operator {username}", hide_input=True)
    return prompted


def signed_in_operator(settings: Settings, operator: str | None, *roles: str) -> SignedInOperator:
    """The operator running this command, after checking their password and that they hold
    one of ``roles`` (none: any operator); exits 2 (no operator named), 1 (wrong password,
    unknown operator, throttled) or 3 (none of the roles)."""
    from sqlalchemy.exc import DBAPIError

    from courtyard.domains.accounts import RoleRequired

    if not operator:
        err.print(
            "[red]error:[/red] name yourself with --operator (or COURTYARD_OPERATOR); "
            "your password is asked for (or read from COURTYARD_OPERATOR_PASSWORD)",
            soft_wrap=True,
        )
        raise typer.Exit(NO_OPERATOR)
    password = operator_password(operator)

    async def check() -> SignedInOperator:
        sessions, dispose = _sessions(settings)
        try:
            # The host's shell has no client address: failures count per operator name.
            return await sessions.access_operator(operator, password, roles, None)
        finally:
            await dispose()

    try:
        return asyncio.run(check())
    except RoleRequired as exc:
        err.print(f"[red]refused:[/red] {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(ROLE_MISSING) from None
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(NOT_SIGNED_IN) from None
    except DBAPIError as exc:
        err.print(
            f"[red]error:[/red] cannot read the operators from the database "
            f"({type(exc).__name__}); is it migrated? (`courtyard db upgrade`)",
            soft_wrap=True,
        )
        raise typer.Exit(NOT_SIGNED_IN) from None


def _sessions(settings: Settings) -> tuple[OperatorSessions, Callable[[], Awaitable[None]]]:
    """Operator sign-in on this server's database, with its login limits."""
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.domains.accounts import Hasher, LoginThrottle, OperatorSessions, ThrottleLimits

    database = Database(settings.database_url)
    clock = SystemClock()
    limits = ThrottleLimits(
        window=dt.timedelta(seconds=settings.login_window_seconds),
        per_account=settings.login_max_failures_per_account,
        per_address=settings.login_max_failures_per_address,
    )
    throttle = LoginThrottle(database, clock, limits, namespace="op:")
    return OperatorSessions(database, clock, Hasher(), throttle), database.dispose
