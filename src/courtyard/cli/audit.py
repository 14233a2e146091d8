"""``courtyard audit verify|head|log``: check the audit log from the database, show its latest
signed head, list its entries (docs/audit-log.md, "Command line")."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from courtyard.cli.audit_state import STATE_FILE_NAME, StateError, VerifyState
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator

if TYPE_CHECKING:  # the server's layers load only when a command runs
    from courtyard.core.config import Settings
    from courtyard.domains.audit import SignedHead, VerifyReport

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
audit_app = typer.Typer(help="The audit log: verify it, show its signed head, list entries.")
INTACT, FINDINGS, TROUBLE = 0, 1, 2  # exit statuses of verify
HTTP_TIMEOUT_SECONDS = 30.0
LOG_ROLES = ("admin",)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="A server's URL: compare with the head it publishes."),
]


def _settings(db: str | None, data_dir: Path | None) -> Settings:
    from courtyard.cli.server import settings_or_exit

    return settings_or_exit(database_url=db, data_dir=data_dir)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(TROUBLE)


def _fetch(server: str) -> tuple[dict[str, Any], SignedHead | None]:
    """The server's published keys and latest head (None before its first)."""
    import httpx

    from courtyard.domains.audit import SignedHead

    base = server.rstrip("/")
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as http:
            keys = http.get(f"{base}/v1/audit/keys")
            head = http.get(f"{base}/v1/audit/tree-head")
        keys.raise_for_status()
        published = keys.json()
        if not isinstance(published, dict):
            raise ValueError("the keys are not a JSON object")
        if head.status_code == 404:
            return published, None
        head.raise_for_status()
        return published, SignedHead.from_json(head.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise _fail(f"cannot read the audit head from {server}: {exc}") from None


def _keys(settings: Settings, state: VerifyState, server: str | None) -> SignedHead | None:
    """Gather the keys to check heads with into ``state``: those pinned by earlier runs, the
    data dir's own key, and (first seen, then pinned) the server's. Returns its head."""
    import base64

    from courtyard.core.key_files import load_key
    from courtyard.domains.audit import KEY_FILE_NAME, key_id_for, public_key_from_raw

    local = settings.data_dir / KEY_FILE_NAME
    if local.exists():
        key = load_key(local).public_key()
        state.keys.setdefault(key_id_for(key), key)
    if server is None:
        return None
    published_keys, head = _fetch(server)
    for entry in published_keys.get("keys", []):
        try:
            key = public_key_from_raw(base64.b64decode(entry["public_key"], validate=True))
        except (KeyError, TypeError, ValueError):
            continue  # not a key; a head it "signed" will show as unknown_key
        if key_id_for(key) == entry.get("key_id"):
            state.keys.setdefault(key_id_for(key), key)
    return head


@audit_app.command("verify")
def verify(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    server: ServerOption = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help=f"The verifier's memory (default: <data dir>/{STATE_FILE_NAME})."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-derive the audit log from the database and check every entry and signed head.
    Exit 0 if intact, 1 with the findings otherwise (2: could not check)."""
    from sqlalchemy.exc import DBAPIError

    from courtyard.db import Database
    from courtyard.domains.audit import verify_log

    settings = _settings(db, data_dir)
    state_path = state or settings.data_dir / STATE_FILE_NAME
    try:
        memory = VerifyState.load(state_path)
    except StateError as exc:
        raise _fail(str(exc)) from None
    published = _keys(settings, memory, server)

    async def check() -> VerifyReport:
        database = Database(settings.database_url)
        try:
            return await verify_log(database, memory.keys, trusted=memory.head, published=published)
        finally:
            await database.dispose()

    try:
        report = asyncio.run(check())
    except DBAPIError as exc:
        raise _fail(f"cannot read the audit log ({type(exc).__name__}); is it migrated?") from None
    if report.ok:
        if report.latest is not None:
            memory.head = report.latest
        memory.save(state_path)
    _show_report(report, state_path, as_json)
    raise typer.Exit(INTACT if report.ok else FINDINGS)


def _show_report(report: VerifyReport, state_path: Path, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "size": report.size,
                    "heads": report.heads,
                    "latest": report.latest.as_json() if report.latest else None,
                    "findings": [
                        {"kind": f.kind, "seq": f.seq, "message": f.message}
                        for f in report.findings
                    ],
                    "state": str(state_path),
                },
                indent=2,
            )
        )
        return
    if report.ok:
        covered = f"; latest head covers {report.latest.tree_size}" if report.latest else ""
        out.print(
            f"[green]intact[/green]: {report.size} entries, {report.heads} signed heads{covered}"
        )
        return
    table = Table(title=f"{len(report.findings)} finding(s) in {report.size} entries")
    for column in ("kind", "seq", "what was seen"):
        table.add_column(column)
    for finding in report.findings:
        seq = "—" if finding.seq is None else str(finding.seq)
        table.add_row(finding.kind, seq, escape(finding.message))
    out.print(table)


@audit_app.command("head")
def head(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the latest signed tree head: from the database, or as a server publishes it."""

    if server is not None:
        latest: SignedHead | None = _fetch(server)[1]
    else:
        latest = asyncio.run(_latest_head(_settings(db, data_dir).database_url))
    if latest is None:
        raise _fail("no tree head has been signed yet")
    if as_json:
        typer.echo(json.dumps(latest.as_json(), indent=2))
        return
    for name, value in latest.as_json().items():
        out.print(f"{name}: {value}")


async def _latest_head(url: str) -> SignedHead | None:
    from courtyard.db import Database
    from courtyard.domains.audit import get_latest_head

    database = Database(url)
    try:
        return await get_latest_head(database)
    finally:
        await database.dispose()


@audit_app.command("log")
def log(
    operator: OperatorOption = None,
    actor: Annotated[str | None, typer.Option(help="Operator username, id, or an actor.")] = None,
    action: Annotated[str | None, typer.Option(help="An action, or a family: wallet.")] = None,
    target: Annotated[str | None, typer.Option(help="A target, or a kind: account:")] = None,
    user: Annotated[
        str | None, typer.Option(help="Entries about this user (username or id); recorded.")
    ] = None,
    before: Annotated[int | None, typer.Option(min=0, help="Only entries below this seq.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many.")] = 50,
    db: DbOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List audit-log entries, newest first (operators with the role admin)."""
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.domains.accounts import ActionFilter, OperatorActionRecord, OperatorActionsLog

    settings = _settings(db, data_dir)
    signed_in = signed_in_operator(settings, operator, *LOG_ROLES)
    wanted = ActionFilter(operator=actor, action=action, target=target, user=user)

    async def read() -> list[OperatorActionRecord]:
        database = Database(settings.database_url)
        try:
            entries = OperatorActionsLog(database)
            return await entries.access_latest(
                SystemClock(), signed_in.operator_id, wanted, before=before, limit=limit
            )
        finally:
            await database.dispose()

    rows = asyncio.run(read())
    if as_json:
        typer.echo(json.dumps([_entry_json(row) for row in rows], indent=2))
        return
    table = Table(title=f"{len(rows)} entries, newest first")
    for column in ("seq", "at", "operator", "action", "target", "about", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.seq), row.at.isoformat(), escape(row.operator), escape(row.action),
            escape(row.target), row.subject_user_id or "", escape(row.note or ""),
        )  # fmt: skip
    out.print(table)


def _entry_json(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "entry_id": row.action_id,
        "at": row.at.isoformat(),
        "operator_id": row.operator_id,
        "operator": row.operator,
        "action": row.action,
        "target": row.target,
        "subject_user_id": row.subject_user_id,
        "note": row.note,
    }
