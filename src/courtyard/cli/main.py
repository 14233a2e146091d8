"""Entry point of the ``courtyard`` console script."""

from __future__ import annotations

import typer

from courtyard import __version__
from courtyard.cli import (
    audit,
    chat,
    client_verbs,
    demo,
    device_app,
    privacy,
    sandbox_provider,
    server,
    transparency,
    wallet,
    wallet_bills,
    wallet_merchants,
    wallet_withdrawals,
)

app = typer.Typer(
    name="courtyard",
    help="Courtyard: chat, payments and more, where the operator cannot read your messages.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(server.serve)
app.command("demo")(demo.demo)
app.add_typer(server.db_app, name="db")
app.add_typer(server.admin_app, name="admin")
client_verbs.register_commands(app)
app.add_typer(chat.chat_app, name="chat")
wallet.wallet_app.add_typer(wallet_bills.bills_app)  # billers, bill, bills, spending
wallet.wallet_app.add_typer(wallet_merchants.merchants_app)  # pay, refund, merchants, qr
wallet.wallet_app.add_typer(wallet_withdrawals.withdrawals_app)  # withdraw
app.add_typer(wallet.wallet_app, name="wallet")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(audit.audit_app, name="audit")
app.command("transparency")(transparency.transparency)
app.command("app")(device_app.device_app)
app.add_typer(sandbox_provider.sandbox_app, name="sandbox-provider")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
