"""``courtyard wallet``: balances, payment PIN, top-ups, transfers, red packets, statements.

Each command works on a profile directory like ``courtyard chat``. The payment PIN is read
from ``COURTYARD_PIN`` or a hidden prompt, never an argument, so it cannot leak into shell
history or the process list.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from courtyard.cli.client_verbs import (
    ProfileOption,
    ServerOption,
    Where,
    call,
    fail,
    locate,
    out,
    read_password,
    when,
)
from courtyard.client import Client
from courtyard.client.wallet import Grab, Operation, RedPacket, Statement, Transfer

PIN_ENV = "COURTYARD_PIN"
NEW_PIN_ENV = "COURTYARD_NEW_PIN"
ROLES: dict[str, Literal["sent", "received"]] = {"sent": "sent", "received": "received"}
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]

wallet_app = typer.Typer(
    help="Your wallet: balances, transfers, red packets and statements.", no_args_is_help=True
)
pin_app = typer.Typer(help="Set or change your payment PIN.", no_args_is_help=True)
wallet_app.add_typer(pin_app, name="pin")
AmountArg = Annotated[str, typer.Argument(help='The amount in major units, e.g. "10.50".')]
CurrencyArg = Annotated[str, typer.Argument(help="An ISO 4217 code, e.g. CNY.")]
TransferArg = Annotated[str, typer.Argument(help="The transfer id (see `wallet transfers`).")]


def read_pin(label: str = "Payment PIN", *, env: str = PIN_ENV, confirm: bool = False) -> str:
    from_env = os.environ.get(env)
    if from_env:
        return from_env
    pin: str = typer.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return pin


@wallet_app.command("balance")
def balance(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Show your balance in each currency and what you may still spend today."""
    where = locate(profile, server)
    where.signed_in()
    overview = call(where, lambda client: client.wallet.overview())
    table = Table("currency", "balance", "spent today", "daily limit", "per payment")
    for row in overview.balances:
        table.add_row(
            row.currency,
            row.balance.format(),
            row.used_today.format() if row.used_today else "",
            row.daily_limit.format() if row.daily_limit else "",
            row.single_limit.format() if row.single_limit else "",
        )
    out.print(table)
    if not overview.pin_set:
        out.print("No payment PIN yet: run `courtyard wallet pin set`.")
    elif overview.pin_locked_until is not None:
        out.print(f"Payment PIN locked until {when(overview.pin_locked_until)}.")


@pin_app.command("set")
def set_pin(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Set your payment PIN (6 digits) with your account password; also lifts a lock."""
    where = locate(profile, server)
    where.signed_in()
    password = read_password(confirm=False)
    pin = read_pin("New payment PIN", confirm=True)
    call(where, lambda client: client.wallet.set_pin(pin, password=password))
    out.print("Payment PIN set.")


@pin_app.command("change")
def change_pin(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Change your payment PIN; the current one from COURTYARD_PIN, the new one from
    COURTYARD_NEW_PIN, or hidden prompts."""
    where = locate(profile, server)
    where.signed_in()
    current = read_pin("Current payment PIN")
    pin = read_pin("New payment PIN", env=NEW_PIN_ENV, confirm=True)
    call(where, lambda client: client.wallet.set_pin(pin, current_pin=current))
    out.print("Payment PIN changed.")


@wallet_app.command("topup")
def topup(
    amount: AmountArg,
    currency: CurrencyArg,
    sandbox_outcome: Annotated[
        str | None,
        typer.Option(help="Sandbox provider only: succeed, fail, never or wait_for_payer."),
    ] = None,
    sandbox_delay_ms: Annotated[
        int | None, typer.Option(min=0, help="Sandbox provider only: delay its answer.")
    ] = None,
    key: Annotated[str | None, typer.Option("--key", help="Repeat an earlier attempt.")] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Add money from the payment provider."""
    where = locate(profile, server)
    where.signed_in()
    sandbox = {
        name: value
        for name, value in (("outcome", sandbox_outcome), ("delay_ms", sandbox_delay_ms))
        if value is not None
    }

    async def work(client: Client) -> Operation:
        return await client.wallet.topup(
            amount, currency, sandbox=sandbox or None, idempotency_key=key
        )

    operation = call(where, work)
    out.print(f"Top-up {operation.operation_id}: {operation.amount} {operation.state}.")
    pay_url = (operation.next_action or {}).get("pay_url")
    if pay_url:
        out.print(f"Pay at {escape(str(pay_url))}")


@wallet_app.command("transfer")
def transfer(
    to: Annotated[str, typer.Argument(help="A username or user id.")],
    amount: AmountArg,
    currency: CurrencyArg,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The idempotency key of an earlier, unsure attempt."),
    ] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Send money to someone you have a direct chat with; they accept or return it."""
    where = locate(profile, server)
    where.signed_in()
    pin = read_pin()

    async def work(client: Client) -> Transfer:
        return await client.wallet.transfer(to, amount, currency, idempotency_key=key, pin=pin)

    sent = call(where, work)
    again = " (already sent earlier with this key)" if sent.replayed else ""
    out.print(f"Transfer {sent.transfer_id}: {sent.amount} to {escape(to)}, {sent.state}{again}.")


@wallet_app.command("transfers")
def transfers(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only those not yet resolved.")
    ] = False,
    role: Annotated[str | None, typer.Option(help="sent or received (default: both).")] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """List transfers you sent or received, newest first."""
    chosen = ROLES.get(role) if role is not None else None
    if role is not None and chosen is None:
        fail(f"--role must be sent or received, not {role}")
    where = locate(profile, server)
    stored = where.signed_in()
    state = "pending" if pending else None
    rows = call(where, lambda c: c.wallet.transfers(chosen, state))
    table = Table("transfer id", "", "amount", "state", "created", "expires")
    table.columns[0].no_wrap = True
    for row in rows:
        outgoing = row.from_user_id == stored.user_id
        direction = f"to {row.to_user_id}" if outgoing else f"from {row.from_user_id}"
        table.add_row(
            row.transfer_id,
            direction,
            str(row.amount),
            row.state,
            when(row.created_at),
            when(row.expires_at),
        )
    out.print(table)


@wallet_app.command("accept")
def accept(
    transfer_id: TransferArg, profile: ProfileOption = None, server: ServerOption = None
) -> None:
    """Accept a transfer sent to you."""
    where = locate_signed_in(profile, server)
    show_resolved(call(where, lambda c: c.wallet.accept(transfer_id)))


@wallet_app.command("return")
def return_transfer(
    transfer_id: TransferArg, profile: ProfileOption = None, server: ServerOption = None
) -> None:
    """Send a transfer you received back to its sender."""
    where = locate_signed_in(profile, server)
    show_resolved(call(where, lambda c: c.wallet.return_transfer(transfer_id)))


@wallet_app.command("red-packet")
def red_packet(
    conversation: Annotated[str, typer.Argument(help="The conversation id.")],
    amount: Annotated[
        str, typer.Argument(help='The total, or with --fixed each share, e.g. "8.88".')
    ],
    currency: CurrencyArg,
    count: Annotated[int, typer.Option("--count", min=1, help="How many shares.")] = 1,
    fixed: Annotated[
        bool, typer.Option("--fixed", help="Equal shares of AMOUNT each (default: random).")
    ] = False,
    to: Annotated[
        str | None, typer.Option("--to", help="For this member only (a username or user id).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The idempotency key of an earlier, unsure attempt."),
    ] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Put a red packet in a chat: for the group to grab, or with --to for one member (in a
    direct chat it is for the other person)."""
    where = locate_signed_in(profile, server)
    pin = read_pin()

    async def work(client: Client) -> RedPacket:
        return await client.wallet.red_packet(
            conversation, amount, currency, count, "fixed" if fixed else "random", to,
            idempotency_key=key, pin=pin,
        )  # fmt: skip

    sent = call(where, work)
    total = f"{sent.total} in " if sent.total is not None else ""
    shares = "1 share" if sent.share_count == 1 else f"{sent.share_count} shares"
    again = " (already sent earlier with this key)" if sent.replayed else ""
    out.print(f"Red packet {sent.packet_id}: {total}{shares}, {sent.split}{again}.")


@wallet_app.command("grab")
def grab(
    packet_id: Annotated[str, typer.Argument(help="The red packet id (from its chat card).")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Open a red packet; opening it again shows what you got."""
    where = locate_signed_in(profile, server)
    got: Grab = call(where, lambda c: c.wallet.grab(packet_id))
    again = " (opened earlier)" if got.replayed else ""
    out.print(f"You got {got.amount}{again}.")


# A period's options, shared by `statement` and `spending`.
PeriodCurrencyOption = Annotated[
    str | None, typer.Option(help="Default: your first currency with money in it.")
]
PeriodStartOption = Annotated[
    dt.datetime | None,
    typer.Option("--from", formats=DATE_FORMATS, help="Start (UTC); default 30 days ago."),
]
PeriodEndOption = Annotated[
    dt.datetime | None,
    typer.Option("--to", formats=DATE_FORMATS, help="End (UTC, not included); default now."),
]


@wallet_app.command("statement")
def statement(
    currency: PeriodCurrencyOption = None,
    start: PeriodStartOption = None,
    end: PeriodEndOption = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Your movements in one currency, newest first, as a table or CSV."""
    where = locate_signed_in(profile, server)
    start, end = utc(start), utc(end)

    async def work(client: Client) -> str | Statement:
        code = currency or await main_currency(client)
        if as_csv:
            return await client.wallet.statement(code, start, end, format="csv")
        return await client.wallet.statement(code, start, end, limit=500)

    result = call(where, work)
    if isinstance(result, str):
        typer.echo(result, nl=False)
        return
    table = Table("posted", "kind", "counterparty", "amount", "balance", title=result.currency)
    for line in result.lines:
        party = line.counterparty_name or line.counterparty_kind
        table.add_row(
            when(line.posted_at),
            line.kind,
            escape(party),
            line.amount.format(),
            line.balance_after.format(),
        )
    out.print(table)
    if result.next_cursor:
        out.print("Showing the newest 500 lines; narrow --from/--to or use --csv for all.")


# --- plumbing ---------------------------------------------------------------------------


def locate_signed_in(profile: Path | None, server: str | None) -> Where:
    where = locate(profile, server)
    where.signed_in()
    return where


def show_resolved(row: Transfer) -> None:
    again = " (already)" if row.replayed else ""
    out.print(f"Transfer {row.transfer_id}: {row.amount} {row.state}{again}.")


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo:
        return moment
    return moment.replace(tzinfo=dt.UTC)


async def main_currency(client: Client) -> str:
    balances = await client.wallet.balance()
    if not balances:
        return "CNY"
    held = [b.currency for b in balances if b.balance.amount_minor != 0]
    return held[0] if held else balances[0].currency
