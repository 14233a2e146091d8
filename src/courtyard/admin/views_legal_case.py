"""One lawful-request case: its page (targets with the rules' evaluation, documents,
timeline, holds, packages, notices) and the review and approval forms. A refused step shows
the page again with the reason and the form as it was typed."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Pages, Viewer, form_text, go, render, services, status_of
from courtyard.admin.views_legal_cases import CASES, parse_day
from courtyard.core.errors import CourtyardError, InvalidInput
from courtyard.domains.legal import (
    APPROVE_ROLES,
    CATEGORIES,
    HANDLE_ROLES,
    REVIEW_ROLES,
    VIEW_ROLES,
    Review,
    label,
)

CASE = CASES + "/{case_id}"
OUTCOMES = ("accept", "narrow", "reject")


async def case_page(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    problem: str | None = None,
    form: FormData | None = None,
) -> Response:
    """The case's page, recorded as a view (``legal.case.view``)."""
    view = await services(request).legal.access_case(
        request.path_params["case_id"], operator_id=viewer.operator_id
    )
    typed = {key: form_text(form, key, 2000) for key in form} if form else {}
    kept = [c for c in form.getlist("category") if isinstance(c, str)] if form else None
    now = services(request).clock.now()
    in_force = view.summary.gag != "none" and (view.gag_until is None or view.gag_until > now)
    return render(
        request, viewer, "legal/case.html", status, case=view, problem=problem, typed=typed,
        kept=kept, categories=CATEGORIES, label=label, gag_in_force=in_force,
        may_review=viewer.may(REVIEW_ROLES), may_approve=viewer.may(APPROVE_ROLES),
        may_handle=viewer.may(HANDLE_ROLES),
    )  # fmt: skip


def case_path(request: Request) -> str:
    return f"{CASES}/{request.path_params['case_id']}"


@requires(*VIEW_ROLES)
async def case(request: Request, viewer: Viewer) -> Response:
    return await case_page(request, viewer)


def review_of(form: FormData) -> Review:
    """The review form: an outcome button, the reason, and for a narrowing the categories
    kept, the dates and the targets excluded (``exclude`` boxes, ``reason_<no>``)."""
    outcome = form_text(form, "outcome", 16)
    if outcome not in OUTCOMES:
        raise InvalidInput("Choose accept, narrow or reject")
    exclusions = {}
    for value in form.getlist("exclude"):
        if isinstance(value, str) and value.isdigit():
            exclusions[int(value)] = form_text(form, f"reason_{value}", 500)
    return Review(
        outcome=outcome,  # type: ignore[arg-type]  # checked against OUTCOMES above
        reason=form_text(form, "reason", 2000),
        categories=tuple(c for c in form.getlist("category") if isinstance(c, str))
        if outcome == "narrow"
        else None,
        date_from=parse_day(form_text(form, "date_from", 32), "The first day"),
        date_to=parse_day(form_text(form, "date_to", 32), "The last day"),
        exclusions=exclusions if outcome == "narrow" else {},
    )


@requires(*REVIEW_ROLES)
async def review(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    try:
        await services(request).legal.do_review(
            request.path_params["case_id"], review_of(form), operator_id=viewer.operator_id
        )
    except CourtyardError as exc:
        return await case_page(request, viewer, status_of(exc), exc.detail, form)
    return go(request, case_path(request))


@requires(*APPROVE_ROLES)
async def approve(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    try:
        await services(request).legal.do_approve(
            request.path_params["case_id"], operator_id=viewer.operator_id,
            note=form_text(form, "note", 500),
        )  # fmt: skip
    except CourtyardError as exc:
        return await case_page(request, viewer, status_of(exc), exc.detail, form)
    return go(request, case_path(request))


pages = Pages(
    routes=[
        Route(CASE, case, methods=["GET"]),
        Route(CASE + "/review", review, methods=["POST"]),
        Route(CASE + "/approve", approve, methods=["POST"]),
    ]
)
