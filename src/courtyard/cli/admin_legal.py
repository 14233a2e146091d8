"""``courtyard admin legal intake|list|show|review|approve|…|rules``: the lawful-request desk
from a server host, against the database, with the console's roles (docs/legal-desk.md,
"CLI"). Every command names its operator; a case is named by its id or its reference."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from courtyard.cli.admin_roles import roles_of
from courtyard.cli.operator_auth import OperatorOption, signed_in_operator
from courtyard.core.errors import CourtyardError, InvalidInput

if TYPE_CHECKING:  # the domain loads only when a command runs, as in cli/server.py
    from courtyard.domains.legal import CaseView, LegalDesk

T = TypeVar("T")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
legal_app = typer.Typer(help="The lawful-request desk.", no_args_is_help=True)

# As in cli/server.py, which registers this app (so this module cannot import from it).
DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: SQLite under the data dir).")
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Local state directory.")]
CaseArg = Annotated[str, typer.Argument(help="The case's id or reference (LR-2026-0001).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the case as JSON.")]


def run_desk(
    command: str,
    operator: str | None,
    db: str | None,
    data_dir: Path | None,
    work: Callable[[LegalDesk, str], Awaitable[T]],
) -> T:
    """Check the operator's roles for ``legal <command>``, then run ``work(desk,
    operator_id)`` on this server's desk; a refusal is one line and exit status 1."""
    from courtyard.cli.server import settings_or_exit
    from courtyard.core.clock import SystemClock
    from courtyard.db import Database
    from courtyard.db.migrate import upgrade
    from courtyard.domains.legal import legal_desk_for

    settings = settings_or_exit(database_url=db, data_dir=data_dir)
    operator_id = signed_in_operator(settings, operator, *roles_of(f"legal {command}")).operator_id
    upgrade(settings.database_url)

    async def run() -> T:
        database = Database(settings.database_url)
        try:
            return await work(legal_desk_for(settings, database, SystemClock()), operator_id)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except CourtyardError as exc:
        err.print(f"[red]error:[/red] {exc.code}: {escape(exc.detail)}", soft_wrap=True)
        raise typer.Exit(1) from None


def day(text: str | None, what: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} is a date: YYYY-MM-DD") from None


def wire(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def show_case(view: CaseView, as_json: bool = False) -> None:
    """The case as text (or JSON): facts, the rules' advice, targets, packages, timeline."""
    if as_json:
        typer.echo(json.dumps(asdict(view), indent=2, default=wire, ensure_ascii=False))
        return
    s = view.summary
    lines = [
        f"{s.reference}  {s.status}  (case {s.case_id})",
        f"  {s.authority} ({s.country}), {s.process_type}, received {s.received_at:%Y-%m-%d}"
        + (f", their reference {view.authority_reference}" if view.authority_reference else ""),
        f"  asked for {', '.join(view.categories)}, {view.date_from or 'start'} to "
        f"{view.date_to or 'end'}; non-disclosure order: {s.gag}",
    ]
    if view.review_outcome:
        lines.append(f"  review: {view.review_outcome} by {view.reviewer}")
    if view.approved_categories:
        start, end = view.approved_from or "start", view.approved_to or "end"
        lines.append(f"  scope: {', '.join(view.approved_categories)}, {start} to {end}")
    if view.approver:
        lines.append(f"  approved by {view.approver}")
    lines += [f"  rules: {a.subject} {a.code} ({a.reason})" for a in view.evaluation.categories]
    for t in view.targets:
        advice = f"{t.advice.code}: {t.advice.reason}" if t.advice else ""
        notice = f"notified {t.notified_at:%Y-%m-%d}" if t.notified_at else "not notified"
        lines.append(
            f"  target {t.target_no} {t.identifier}: {t.decision}"
            + (f" ({t.decision_reason})" if t.decision_reason else "")
            + f"; {advice}; {'held' if t.hold_id else 'no hold'}; {notice}"
        )
    lines += [f"  package {p.package_id} {p.filename} sha256 {p.sha256}" for p in view.packages]
    lines += [f"  {e.event_no:>3} {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.kind}" for e in view.events]
    for line in lines:
        out.print(escape(line), soft_wrap=True)


@legal_app.command("intake")
def intake(
    authority: Annotated[str, typer.Option("--authority", help="Who served the request.")],
    country: Annotated[str, typer.Option("--country", help="The authority's ISO 3166 code.")],
    process: Annotated[
        str,
        typer.Option(
            "--process",
            help="subpoena, court_order, search_warrant, emergency, "
            "preservation_request or mutual_legal_assistance.",
        ),
    ],
    target: Annotated[list[str], typer.Option("--target", help="A username or user id; repeat.")],
    category: Annotated[
        list[str],
        typer.Option(
            "--category",
            help="subscriber, connection_logs, transactions, message_metadata or content; repeat.",
        ),
    ],
    reference: Annotated[str, typer.Option("--reference", help="The authority's reference.")] = "",
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD.")] = None,
    gag: Annotated[
        str, typer.Option("--gag", help="Non-disclosure order: none, indefinite, or its end date.")
    ] = "none",
    document: Annotated[
        list[Path] | None, typer.Option("--document", help="A PDF or image served; repeat.")
    ] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Take in a request an authority served; prints the case with the rules' advice."""
    from courtyard.domains.legal import Intake, Upload

    async def work(desk: LegalDesk, operator_id: str) -> CaseView:
        kind, until = (gag, None) if gag in ("none", "indefinite") else ("until", day(gag, "--gag"))
        uploads = [Upload(path.name, path.read_bytes()) for path in document or []]
        served = Intake(
            authority=authority, country=country, process_type=process, targets=tuple(target),
            categories=tuple(category), authority_reference=reference,
            date_from=day(date_from, "--from"), date_to=day(date_to, "--to"), gag=kind,
            gag_until=until,
        )  # fmt: skip
        return await desk.do_intake(served, uploads, operator_id=operator_id)

    show_case(run_desk("intake", operator, db, data_dir, work))


@legal_app.command("list")
def list_cases(
    status: Annotated[
        str | None, typer.Option("--status", help="Only cases in this state.")
    ] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List cases, newest first: one line each."""
    rows = run_desk("list", operator, db, data_dir, lambda desk, _: desk.list_cases(status))
    if not rows:
        out.print("no cases")
    for c in rows:
        out.print(
            escape(f"{c.reference}  {c.status}  {c.received_at:%Y-%m-%d}  {c.country}  "
                   f"{c.process_type}  gag {c.gag}  {c.authority}  {c.case_id}"),
            soft_wrap=True,
        )  # fmt: skip


@legal_app.command("show")
def show(
    case: CaseArg,
    as_json: JsonOption = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show a case: facts, the rules' advice per category and target, timeline."""
    view = run_desk("show", operator, db, data_dir,
                    lambda desk, who: desk.access_case(case, operator_id=who))  # fmt: skip
    show_case(view, as_json)


@legal_app.command("rules")
def rules(
    operator: OperatorOption = None, db: DbOption = None, data_dir: DataDirOption = None
) -> None:
    """Print the rules in force (the shipped defaults or legal_rules_path) as JSON."""

    async def describe(desk: LegalDesk, _who: str) -> dict[str, Any]:
        return desk.rules.describe()

    typer.echo(json.dumps(run_desk("rules", operator, db, data_dir, describe), indent=2))


def _exclusions(values: list[str]) -> dict[int, str]:
    found = {}
    for value in values:
        number, _, reason = value.partition(":")
        if not number.strip().isdigit():
            raise InvalidInput("--exclude is NUMBER:REASON, e.g. 2:not the person named")
        found[int(number)] = reason.strip()
    return found


@legal_app.command("review")
def review(
    case: CaseArg,
    outcome: Annotated[Literal["accept", "narrow", "reject"], typer.Option("--outcome")],
    reason: Annotated[str, typer.Option("--reason", help="Why (narrow, reject).")] = "",
    category: Annotated[
        list[str] | None, typer.Option("--category", help="Narrow: a category kept; repeat.")
    ] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Narrow: first day.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Narrow: last day.")] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Narrow: NUMBER:REASON; repeat.")
    ] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Accept, narrow or reject a received case (legal reviewers)."""
    from courtyard.domains.legal import Review

    async def work(desk: LegalDesk, operator_id: str) -> CaseView:
        decision = Review(
            outcome=outcome, reason=reason,
            categories=tuple(category) if category else None,
            date_from=day(date_from, "--from"), date_to=day(date_to, "--to"),
            exclusions=_exclusions(exclude or []),
        )  # fmt: skip
        return await desk.do_review(case, decision, operator_id=operator_id)

    show_case(run_desk("review", operator, db, data_dir, work))


@legal_app.command("approve")
def approve(
    case: CaseArg,
    note: Annotated[str, typer.Option("--note", help="Recorded with the approval.")] = "",
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Approve the reviewed scope (legal approvers who did not review the case)."""
    show_case(
        run_desk(
            "approve", operator, db, data_dir,
            lambda desk, who: desk.do_approve(case, operator_id=who, note=note),
        )
    )  # fmt: skip
