"""``courtyard admin legal hold|release-holds|package|notify|lift-gag|close``: a case's steps
after review, with the console's roles (docs/legal-desk.md, "CLI")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from courtyard.cli.admin_legal import (
    CaseArg,
    DataDirOption,
    DbOption,
    legal_app,
    out,
    run_desk,
    show_case,
)
from courtyard.cli.operator_auth import OperatorOption

if TYPE_CHECKING:
    from courtyard.domains.legal import CaseView, LegalDesk, StoredFile

# cli/server.py takes the desk's app from here, so that these commands are registered on it.
__all__ = ["close", "hold", "legal_app", "lift_gag", "notify", "package", "release_holds"]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded).")]


@legal_app.command("hold")
def hold(
    case: CaseArg,
    reason: ReasonOption = "",
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Hold the data of the case's eligible targets (erasure and purges wait for it)."""
    show_case(
        run_desk(
            "hold", operator, db, data_dir,
            lambda desk, who: desk.do_place_holds(case, operator_id=who, reason=reason),
        )
    )  # fmt: skip


@legal_app.command("release-holds")
def release_holds(
    case: CaseArg,
    reason: ReasonOption,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Release every active hold of the case."""
    show_case(
        run_desk(
            "release-holds", operator, db, data_dir,
            lambda desk, who: desk.do_release_holds(case, operator_id=who, reason=reason),
        )
    )  # fmt: skip


@legal_app.command("package")
def package(
    case: CaseArg,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Where to write the zip (default: REFERENCE.zip).")
    ] = None,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Make the signed package of an approved case (once) and write it to a file; for a
    produced case, write the package it has."""

    async def work(desk: LegalDesk, who: str) -> StoredFile:
        view = await desk.get_case(case)
        if view.status == "approved":
            view = await desk.do_package(case, operator_id=who)
        newest = view.packages[-1].package_id if view.packages else "none"
        return await desk.access_package(view.case_id, newest, operator_id=who)

    stored = run_desk("package", operator, db, data_dir, work)
    target = out_file or Path(stored.filename)
    target.write_bytes(stored.content)
    out.print(escape(f"wrote {target} ({len(stored.content)} bytes)"), soft_wrap=True)


@legal_app.command("notify")
def notify(
    case: CaseArg,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Send the case's notices that are due now (refused while none can go)."""
    show_case(
        run_desk(
            "notify", operator, db, data_dir,
            lambda desk, who: desk.do_send_notices(case, operator_id=who),
        )
    )  # fmt: skip


@legal_app.command("lift-gag")
def lift_gag(
    case: CaseArg,
    reason: ReasonOption,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """End the case's non-disclosure order now; a decided case's targets are told at once."""
    show_case(
        run_desk(
            "lift-gag", operator, db, data_dir,
            lambda desk, who: desk.do_lift_gag(case, operator_id=who, reason=reason),
        )
    )  # fmt: skip


@legal_app.command("close")
def close(
    case: CaseArg,
    reason: ReasonOption = "",
    keep_holds: Annotated[
        bool, typer.Option("--keep-holds", help="Keep the case's holds in place.")
    ] = False,
    operator: OperatorOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Close the case; its holds are released unless --keep-holds."""

    async def work(desk: LegalDesk, who: str) -> CaseView:
        return await desk.do_close(case, operator_id=who, reason=reason, keep_holds=keep_holds)

    show_case(run_desk("close", operator, db, data_dir, work))
