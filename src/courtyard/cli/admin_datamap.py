"""``courtyard admin datamap [--json] [--table T]``: print the data map, every stored column
with its category, purpose, lawful basis and retention, and how each table's rows belong to a
user (docs/data-map.md). Any operator may read it; the same map is public at
``GET /v1/privacy/datamap``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator

if TYPE_CHECKING:  # the domain loads only when the command runs, as in cli/server.py
    from courtyard.domains.privacy import RegisteredMap

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

# As in cli/server.py, which registers this command (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]


def datamap(
    as_json: Annotated[bool, typer.Option("--json", help="Print the map as JSON.")] = False,
    table: Annotated[str | None, typer.Option("--table", help="Only this table.")] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print the data map: per table, whose rows they are, and per column its category,
    purpose, lawful basis and retention."""
    from courtyard.cli.server import settings_or_exit
    from courtyard.domains.privacy import TableNotDeclared, data_map_json, get_data_map

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    signed_in_operator(settings, operator, *roles_of("datamap"))
    registered = get_data_map()
    try:
        body = data_map_json(registered, only=table)
    except TableNotDeclared as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False))
        return
    show(registered, body)


def show(registered: RegisteredMap, body: dict[str, Any]) -> None:
    """One block per table: its domain and subject, then its columns."""
    out.print(f"Data map version {registered.version}", soft_wrap=True)
    for name, entry in body["tables"].items():
        heading = f"\n[bold]{escape(name)}[/bold] ({entry['domain']}): {escape(_subject(entry))}"
        out.print(heading, soft_wrap=True)
        grid = Table()
        for title in ("column", "category", "basis", "retention"):
            grid.add_column(title, no_wrap=True)
        grid.add_column("purpose", overflow="fold")
        for column, d in entry["columns"].items():
            grid.add_row(
                column, d["category"], ", ".join(d["basis"]), d["retention"], escape(d["purpose"])
            )
        out.print(grid)


def _subject(entry: dict[str, Any]) -> str:
    subject = entry["subject"]
    parts = [f"user id in {', '.join(subject['columns'])}"] if subject["columns"] else []
    parts += [
        f"through {link['column']} → {link['table']}.{link['key']}" for link in subject["links"]
    ]
    if not parts:
        return f"no one user's rows: {subject['note']}"
    withheld = f"; left out of exports: {subject['withheld']}" if subject["withheld"] else ""
    return "rows of a user with " + " or ".join(parts) + withheld
