"""``courtyard privacy erase|erasure|cancel-erasure|complain|complaints|notices``: your rights
over your data (docs/user-rights.md). Merged into ``privacy_app`` by cli/privacy.py; the
password for ``erase`` is prompted or read from ``COURTYARD_PASSWORD``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from courtyard.cli.client_verbs import (
    ProfileOption,
    ServerOption,
    call,
    locate,
    out,
    read_password,
    when,
)
from courtyard.client.privacy_rights import Complaint, Erasure

rights_app = typer.Typer()


def _show_erasure(erasure: Erasure) -> None:
    if erasure.status == "pending":
        out.print(
            f"Erasure pending: your account will be erased on {when(erasure.due_at)}.",
            soft_wrap=True,
        )
    elif erasure.status == "held":
        out.print(f"Erasure deferred (was due {when(erasure.due_at)}).")
        out.print(escape(erasure.explanation or ""), soft_wrap=True)
    else:
        out.print(f"Erasure {erasure.status} (it was asked for on {when(erasure.requested_at)}).")
    if erasure.cancellable:
        out.print("Cancel it with `courtyard privacy cancel-erasure`.", soft_wrap=True)


@rights_app.command("erase")
def erase(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Ask for your account and data to be erased in 30 days (cancellable until then).
    Your wallet must be empty; payment records are kept under a pseudonym."""
    where = locate(profile, server)
    where.signed_in()
    if not yes and not typer.confirm("Erase your account in 30 days?"):
        raise typer.Exit(1)
    password = read_password(confirm=False)
    _show_erasure(call(where, lambda c: c.privacy.request_erasure(password)))


@rights_app.command("erasure")
def erasure(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Show your erasure request."""
    where = locate(profile, server)
    where.signed_in()
    _show_erasure(call(where, lambda c: c.privacy.erasure()))


@rights_app.command("cancel-erasure")
def cancel_erasure(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Cancel your erasure request: your account stays."""
    where = locate(profile, server)
    where.signed_in()
    call(where, lambda c: c.privacy.cancel_erasure())
    out.print("Erasure cancelled: your account stays.", soft_wrap=True)


def _show_complaint(complaint: Complaint, *, full: bool) -> None:
    answered = complaint.status == "answered"
    state = (
        f"answered {when(complaint.answered_at)}"
        if answered and complaint.answered_at
        else (f"open, answer due by {when(complaint.due_at)}")
    )
    out.print(
        f"[bold]{escape(complaint.subject)}[/bold] ({state})  {complaint.complaint_id}",
        soft_wrap=True,
    )
    if full:
        out.print(escape(complaint.body), soft_wrap=True)
    if complaint.answer:
        out.print(f"  answer: {escape(complaint.answer)}", soft_wrap=True)


@rights_app.command("complain")
def complain(
    subject: Annotated[str, typer.Argument(help="What it is about, in a line.")],
    body: Annotated[str, typer.Argument(help="Your complaint (or the correction you ask for).")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Complain about how your data is handled; the answer comes as a notice."""
    where = locate(profile, server)
    where.signed_in()
    filed = call(where, lambda c: c.privacy.complain(subject, body))
    out.print(
        f"Complaint {filed.complaint_id} filed; the operator must answer by {when(filed.due_at)}.",
        soft_wrap=True,
    )


@rights_app.command("complaints")
def complaints(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """List your complaints, newest first, with deadlines and answers."""
    where = locate(profile, server)
    where.signed_in()
    rows = call(where, lambda c: c.privacy.complaints())
    for row in rows:
        _show_complaint(row, full=False)
    if not rows:
        out.print("No complaints.", soft_wrap=True)


@rights_app.command("notices")
def notices(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """The operator's notices to you, newest first."""
    where = locate(profile, server)
    where.signed_in()
    rows = call(where, lambda c: c.privacy.notices())
    for row in rows:
        out.print(
            f"{when(row.created_at)}  [bold]{escape(row.title)}[/bold] ({row.kind})", soft_wrap=True
        )
        out.print(f"  {escape(row.body)}", soft_wrap=True)
    if not rows:
        out.print("No notices.", soft_wrap=True)
