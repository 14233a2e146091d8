"""``courtyard admin wallet audit|reconcile|reconcile-resolve``: how operators check the
ledger and the payment provider (docs/wallet.md, "Audit", "Reconciliation"). Run on a server
host against the database, as an admin or finance operator (``--operator``); every run is
recorded as the server's jobs record theirs, with the operator's action, and ``--json`` prints
it for scripts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError

if TYPE_CHECKING:  # the server's layers load only when a command runs, as in cli/server.py
    from courtyard.api.runtime import Runtime
    from courtyard.core.config import Settings
    from courtyard.domains.wallet import AuditRunView, ReconciliationRunView

T = TypeVar("T")
console = Console(stderr=True)
# As in cli/server.py, which registers these commands (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Resolution = Literal["applied_provider_status", "adjusted", "dismissed"]


def register_oversight_commands(app: typer.Typer) -> None:
    """Add ``audit``, ``reconcile`` and ``reconcile-resolve`` to ``courtyard admin wallet``."""
    app.command("audit")(wallet_audit)
    app.command("reconcile")(wallet_reconcile)
    app.command("reconcile-resolve")(wallet_reconcile_resolve)


def _signed_in(
    command: str, operator: str | None, db: str | None, data_dir: Path | None
) -> tuple[Settings, str]:
    """This server's settings and the id of the operator running ``admin wallet <command>``
    (exits unless their roles allow it)."""
    from courtyard.cli.server import settings_or_exit

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    signed_in = signed_in_operator(settings, operator, *roles_of(f"wallet {command}"))
    return settings, signed_in.operator_id


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``work``; a refusal is printed and exits 1, as the server would answer it."""
    try:
        return asyncio.run(work())
    except CourtyardError as exc:
        console.print(f"[red]error:[/red] {exc.code}: {exc.detail}")
        raise typer.Exit(1) from None


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=_wire))


def _wire(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The server's wallet with its payment provider, without serving or running jobs."""
    from courtyard.api.runtime import Runtime
    from courtyard.streams.bus import close_quietly

    runtime = Runtime.build(settings)
    await runtime.bus.start()
    try:
        await runtime.wallet.start()
        try:
            yield runtime
        finally:
            await runtime.wallet.stop()
    finally:
        await close_quietly(runtime.bus)
        await runtime.db.dispose()


def wallet_audit(
    full: Annotated[
        bool, typer.Option("--full", help="Check every entry and account, not only the new.")
    ] = False,
    json_output: JsonOption = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Check the ledger and record the run: every entry balanced per currency, no orphans,
    cached balances equal to their postings, nothing negative that may not be, the whole
    ledger summing to zero. Without --full only what was written since the last run (and what
    it found wrong). Exits 1 on findings; changes nothing else."""
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.domains.wallet import AuditRuns

    settings, operator_id = _signed_in("audit", operator, db, data_dir)

    async def run() -> AuditRunView:
        database = Database(settings.database_url)
        try:
            return await AuditRuns(database, SystemClock()).do_audit(
                full=full, operator_id=operator_id
            )
        finally:
            await database.dispose()

    view = _run(run)
    if json_output:
        _echo_json({**asdict(view), **view.checked})
    else:
        checked = ", ".join(f"{n} {what}" for what, n in view.checked.items())
        verdict = "[green]ok[/green]" if view.ok else f"[red]{view.finding_count} findings[/red]"
        console.print(f"{view.scope} audit {view.run_id}: {checked}: {verdict}")
        for finding in view.findings:
            console.print(f"  {finding}")
    if not view.ok:
        raise typer.Exit(1)


def wallet_reconcile(
    day: Annotated[
        str | None, typer.Option("--day", help="UTC day YYYY-MM-DD (default: yesterday).")
    ] = None,
    json_output: JsonOption = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Compare one day of the payment provider's signed report with our top-ups and
    withdrawals: apply lost callbacks, and record every other difference as an exception
    for a finance operator. Exits 1 while the run has unresolved exceptions."""
    settings, operator_id = _signed_in("reconcile", operator, db, data_dir)
    try:
        when = dt.date.fromisoformat(day) if day else _yesterday()
    except ValueError:
        console.print(f"[red]error:[/red] --day {day!r} is not YYYY-MM-DD")
        raise typer.Exit(2) from None

    async def run() -> ReconciliationRunView:
        async with _runtime(settings) as runtime:
            return await runtime.wallet.reconciliation.do_reconcile(when, operator_id=operator_id)

    view = _run(run)
    if json_output:
        _echo_json(asdict(view))
    else:
        counts = ", ".join(f"{n} {kind}" for kind, n in view.counts.items())
        console.print(f"reconciliation {view.run_id} of {view.provider} {view.day}: {counts}")
        for item in view.items:
            where = item.operation_id or item.detail.get("currency", "")
            done = f" ({item.resolution})" if item.resolution else ""
            console.print(f"  #{item.item_no} {item.kind} {where}{done} {item.detail}")
    if view.unresolved:
        raise typer.Exit(1)


def wallet_reconcile_resolve(
    run_id: Annotated[str, typer.Argument(help="The reconciliation run.")],
    item_no: Annotated[int, typer.Argument(help="The item's number in that run.")],
    resolution: Annotated[Resolution, typer.Option("--resolution", help="What to do.")],
    note: Annotated[str, typer.Option("--note", help="Why (kept with the resolution).")],
    json_output: JsonOption = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Resolve a reconciliation exception once, with a note: apply the provider's status,
    book an adjustment against suspense, or dismiss it. Recorded as the operator's action."""
    settings, operator_id = _signed_in("reconcile-resolve", operator, db, data_dir)

    async def run() -> dict[str, Any]:
        async with _runtime(settings) as runtime:
            item = await runtime.wallet.resolutions.resolve_item(
                operator_id, run_id, item_no, resolution, note
            )
            return asdict(item)

    item = _run(run)
    if json_output:
        _echo_json(item)
    else:
        console.print(f"item #{item['item_no']} of {item['run_id']}: {item['resolution']}")


def _yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
