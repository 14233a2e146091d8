"""``courtyard demo``: a ready-to-try server on SQLite with demo accounts (``make run``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from courtyard.cli.server import run_server, settings_or_exit
from courtyard.core.config import Settings

console = Console()
DEMO_PASSWORD = "courtyard demo password"  # noqa: S105 - printed for the demo on purpose
DEMO_USERS = [("alice", "Alice", "DE"), ("bob", "Bob", "CN")]


async def seed(settings: Settings) -> list[str]:
    """Create the demo accounts that do not exist yet; return the names created."""
    from courtyard.api.runtime import Runtime
    from courtyard.domains.accounts import UsernameTaken

    runtime = Runtime.build(settings)
    created = []
    try:
        for username, display_name, region in DEMO_USERS:
            try:
                await runtime.accounts.do_register(
                    username, DEMO_PASSWORD, display_name, region, "Demo seed"
                )
                created.append(username)
            except UsernameTaken:
                pass
    finally:
        await runtime.db.dispose()
    return created


def demo(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8470,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Demo state.")] = Path("var/demo"),
) -> None:
    """Start a server on SQLite with demo accounts and print how to try it."""
    from courtyard.db.migrate import upgrade

    settings = settings_or_exit(data_dir=data_dir, port=port, log_format="text")
    upgrade(settings.database_url)
    created = asyncio.run(seed(settings))
    base = f"http://{settings.host}:{settings.port}"
    table = Table(title="Courtyard demo", show_header=False)
    table.add_row("API", base)
    table.add_row("API docs", f"{base}/docs")
    table.add_row("Health", f"{base}/health")
    table.add_row(
        "Accounts", ", ".join(u for u, _, _ in DEMO_USERS) + f" (password: {DEMO_PASSWORD!r})"
    )
    table.add_row("Database", settings.database_url)
    table.add_row("Try", f"courtyard login --server {base} --profile var/demo/alice")
    console.print(table)
    if created:
        console.print(f"created demo accounts: {', '.join(created)}")
    run_server(settings)
