"""``courtyard wallet billers|bill|bills|spending``: pay bills to registered billers and see
what you spent per category. Added to ``courtyard wallet`` (``bills_app`` merges into
``wallet_app``); the PIN comes from ``COURTYARD_PIN`` or a hidden prompt, as for transfers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from courtyard.cli.client_verbs import ProfileOption, ServerOption, call, fail, out, when
from courtyard.cli.wallet import (
    AmountArg,
    CurrencyArg,
    PeriodCurrencyOption,
    PeriodEndOption,
    PeriodStartOption,
    locate_signed_in,
    main_currency,
    read_pin,
    utc,
)
from courtyard.client import Client
from courtyard.client.bill_models import Bill, BillPage, Spending
from courtyard.core.ids import is_id

BAR_WIDTH = 30  # characters of the longest bar in `wallet spending`

bills_app = typer.Typer()


@bills_app.command("billers")
def billers(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """List the billers you can pay, with the reference each expects."""
    where = locate_signed_in(profile, server)
    rows = call(where, lambda c: c.wallet.billers())
    for row in rows:
        out.print(
            f"[bold]{escape(row.name)}[/bold] ({row.category}): bills of "
            f"{row.min_amount.format()} to {row.max_amount}\n"
            f"  reference: {escape(row.reference_hint or 'as on your bill')}\n"
            f"  id: {row.biller_id}",
            soft_wrap=True,
        )
    if not rows:
        out.print("No billers yet: an operator registers them.")


@bills_app.command("bill")
def bill(
    biller: Annotated[str, typer.Argument(help="The biller's id or name (see `wallet billers`).")],
    reference: Annotated[
        str, typer.Argument(help="The reference on your bill, e.g. a meter or phone number.")
    ],
    amount: AmountArg,
    currency: CurrencyArg,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The idempotency key of an earlier, unsure attempt."),
    ] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Pay a bill: the money goes to the biller at once, credited to REFERENCE."""
    where = locate_signed_in(profile, server)
    pin = read_pin()

    async def work(client: Client) -> Bill:
        biller_id = biller if is_id(biller) else await _biller_named(client, biller)
        return await client.wallet.pay_bill(
            biller_id, reference, amount, currency, idempotency_key=key, pin=pin
        )

    paid = call(where, work)
    again = " (already paid earlier with this key)" if paid.replayed else ""
    payee = escape(paid.biller_name or paid.biller_id)
    out.print(
        f"Bill {paid.bill_id}: {paid.amount} to {payee} for {escape(paid.reference)}, "
        f"{paid.state}{again}.",
        soft_wrap=True,
    )


@bills_app.command("bills")
def bills(
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 50,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """List the bills you paid, newest first."""
    where = locate_signed_in(profile, server)
    page: BillPage = call(where, lambda c: c.wallet.bills(limit=limit))
    for row in page.bills:
        payee = escape(row.biller_name or row.biller_id)
        out.print(
            f"{when(row.created_at)}  {row.amount}  {payee}  {escape(row.reference)}  "
            f"{row.state}  {row.bill_id}",
            soft_wrap=True,
        )
    if not page.bills:
        out.print("No bills paid yet.")
    if page.has_more:
        out.print(f"Showing the newest {limit}; use --limit for more.")


@bills_app.command("spending")
def spending(
    currency: PeriodCurrencyOption = None,
    start: PeriodStartOption = None,
    end: PeriodEndOption = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """What you spent per category (sent, paid, less what came back) and what you received."""
    where = locate_signed_in(profile, server)

    async def work(client: Client) -> Spending:
        code = currency or await main_currency(client)
        return await client.wallet.spending(utc(start), utc(end), code)

    result = call(where, work)
    title = f"{result.currency}, {when(result.start)} to {when(result.end)}"
    table = Table("category", "spent", "", title=title)
    largest = max((c.spent.amount_minor for c in result.categories), default=0)
    for row in result.categories:
        bar = "█" * max(1, BAR_WIDTH * row.spent.amount_minor // largest)
        table.add_row(row.category, row.spent.format(), bar)
    out.print(table)
    if not result.categories:
        out.print("Nothing spent in this period.")
    out.print(f"Received: {result.income}")


async def _biller_named(client: Client, name: str) -> str:
    """The id of the biller called ``name`` (any case); the command fails if none is."""
    wanted = name.casefold()
    rows = await client.wallet.billers()
    found = next((row.biller_id for row in rows if row.name.casefold() == wanted), None)
    if found is None:
        fail(f"no biller is called {name!r}; see `courtyard wallet billers`")
    return found
