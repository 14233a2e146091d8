"""``courtyard wallet pay|refund|merchants|qr …``: paying a merchant's QR code by its text,
and for merchant owners their merchants, codes (printed with ``--out``) and refunds
(docs/wallet.md, "CLI"). Registered onto ``courtyard wallet`` by ``cli/main.py``.

The code's text is checked on this device against the server's signing keys before the
merchant's name is shown and the PIN is asked for; images are not decoded (no camera).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from courtyard.cli.client_verbs import ProfileOption, ServerOption, call, fail, out, when
from courtyard.cli.wallet import locate_signed_in, read_pin
from courtyard.client import Client
from courtyard.client.payment_models import Payment, QrCode, Refund, ResolvedQr
from courtyard.client.wallet_payments import render_qr

IMAGE_SUFFIXES = {".svg": "svg", ".png": "png"}
KeyOption = Annotated[
    str | None, typer.Option("--key", help="The idempotency key of an earlier, unsure attempt.")
]

merchants_app = typer.Typer()  # merged into `courtyard wallet`
qr_app = typer.Typer(help="Your merchants' payment codes.", no_args_is_help=True)
merchants_app.add_typer(qr_app, name="qr")


@merchants_app.command("pay")
def pay(
    code: Annotated[str, typer.Argument(help="The code's text: 'courtyard://pay?p=…&s=…'.")],
    amount: Annotated[
        str | None, typer.Option("--amount", help='What to pay, e.g. "25.00" (static codes).')
    ] = None,
    key: KeyOption = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Pay a merchant's QR code: shows whom you pay, then asks for your PIN."""
    where = locate_signed_in(profile, server)
    resolved: ResolvedQr = call(where, lambda client: client.wallet.resolve_qr(code))
    if resolved.amount is None and amount is None:
        fail(f"{resolved.merchant.name}'s code has no amount: give --amount")
    shown = resolved.amount or f"{amount} {resolved.currency}"
    out.print(f"Paying {escape(resolved.merchant.name)} ({resolved.merchant.category}): {shown}")
    pin = read_pin()

    async def work(client: Client) -> Payment:
        return await client.wallet.pay(code, amount, idempotency_key=key, pin=pin)

    paid = call(where, work)
    again = " (already paid earlier with this key)" if paid.replayed else ""
    out.print(
        f"Payment {paid.payment_id}: {paid.amount} to {escape(paid.merchant.name)}{again}.",
        soft_wrap=True,
    )


@merchants_app.command("refund")
def refund(
    payment_id: Annotated[str, typer.Argument(help="The payment id (see `wallet merchants`).")],
    amount: Annotated[str, typer.Argument(help='How much to give back, e.g. "5.00".')],
    key: KeyOption = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Refund part or all of a payment your merchant received (your PIN)."""
    where = locate_signed_in(profile, server)
    pin = read_pin()

    async def work(client: Client) -> Refund:
        return await client.wallet.refund(payment_id, amount, idempotency_key=key, pin=pin)

    done = call(where, work)
    again = " (already refunded earlier with this key)" if done.replayed else ""
    state = ""
    if done.payment is not None:
        state = f"; {done.payment.refunded} of {done.payment.amount} refunded"
    out.print(f"Refund {done.refund_id}: {done.amount}{state}{again}.", soft_wrap=True)


@merchants_app.command("merchants")
def merchants(
    payments: Annotated[
        int, typer.Option("--payments", min=0, max=200, help="Show this many recent payments.")
    ] = 10,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """The merchants you own, their balances and recent payments."""
    where = locate_signed_in(profile, server)

    async def work(client: Client) -> list[tuple[str, list[Payment]]]:
        shown = []
        for merchant in await client.wallet.merchants():
            balances = ", ".join(str(b) for b in merchant.balances)
            title = (
                f"{merchant.name} ({merchant.category}, {merchant.status}) "
                f"{merchant.merchant_id}: {balances}"
            )
            page = await client.wallet.merchant_payments(merchant.merchant_id, limit=payments)
            shown.append((title, list(page.payments) if payments else []))
        return shown

    rows = call(where, work)
    if not rows:
        out.print("You own no merchants; an operator registers them.")
    for title, recent in rows:
        out.print(escape(title), soft_wrap=True)
        if recent:
            table = Table("payment id", "amount", "refunded", "fee", "state", "when")
            table.columns[0].no_wrap = True
            for p in recent:
                fee = str(p.fee) if p.fee is not None else ""
                table.add_row(
                    p.payment_id, str(p.amount), str(p.refunded), fee, p.state, when(p.created_at)
                )
            out.print(table)


@qr_app.command("create")
def qr_create(
    merchant: Annotated[str, typer.Option("--merchant", help="Your merchant's id.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write it: *.svg or *.png.")],
    amount: Annotated[
        tuple[str, str] | None,
        typer.Option("--amount", help="A fixed amount and currency, e.g. --amount 25.00 CNY."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="A static code's currency (default: the merchant's)."),
    ] = None,
    label: Annotated[str, typer.Option("--label", help="Your note, e.g. the till.")] = "",
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Make a payment code and write it as a QR image; static unless --amount is given."""
    kind = IMAGE_SUFFIXES.get(out_file.suffix.lower())
    if kind is None:
        fail("--out must end in .svg or .png")
    where = locate_signed_in(profile, server)

    async def work(client: Client) -> QrCode:
        if amount is not None:
            value, code_currency = amount
            return await client.wallet.qr_create(merchant, code_currency, value, label=label)
        chosen = currency
        if chosen is None:
            owned = {m.merchant_id: m for m in await client.wallet.merchants()}
            chosen = owned[merchant].currencies[0] if merchant in owned else "CNY"
        return await client.wallet.qr_create(merchant, chosen, label=label)

    code = call(where, work)
    assert code.payload is not None  # a new code is live
    out_file.write_bytes(render_qr(code.payload, "svg" if kind == "svg" else "png"))
    what = str(code.amount) if code.amount is not None else f"any amount in {code.currency}"
    out.print(f"Code {code.qr_id} ({what}) written to {escape(str(out_file))}", soft_wrap=True)
    out.print(code.payload, soft_wrap=True)


@qr_app.command("list")
def qr_list(
    merchant: Annotated[
        str | None, typer.Option("--merchant", help="Only this merchant's codes.")
    ] = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Your merchants' codes, newest first (revoked ones too)."""
    where = locate_signed_in(profile, server)
    codes = call(where, lambda client: client.wallet.qr_list(merchant))
    table = Table("code id", "kind", "amount", "label", "made", "state")
    table.columns[0].no_wrap = True
    for code in codes:
        amount = str(code.amount) if code.amount is not None else code.currency
        state = "revoked" if code.revoked_at else "live"
        table.add_row(
            code.qr_id, code.kind, amount, escape(code.label), when(code.created_at), state
        )
    out.print(table)


@qr_app.command("revoke")
def qr_revoke(
    qr_id: Annotated[str, typer.Argument(help="The code id (see `wallet qr list`).")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Withdraw a code for good: payments with it are refused."""
    where = locate_signed_in(profile, server)
    try:
        call(where, lambda client: client.wallet.qr_revoke(qr_id))
    except ValueError as exc:
        fail(str(exc))
    out.print(f"Code {qr_id} revoked.")
