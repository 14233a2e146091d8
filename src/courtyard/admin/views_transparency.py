"""The transparency report as the public sees it, for the legal desk (admin, legal_reviewer,
legal_approver; docs/transparency.md, "Operator console"). Aggregate numbers only, so
viewing it is not recorded."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, render, services
from courtyard.domains.legal import COUNT_NAMES

VIEW = ("admin", "legal_reviewer", "legal_approver")


@requires(*VIEW)
async def transparency(request: Request, viewer: Viewer) -> Response:
    reports = services(request).transparency
    periods = await reports.get_periods()
    chosen = request.query_params.get("period", "").strip()
    if not chosen:  # the current half-year: what the desk is adding to now
        chosen = next(p.period.name for p in periods if p.period.kind == "half_year")
    report = await reports.get_report(chosen[:32])
    return render(
        request, viewer, "transparency.html",
        report=report, periods=periods, count_names=COUNT_NAMES,
    )  # fmt: skip


pages = Pages(
    routes=[Route("/legal/transparency", transparency, methods=["GET"])],
    links=[
        Link(
            "Legal",
            "Transparency report",
            "/legal/transparency",
            VIEW,
            "The public report's numbers per period, country and legal process.",
        ),
    ],
)
