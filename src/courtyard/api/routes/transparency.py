"""The public transparency report: JSON under /v1/transparency and an HTML page at
/transparency, both without sign-in (docs/transparency.md)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import BaseModel, Field
from starlette.templating import Jinja2Templates

from courtyard.api.deps import RuntimeDep
from courtyard.api.problems import problem_doc
from courtyard.api.transparency_charts import country_chart, outcome_chart, process_label
from courtyard.core.errors import CourtyardError
from courtyard.domains.legal import (
    COUNT_NAMES,
    InvalidPeriod,
    ListedPeriod,
    Period,
    ReportNotFound,
    TransparencyReport,
    TransparencyReports,
)

router = APIRouter(tags=["transparency"])
TEMPLATES = Path(__file__).parent.parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)  # autoescapes .html
# The page's one stylesheet is inline, allowed by its hash: no script and no other source.
CSS = (TEMPLATES / "transparency.css").read_text(encoding="utf-8")
CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{CSS_HASH}'; img-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
PERIOD_DOC = "`YYYY-H1`, `YYYY-H2` or `YYYY-Q1` … `YYYY-Q4` (UTC), e.g. `2026-H1`."
REPORT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_doc("invalid_period: not a half-year or a quarter (" + PERIOD_DOC + ")."),
    404: problem_doc(
        "report_not_found: the period has not begun, or ended before the desk's first case."
    ),
    422: problem_doc("invalid_request: the period is longer than 16 characters."),
}
PeriodArg = Annotated[str, PathParam(max_length=16, description=PERIOD_DOC)]


def get_reports(runtime: RuntimeDep) -> TransparencyReports:
    return TransparencyReports(runtime.db, runtime.clock)


ReportsDep = Annotated[TransparencyReports, Depends(get_reports)]


class ReportCounts(BaseModel):
    received: int = Field(description="Requests received in the period.")
    rejected: int = Field(description="Of those, rejected on review.")
    narrowed: int = Field(description="Of those, narrowed on review (produced or not).")
    produced_content: int = Field(description="Produced, including message content.")
    produced_non_content: int = Field(description="Produced, without message content.")
    accounts_specified: int = Field(description="Accounts the requests named.")
    accounts_affected: int = Field(description="Accounts whose data was produced.")
    users_notified: int = Field(description="Named accounts whose user has been notified.")
    holds_active: int = Field(description="Preservation holds active at the period's end.")


class RowKey(BaseModel):
    country: str = Field(description="The requesting authority's country (ISO 3166-1).")
    process_type: str = Field(description="The legal process, e.g. `subpoena`, `emergency`.")


class ReportRowOut(ReportCounts, RowKey):
    """One country and process type."""


class PeriodOut(BaseModel):
    period: str = Field(examples=["2026-H1"])
    kind: Literal["half_year", "quarter"]
    start: dt.datetime
    end: dt.datetime = Field(description="Exclusive.")
    provisional: bool = Field(description="The period has not ended: more cases may arrive.")

    @classmethod
    def of(cls, period: Period, provisional: bool) -> PeriodOut:
        return cls(
            period=period.name, kind=period.kind, start=period.start, end=period.end,
            provisional=provisional,
        )  # fmt: skip


class PeriodList(BaseModel):
    periods: list[PeriodOut] = Field(description="Newest first.")


class ReportOut(PeriodOut):
    generated_at: dt.datetime
    holds_counted_at: dt.datetime = Field(description="The instant holds were counted at.")
    rows: list[ReportRowOut]
    totals: ReportCounts

    @classmethod
    def from_report(cls, report: TransparencyReport) -> ReportOut:
        rows = [
            ReportRowOut(country=r.country, process_type=r.process_type, **r.counts.as_dict())
            for r in report.rows
        ]
        return cls(
            **PeriodOut.of(report.period, report.provisional).model_dump(),
            generated_at=report.generated_at, holds_counted_at=report.holds_counted_at,
            rows=rows, totals=ReportCounts(**report.totals.as_dict()),
        )  # fmt: skip


@router.get("/v1/transparency/reports")
async def list_reports(reports: ReportsDep) -> PeriodList:
    """The periods a transparency report is available for: every half-year and quarter from
    the first lawful request this server received to now. Counts are exact, never banded."""
    listed = await reports.get_periods()
    return PeriodList(periods=[_period_out(p) for p in listed])


@router.get("/v1/transparency/reports/{period}", responses=REPORT_PROBLEMS)
async def get_report(period: PeriodArg, reports: ReportsDep) -> ReportOut:
    """Lawful requests received in the period, per country and legal process: how many were
    rejected, narrowed or produced (with or without message content), how many accounts they
    named and affected, how many users were notified and how many holds were active at the
    period's end. A period that has not ended is `provisional`. Exact counts."""
    return ReportOut.from_report(await reports.get_report(period))


@router.get("/transparency", response_class=HTMLResponse, include_in_schema=False)
async def page(request: Request, reports: ReportsDep) -> HTMLResponse:
    default = await reports.get_default_period()
    return await _page(request, reports, default.name)


@router.get("/transparency/{period}", response_class=HTMLResponse, include_in_schema=False)
async def period_page(request: Request, period: str, reports: ReportsDep) -> HTMLResponse:
    return await _page(request, reports, period)


async def _page(request: Request, reports: TransparencyReports, name: str) -> HTMLResponse:
    listed = await reports.get_periods()
    try:
        report = await reports.get_report(name[:32])
    except (InvalidPeriod, ReportNotFound) as exc:
        return _render(request, "transparency_error.html", _status(exc), error=exc,
                       periods=listed)  # fmt: skip
    return _render(
        request, "transparency.html", 200, report=report, periods=listed,
        charts=(country_chart(report), outcome_chart(report)),
    )  # fmt: skip


def _render(request: Request, name: str, status: int, **context: Any) -> HTMLResponse:
    context.update(
        css=Markup(CSS),  # noqa: S704 (our own file, allowed by its hash)
        process_label=process_label, count_names=COUNT_NAMES, one_day=dt.timedelta(days=1),
        current=context["report"].period.name if "report" in context else None,
    )  # fmt: skip
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def _status(exc: CourtyardError) -> int:
    return 404 if isinstance(exc, ReportNotFound) else 400


def _period_out(listed: ListedPeriod) -> PeriodOut:
    return PeriodOut.of(listed.period, listed.provisional)
