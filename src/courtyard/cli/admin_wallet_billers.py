"""``courtyard admin wallet biller create|list|disable|enable``: the payees users can pay
bills to. Operators run these on a server host, against the database directly, as an
operator whose roles allow the command (cli/admin_roles.py); each change is recorded in
``operator_actions`` with that operator's id (docs/wallet.md, "Bills", "CLI")."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError

if TYPE_CHECKING:  # the domain loads only when a command runs, as in cli/server.py
    from courtyard.domains.wallet.billers import BillerRegistry

T = TypeVar("T")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
biller_app = typer.Typer(help="Billers: who users can pay bills to.", no_args_is_help=True)

# As in cli/server.py, which registers this app (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
BillerIdArg = Annotated[str, typer.Argument(help="The biller id (see `biller list`).")]


def run_on_registry(
    command: str,
    operator: str | None,
    where: tuple[str | None, Path | None],
    action: Callable[[BillerRegistry, str], Awaitable[T]],
) -> T:
    """Check that ``operator`` may run ``admin wallet <command>``, migrate, then run
    ``action`` with their operator id on the biller registry of this server's database; a
    refusal becomes one line on stderr and exit status 1."""
    from courtyard.cli.server import settings_or_exit
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.db.migrate import upgrade
    from courtyard.domains.wallet import AccountDirectory
    from courtyard.domains.wallet.billers import BillerRegistry

    settings = settings_or_exit(database_url=where[0], data_dir=where[1])
    operator_id = signed_in_operator(settings, operator, *roles_of(f"wallet {command}")).operator_id
    upgrade(settings.database_url)

    async def work() -> T:
        database = Database(settings.database_url)
        clock = SystemClock()
        accounts = AccountDirectory(database, clock)
        try:
            registry = BillerRegistry(database, clock, accounts, settings.wallet_currencies)
            return await action(registry, operator_id)
        finally:
            await database.dispose()

    try:
        return asyncio.run(work())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


@biller_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What payers see, e.g. City Power.")],
    category: Annotated[
        str,
        typer.Option(
            "--category", help="utilities, phone, internet, insurance, education or other."
        ),
    ],
    currency: Annotated[str, typer.Option("--currency", help="An enabled ISO 4217 code.")],
    reference_pattern: Annotated[
        str,
        typer.Option(
            "--reference-pattern",
            help="A regular expression every reference must match in full, e.g. ^[0-9]{10}$.",
        ),
    ],
    low: Annotated[str, typer.Option("--min", help="The smallest bill, e.g. 1.00.")],
    high: Annotated[str, typer.Option("--max", help="The largest bill, e.g. 5000.00.")],
    reference_hint: Annotated[
        str,
        typer.Option("--reference-hint", help="Tells payers what to enter, e.g. meter number."),
    ] = "",
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a biller; it takes payments at once."""
    from courtyard.domains.wallet.billers import BillerSpec

    spec = BillerSpec(name, category, currency, reference_pattern, reference_hint, low, high)
    created = run_on_registry(
        "biller create", operator, (db, data_dir),
        lambda registry, operator_id: registry.do_create_biller(spec, operator_id=operator_id),
    )  # fmt: skip
    out.print(f"biller {created['biller_id']} created: {escape(created['name'])}")


@biller_app.command("list")
def list_billers(
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List every biller, enabled or not: one line each (id, name, category, bounds,
    reference pattern, state), so long patterns stay whole."""
    rows = run_on_registry(
        "biller list", operator, (db, data_dir),
        lambda registry, _: registry.list_billers(enabled_only=False),
    )  # fmt: skip
    for row in rows:
        bounds = f"{row['min']['amount']}-{row['max']['amount']} {row['currency']}"
        state = "enabled" if row["enabled"] else "disabled"
        out.print(
            f"{row['biller_id']}  {escape(row['name'])}  {row['category']}  {bounds}  "
            f"{escape(row['reference_pattern'])}  {state}",
            soft_wrap=True,
        )
    if not rows:
        out.print("No billers yet: add one with `courtyard admin wallet biller create`.")


@biller_app.command("disable")
def disable(
    biller_id: BillerIdArg,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Stop a biller taking payments; bills already paid are unaffected."""
    _show_state(run_on_registry("biller disable", operator, (db, data_dir), lambda r, by: (
        r.do_set_enabled(biller_id, False, operator_id=by))))  # fmt: skip


@biller_app.command("enable")
def enable(
    biller_id: BillerIdArg,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Let a disabled biller take payments again."""
    _show_state(run_on_registry("biller enable", operator, (db, data_dir), lambda r, by: (
        r.do_set_enabled(biller_id, True, operator_id=by))))  # fmt: skip


def _show_state(row: dict[str, Any]) -> None:
    state = "enabled" if row["enabled"] else "disabled"
    out.print(f"biller {row['biller_id']} ({escape(row['name'])}) {state}")
