"""``courtyard admin wallet merchant create|list|suspend|activate``: the shops that take QR
payments. Operators run these on a server host, against the database directly, as an
operator whose roles allow the command (cli/admin_roles.py); each change is recorded in
``operator_actions`` with that operator's id (docs/wallet.md, "Merchants and QR payments",
"CLI")."""

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
    from courtyard.domains.wallet import MerchantRegistry

T = TypeVar("T")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
merchant_app = typer.Typer(help="Merchants: shops that take QR payments.", no_args_is_help=True)

# As in cli/server.py, which registers this app (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
MerchantIdArg = Annotated[str, typer.Argument(help="The merchant id (see `merchant list`).")]


def run_on_registry(
    command: str,
    operator: str | None,
    where: tuple[str | None, Path | None],
    action: Callable[[MerchantRegistry, str], Awaitable[T]],
) -> T:
    """Check that ``operator`` may run ``admin wallet <command>``, migrate, then run
    ``action`` with their operator id on the merchant registry of this server's database; a
    refusal becomes one line on stderr and exit status 1."""
    from courtyard.cli.server import settings_or_exit
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.db.migrate import upgrade
    from courtyard.domains.wallet import AccountDirectory, MerchantRegistry

    settings = settings_or_exit(database_url=where[0], data_dir=where[1])
    operator_id = signed_in_operator(settings, operator, *roles_of(f"wallet {command}")).operator_id
    upgrade(settings.database_url)

    async def work() -> T:
        database = Database(settings.database_url)
        clock = SystemClock()
        currencies = tuple(settings.wallet_currencies)
        try:
            registry = MerchantRegistry(
                database, clock, AccountDirectory(database, clock), currencies
            )
            return await action(registry, operator_id)
        finally:
            await database.dispose()

    try:
        return asyncio.run(work())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


@merchant_app.command("create")
def create(
    owner: Annotated[str, typer.Option("--owner", help="The username who runs the merchant.")],
    name: Annotated[str, typer.Option("--name", help="What payers see, e.g. Noodle Bar.")],
    category: Annotated[
        str,
        typer.Option(
            "--category",
            help="food, shopping, transport, entertainment, health, travel or other.",
        ),
    ],
    currency: Annotated[
        list[str], typer.Option("--currency", help="An enabled ISO 4217 code; repeat for more.")
    ],
    fee_bps: Annotated[
        int, typer.Option("--fee-bps", help="The platform's fee in basis points (100 = 1 %).")
    ] = 0,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a merchant; its owner can make QR codes at once."""
    from courtyard.domains.wallet import MerchantRegistration

    async def register(registry: MerchantRegistry, operator_id: str) -> dict[str, Any]:
        owner_id = await registry.access_owner_id(owner)
        registration = MerchantRegistration(owner_id, name, category, tuple(currency), fee_bps)
        return await registry.do_register(registration, operator_id=operator_id)

    created = run_on_registry("merchant create", operator, (db, data_dir), register)
    out.print(
        f"merchant {created['merchant_id']} registered: {escape(created['name'])} "
        f"({created['category']}, {', '.join(created['currencies'])}, fee {fee_bps} bps), "
        f"run by {escape(owner)}",
        soft_wrap=True,
    )


@merchant_app.command("list")
def list_merchants(
    operator: OperatorOption = None, db: DbOption = None, data_dir: DataDirOption = None
) -> None:
    """List every merchant, active or suspended: one line each (ids stay whole and
    greppable in a narrow terminal)."""
    rows = run_on_registry(
        "merchant list", operator, (db, data_dir), lambda registry, _: registry.list_all()
    )
    if not rows:
        out.print("no merchants yet")
    for row in rows:
        owner = row["owner_username"] or "deleted user"
        out.print(
            f"{row['merchant_id']}  {escape(row['name'])}  {row['category']}  "
            f"{','.join(row['currencies'])}  fee {row['fee_bps']} bps  owner {escape(owner)}  "
            f"{row['status']}",
            soft_wrap=True,
        )


@merchant_app.command("suspend")
def suspend(
    merchant_id: MerchantIdArg,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Stop a merchant taking payments; it can still refund what it was paid."""
    _show(run_on_registry("merchant suspend", operator, (db, data_dir), lambda r, by: (
        r.do_set_status(merchant_id, "suspended", operator_id=by))))  # fmt: skip


@merchant_app.command("activate")
def activate(
    merchant_id: MerchantIdArg,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Let a suspended merchant take payments again."""
    _show(run_on_registry("merchant activate", operator, (db, data_dir), lambda r, by: (
        r.do_set_status(merchant_id, "active", operator_id=by))))  # fmt: skip


def _show(row: dict[str, Any]) -> None:
    out.print(
        f"merchant {row['merchant_id']} ({escape(row['name'])}) {row['status']}", soft_wrap=True
    )
