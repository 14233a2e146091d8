"""``courtyard transparency [PERIOD]``: a server's public transparency report, without
signing in (docs/transparency.md, "SDK and CLI")."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from courtyard.cli.client_verbs import DEFAULT_SERVER, ServerOption, fail, out, run, run_sync
from courtyard.client import Client, Profile
from courtyard.client.profile import DEFAULT_PROFILE_DIR
from courtyard.client.transparency import (
    COUNT_NAMES,
    ReportPeriod,
    TransparencyReport,
    TransparencyReports,
)

# Column headings of the table, in COUNT_NAMES order.
HEADINGS = (
    "received", "rejected", "narrowed", "content", "non-content", "specified", "affected",
    "notified", "holds",
)  # fmt: skip
PROCESS_WIDTH = 24

PeriodArg = Annotated[
    str | None,
    typer.Argument(
        metavar="PERIOD", help="A half-year or quarter, e.g. 2026-H1 or 2026-Q3; none lists them."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON instead.")]


def transparency(period: PeriodArg = None, as_json: JsonOption = False,
                 server: ServerOption = None) -> None:  # fmt: skip
    """Show the server's transparency report: lawful requests per country and legal process,
    and what was done with them. Without PERIOD, list the periods with a report."""
    where = server_url(server)

    async def work() -> Any:
        async with Client(where) as client:
            reports = TransparencyReports(client)
            return await (reports.report(period) if period else reports.periods())

    found = run(work())
    if isinstance(found, TransparencyReport):
        print_report(found, as_json)
    else:
        print_periods(found, as_json)


def server_url(server: str | None) -> str:
    """``--server`` (or ``COURTYARD_SERVER``), else the profile's server, else the default."""
    if server is not None:
        if not server.startswith(("http://", "https://")):
            fail(f"--server must be an http:// or https:// URL, not {server}")
        return server.rstrip("/")
    directory = os.environ.get("COURTYARD_PROFILE")
    stored = run_sync(Profile(Path(directory) if directory else DEFAULT_PROFILE_DIR).load)
    return stored.server.rstrip("/") if stored else DEFAULT_SERVER


def print_periods(periods: list[ReportPeriod], as_json: bool) -> None:
    if as_json:
        wire = [{**vars(p), "start": _iso(p.start), "end": _iso(p.end)} for p in periods]
        out.print_json(json.dumps({"periods": wire}))
        return
    for p in periods:
        note = "  provisional" if p.provisional else ""
        out.print(f"{p.period:<8}  {_day(p.start)} to {_last_day(p.end)}{note}")
    out.print("Show one with `courtyard transparency PERIOD`.")


def print_report(report: TransparencyReport, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(report.raw))
        return
    p = report.period
    state = "provisional: the period has not ended" if p.provisional else "the period has ended"
    out.print(
        f"Transparency report {p.period}: requests received {_day(p.start)} to "
        f"{_last_day(p.end)} (UTC); {state}.\nAs the cases stood at {_when(report.generated_at)}"
        f"; holds counted at {_when(report.holds_counted_at)}. Counts are exact.\n",
        soft_wrap=True,
    )
    if not report.rows:
        out.print("No lawful requests were received in this period.")
        return
    out.print(_line("country", "process", HEADINGS), soft_wrap=True)
    for row in report.rows:
        values = [str(row.counts[name]) for name in COUNT_NAMES]
        out.print(escape(_line(row.country, row.process_type, values)), soft_wrap=True)
    totals = [str(report.totals[name]) for name in COUNT_NAMES]
    out.print(_line("total", "", totals), soft_wrap=True)


def _line(country: str, process: str, cells: Any) -> str:
    numbers = " ".join(
        f"{cell:>{len(heading)}}" for cell, heading in zip(cells, HEADINGS, strict=True)
    )
    return f"{country:<7} {process:<{PROCESS_WIDTH}} {numbers}"


def _day(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).date().isoformat()


def _last_day(end: dt.datetime) -> str:
    return _day(end - dt.timedelta(days=1))


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
