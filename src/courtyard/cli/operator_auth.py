"""Who runs an ``courtyard admin …`` command: every such command names an operator
(``--operator`` or ``COURTYARD_OPERATOR``), whose password is asked for (or read from
``COURTYARD_OPERATOR_PASSWORD``), and checks the operator's roles before it touches anything —
the same roles the console checks (docs/admin-console.md, "Roles")."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from typing import Annotated

import typer
from rich.console import Console

from courtyard.core.config import Settings
from courtyard.core.errors import CourtyardError
from courtyard.domains.accounts import SignedInOperator as SignedIn

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


def signed_in_operator(settings: Settings, operator: str | None, *roles: str) -> SignedIn:
    """The operator running this command, after checking their password and that they hold
    one of ``roles``; exits 2 (no operator named), 1 (wrong password) or 3 (role missing)."""
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.domains.accounts import (
        Hasher,
        LoginThrottle,
        OperatorSessions,
        RoleRequired,
        ThrottleLimits,
    )

    if not operator:
        err.print("[red]error:[/red] name yourself with --operator (or COURTYARD_OPERATOR)")
        raise typer.Exit(2)
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = typer.prompt(f"Password for operator {operator}", hide_input=True)

    async def check() -> SignedIn:
        database = Database(settings.database_url)
        try:
            clock = SystemClock()
            limits = ThrottleLimits(
                window=dt.timedelta(seconds=settings.login_window_seconds),
                per_account=settings.login_max_failures_per_account,
                per_address=settings.login_max_failures_per_address,
            )
            throttle = LoginThrottle(database, clock, limits, namespace="op:")
            sessions = OperatorSessions(database, clock, Hasher(), throttle)
            return await sessions.access_operator(operator, password, roles, "cli")
        finally:
            await database.dispose()

    try:
        return asyncio.run(check())
    except RoleRequired as exc:
        err.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(3) from None
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None
