"""``courtyard admin wallet freeze|unfreeze USERNAME CURRENCY --note TEXT``: stop or allow
payments from a user's account. Run on a server host against the database, like the console's
freeze button, by a finance or admin operator (``--operator``); each change is recorded in
``operator_actions`` with the note and that operator's id."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

# As in cli/server.py, which registers these commands (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
UsernameArg = Annotated[str, typer.Argument(help="The user whose account it is.")]
CurrencyArg = Annotated[str, typer.Argument(help="The account's currency, e.g. CNY.")]
NoteOption = Annotated[
    str, typer.Option("--note", help="Why (required; recorded with the action, ≤ 500 chars).")
]


def register_account_commands(app: typer.Typer) -> None:
    """Add ``freeze`` and ``unfreeze`` to ``courtyard admin wallet``."""
    app.command("freeze")(freeze)
    app.command("unfreeze")(unfreeze)


def change_status(
    action: str,
    username: str,
    currency: str,
    note: str,
    operator: str | None,
    db: str | None,
    data_dir: Path | None,
) -> None:
    from courtyard.cli.server import settings_or_exit
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.db.migrate import upgrade
    from courtyard.domains.wallet.freezing import Freezing, StatusChange

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    operator_id = signed_in_operator(settings, operator, *roles_of(f"wallet {action}")).operator_id
    upgrade(settings.database_url)

    async def work() -> StatusChange:
        database = Database(settings.database_url)
        try:
            freezing = Freezing(database, SystemClock())
            return await freezing.do_change_user_account(
                operator_id, action, username, currency, note
            )
        finally:
            await database.dispose()

    try:
        change = asyncio.run(work())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"{change.currency} account {change.account_id} of {escape(username)} is now "
              f"{change.status}")  # fmt: skip


def freeze(
    username: UsernameArg,
    currency: CurrencyArg,
    note: NoteOption,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Freeze a user's account: payments from it are refused (account_frozen); money can
    still come in, so refunds reach it."""
    change_status("freeze", username, currency, note, operator, db, data_dir)


def unfreeze(
    username: UsernameArg,
    currency: CurrencyArg,
    note: NoteOption,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Let a frozen account pay again."""
    change_status("unfreeze", username, currency, note, operator, db, data_dir)
