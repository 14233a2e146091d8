"""Server-side verbs: serve, db upgrade/downgrade/current, and the ``admin`` group."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from courtyard.cli.admin_datamap import datamap
from courtyard.cli.admin_legal_steps import legal_app  # with the steps' commands registered
from courtyard.cli.admin_operators import create_operator, operator_app
from courtyard.cli.admin_policies import policy_app
from courtyard.cli.admin_privacy import privacy_admin_app
from courtyard.cli.admin_wallet_accounts import register_account_commands
from courtyard.cli.admin_wallet_billers import biller_app
from courtyard.cli.admin_wallet_merchants import merchant_app
from courtyard.cli.admin_wallet_oversight import register_oversight_commands
from courtyard.core.config import Settings, load_settings
from courtyard.core.errors import ConfigError
from courtyard.core.logging import configure_logging

console = Console(stderr=True)
SHUTDOWN_GRACE_SECONDS = 5
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
admin_app = typer.Typer(help="Operator administration.", no_args_is_help=True)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(2) from None


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    db: DbOption = None,
    bus: Annotated[str | None, typer.Option("--bus", help="memory:// or nats://host:port")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Migrate the database, then serve the API until interrupted."""
    settings = settings_or_exit(
        host=host, port=port, database_url=db, bus_url=bus, data_dir=data_dir
    )
    run_server(settings)


def run_server(settings: Settings) -> None:
    """Migrate, then run uvicorn with our logging until interrupted."""
    import uvicorn

    from courtyard.api import create_app
    from courtyard.db.migrate import upgrade

    configure_logging(settings.log_level, settings.log_format)
    upgrade(settings.database_url)
    app = create_app(settings)
    console.print(
        f"Courtyard serving on http://{settings.host}:{settings.port} (API docs at /docs)"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws_max_size=settings.max_body_bytes,
        lifespan="on",
        # Long-polls may wait up to a minute; clients resume, so don't hold shutdown for them.
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply migrations up to ``revision`` (default: the newest)."""
    from courtyard.db.migrate import upgrade

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    upgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revert migrations down to ``revision``."""
    from courtyard.db.migrate import downgrade

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    downgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@db_app.command("current")
def db_current(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Print the revision the database is at."""
    from courtyard.db.migrate import current_revision

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    typer.echo(asyncio.run(current_revision(settings.database_url)) or "none")


admin_app.command("create-operator")(create_operator)
admin_app.add_typer(operator_app, name="operator")  # list, roles
admin_app.command("datamap")(datamap)
admin_app.add_typer(policy_app, name="policy")  # publish, list, show
admin_app.add_typer(legal_app, name="legal")  # the lawful-request desk
admin_app.add_typer(privacy_admin_app, name="privacy")  # purge, holds, complaints

admin_wallet_app = typer.Typer(help="Wallet operations for operators.", no_args_is_help=True)
admin_app.add_typer(admin_wallet_app, name="wallet")
admin_wallet_app.add_typer(biller_app, name="biller")
admin_wallet_app.add_typer(merchant_app, name="merchant")
register_account_commands(admin_wallet_app)  # freeze, unfreeze
register_oversight_commands(admin_wallet_app)  # audit, reconcile, reconcile-resolve
