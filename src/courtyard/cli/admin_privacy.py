"""``courtyard admin privacy purge|holds|hold place|hold release|complaints|complaint answer``:
the retention purge, legal holds and complaints from a server host, against the database,
with the console's roles (docs/user-rights.md). Every command names its operator."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError

if TYPE_CHECKING:  # the domain loads only when a command runs, as in cli/server.py
    from courtyard.domains.privacy.complaints import Complaints, ComplaintView
    from courtyard.domains.privacy.hold_desk import HoldDesk
    from courtyard.domains.privacy.retention import PurgeReport, Retention

T = TypeVar("T")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
privacy_admin_app = typer.Typer(
    help="Retention purge, legal holds and complaints.", no_args_is_help=True
)
hold_app = typer.Typer(help="Place or release a legal hold.", no_args_is_help=True)
complaint_app = typer.Typer(help="Answer a complaint.", no_args_is_help=True)
privacy_admin_app.add_typer(hold_app, name="hold")
privacy_admin_app.add_typer(complaint_app, name="complaint")

# As in cli/server.py, which registers this app (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (1-500 characters).")]


@dataclass(frozen=True, slots=True)
class Desk:
    """What the commands work with, and who runs them (``operator:<id>``)."""

    holds: HoldDesk
    complaints: Complaints
    retention: Retention
    operator_id: str

    @property
    def actor(self) -> str:
        return f"operator:{self.operator_id}"


def run_desk(
    command: str,
    operator: str | None,
    db: str | None,
    data_dir: Path | None,
    work: Callable[[Desk], Awaitable[T]],
) -> T:
    """Check the operator's roles for ``privacy <command>``, then run ``work`` on this
    server's database; a refusal is one line and exit status 1."""
    from courtyard.cli.server import settings_or_exit
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.db.migrate import upgrade
    from courtyard.domains.privacy.complaints import Complaints
    from courtyard.domains.privacy.hold_desk import HoldDesk
    from courtyard.domains.privacy.retention import Retention

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    signed_in = signed_in_operator(settings, operator, *roles_of(f"privacy {command}"))
    upgrade(settings.database_url)

    async def run() -> T:
        database, clock = Database(settings.database_url), SystemClock()
        window = dt.timedelta(seconds=settings.login_window_seconds)
        desk = Desk(
            HoldDesk(database, clock), Complaints(database, clock),
            Retention(database, clock, window), signed_in.operator_id,
        )  # fmt: skip
        try:
            return await work(desk)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


def _when(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%MZ")


@privacy_admin_app.command("purge")
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would go; delete and record nothing.")
    ] = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run the retention purge now, as the daily job does (rows of held users stay)."""
    report: PurgeReport = run_desk(
        "purge", operator, db, data_dir,
        lambda desk: desk.retention.do_purge(dry_run=dry_run, actor=desk.actor),
    )  # fmt: skip
    verb = "would delete" if dry_run else "deleted"
    for rule, count in report.counts.items():
        out.print(f"{rule:<22} {verb} {count}")
    out.print(f"users under a legal hold, skipped: {report.held_users}")


@privacy_admin_app.command("holds")
def holds(
    operator: OperatorOption = None, db: DbOption = None, data_dir: DataDirOption = None
) -> None:
    """List the active legal holds, oldest first: one line each."""
    rows = run_desk("holds", operator, db, data_dir, lambda desk: desk.holds.list_active())
    if not rows:
        out.print("no active holds")
    for row in rows:
        case = f"  case {row.case_id}" if row.case_id else ""
        out.print(
            f"{row.hold_id}  {escape(row.username or 'deleted user')}  placed "
            f"{_when(row.placed_at)} by {row.placed_by}{case}  {escape(row.reason)}",
            soft_wrap=True,
        )


@hold_app.command("place")
def place(
    username: Annotated[str, typer.Argument(help="The user whose data to hold.")],
    reason: ReasonOption,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Hold a user's data: neither erasure nor the purge deletes it until released."""
    hold_id = run_desk(
        "hold place", operator, db, data_dir,
        lambda desk: desk.holds.do_place(username, reason, actor=desk.actor),
    )  # fmt: skip
    out.print(f"hold {hold_id} placed on {escape(username)}")


@hold_app.command("release")
def release(
    hold_id: Annotated[str, typer.Argument(help="The hold's id (see `privacy holds`).")],
    reason: ReasonOption,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Release an active hold; a deferred erasure of the user then runs at once."""
    rearmed = run_desk(
        "hold release", operator, db, data_dir,
        lambda desk: desk.holds.do_release(hold_id, reason, actor=desk.actor),
    )  # fmt: skip
    more = "; the user's deferred erasure runs now" if rearmed else ""
    out.print(f"hold {hold_id} released{more}")


@privacy_admin_app.command("complaints")
def complaints(
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open complaints past their deadline.")
    ] = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List complaints: open ones first by deadline, then answered ones."""

    async def work(desk: Desk) -> tuple[list[ComplaintView], dt.datetime]:
        rows = await desk.complaints.list_for_operators(overdue_only=overdue)
        return rows, desk.complaints.clock.now()

    rows, now = run_desk("complaints", operator, db, data_dir, work)
    if not rows:
        out.print("no overdue complaints" if overdue else "no complaints")
    for row in rows:
        late = "  OVERDUE" if row.overdue(now) else ""
        out.print(
            f"{row.complaint_id}  {row.status}  due {_when(row.due_at)}{late}  "
            f"{escape(row.username or 'deleted user')}  {escape(row.subject)}",
            soft_wrap=True,
        )


@complaint_app.command("answer")
def answer(
    complaint_id: Annotated[str, typer.Argument(help="The complaint's id.")],
    text: Annotated[str, typer.Option("--text", help="The answer; the user gets it as a notice.")],
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Answer an open complaint (once)."""
    answered = run_desk(
        "complaint answer", operator, db, data_dir,
        lambda desk: desk.complaints.do_answer(
            complaint_id, text, actor=desk.actor, operator_id=desk.operator_id
        ),
    )  # fmt: skip
    out.print(f"complaint {answered.complaint_id} answered; the user has a notice")
