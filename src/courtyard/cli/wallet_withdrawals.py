"""``courtyard wallet withdraw``: send money to your bank account through the payment
provider. Added to ``courtyard wallet`` (``withdrawals_app`` merges into ``wallet_app``); the
PIN comes from ``COURTYARD_PIN`` or a hidden prompt, as for transfers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from courtyard.cli.client_verbs import ProfileOption, ServerOption, call, out
from courtyard.cli.wallet import AmountArg, CurrencyArg, locate_signed_in, read_pin
from courtyard.client import Client
from courtyard.client.wallet import Operation

withdrawals_app = typer.Typer()


@withdrawals_app.command("withdraw")
def withdraw(
    amount: AmountArg,
    currency: CurrencyArg,
    to: Annotated[str, typer.Option("--to", help="The provider's token for your bank account.")],
    sandbox_outcome: Annotated[
        str | None, typer.Option(help="Sandbox provider only: succeed, fail or never.")
    ] = None,
    sandbox_delay_ms: Annotated[
        int | None, typer.Option(min=0, help="Sandbox provider only: delay its answer.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The idempotency key of an earlier, unsure attempt."),
    ] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Send money to your bank account: it leaves your balance at once and comes back if the
    payout fails (see `wallet balance` and `wallet statement`)."""
    where = locate_signed_in(profile, server)
    pin = read_pin()
    sandbox = {
        name: value
        for name, value in (("outcome", sandbox_outcome), ("delay_ms", sandbox_delay_ms))
        if value is not None
    }

    async def work(client: Client) -> Operation:
        return await client.wallet.withdraw(
            amount, currency, to, sandbox=sandbox or None, idempotency_key=key, pin=pin
        )

    operation = call(where, work)
    again = " (already made earlier with this key)" if operation.replayed else ""
    failed = f" ({operation.failure_code})" if operation.failure_code else ""
    out.print(
        f"Withdrawal {operation.operation_id}: {operation.amount} to {escape(to)}, "
        f"{operation.state}{failed}{again}.",
        soft_wrap=True,
    )
