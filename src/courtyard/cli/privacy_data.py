"""``courtyard privacy export|access-log``: save everything the server holds about you, and
see who accessed it (docs/data-map.md). Merged into ``privacy_app`` by cli/privacy.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from courtyard.cli.client_verbs import (
    ProfileOption,
    ServerOption,
    call,
    fail,
    locate,
    out,
    when,
)
from courtyard.client import Client
from courtyard.client.privacy_data import AccessLogPage

data_app = typer.Typer()
Format = Literal["json", "html"]


@data_app.command("export")
def export(
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to save it (refused if it exists).")
    ],
    format: Annotated[
        str, typer.Option("--format", help="json (machine-readable) or html (readable).")
    ] = "json",
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Download everything the server holds about you to a file; messages come as
    ciphertext, labelled so. The export is recorded in your access log."""
    if format not in ("json", "html"):
        fail(f"--format must be json or html, not {format}")
    if out_file.exists():
        fail(f"{out_file} exists; choose another --out")
    where = locate(profile, server)
    where.signed_in()
    chosen: Format = "html" if format == "html" else "json"

    async def work(client: Client) -> str:
        if chosen == "html":
            return await client.privacy.export("html")
        body = await client.privacy.export("json")
        return json.dumps(body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"

    text = call(where, work)
    try:
        with out_file.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail(f"cannot write {out_file}: {exc.strerror or exc}")
    out_file.chmod(0o600)  # it is all about you: readable by you alone
    out.print(f"Saved your data ({chosen}, {len(text.encode())} bytes) to {escape(str(out_file))}.")


@data_app.command("access-log")
def access_log(
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many entries.")] = 50,
    before: Annotated[
        int | None, typer.Option(min=0, help="Older than this position (from the last page).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Who accessed your data, newest first: operators, mini-apps, the legal desk and your
    own exports."""
    where = locate(profile, server)
    where.signed_in()
    page = call(where, lambda c: c.privacy.access_log(before=before, limit=limit))
    if as_json:
        typer.echo(json.dumps(_page_json(page), indent=2, sort_keys=True))
        return
    if not page.entries:
        out.print("No one has accessed your data." if before is None else "No older entries.")
        return
    table = Table("#", "when", "who", "what", "on", "note")
    for entry in page.entries:
        table.add_row(
            str(entry.seq), when(entry.at), escape(entry.actor), escape(entry.action),
            escape(entry.target), escape(entry.note or ""),
        )  # fmt: skip
    out.print(table)
    if page.next_before is not None:
        out.print(f"Older entries: --before {page.next_before}")


def _page_json(page: AccessLogPage) -> dict[str, Any]:
    return {
        "entries": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "actor_kind": e.actor_kind,
                "action": e.action,
                "target": e.target,
                "note": e.note,
                "detail": e.detail,
            }
            for e in page.entries
        ],
        "next_before": page.next_before,
    }
