"""Legal holds: the active ones, placing a hold on a user by username and releasing one, each
with a reason (docs/user-rights.md, "Legal holds"). Placing and releasing are audit-log
entries written by the privacy domain in the same transaction."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, form_text, go, render, services, status_of
from courtyard.core.errors import CourtyardError

ROLES = ("admin", "legal_reviewer", "legal_approver")
HOLDS = "/privacy/holds"


async def _page(
    request: Request,
    viewer: Viewer,
    status: int = 200,
    problem: str | None = None,
    form: FormData | None = None,
) -> Response:
    return render(
        request, viewer, "privacy/holds.html", status,
        holds=await services(request).rights.holds.list_active(), problem=problem,
        username=form_text(form, "username", 64) if form else "",
        reason=form_text(form, "reason", 500) if form else "",
        released=request.query_params.get("released"),
    )  # fmt: skip


@requires(*ROLES)
async def holds(request: Request, viewer: Viewer) -> Response:
    return await _page(request, viewer)


@requires(*ROLES)
async def place(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    try:
        await services(request).rights.holds.do_place(
            form_text(form, "username", 64), form_text(form, "reason", 1000),
            actor=f"operator:{viewer.operator_id}",
        )  # fmt: skip
    except CourtyardError as exc:
        return await _page(request, viewer, status_of(exc), exc.detail, form)
    return go(request, HOLDS)


@requires(*ROLES)
async def release(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    hold_id = request.path_params["hold_id"]
    try:
        rearmed = await services(request).rights.holds.do_release(
            hold_id, form_text(form, "reason", 1000), actor=f"operator:{viewer.operator_id}"
        )
    except CourtyardError as exc:
        return await _page(request, viewer, status_of(exc), exc.detail)
    return go(request, HOLDS, released=hold_id + (":erasure" if rearmed else ""))


pages = Pages(
    routes=[
        Route(HOLDS, holds, methods=["GET"]),
        Route(HOLDS, place, methods=["POST"]),
        Route(HOLDS + "/{hold_id}/release", release, methods=["POST"]),
    ],
    links=[
        Link(
            "Privacy",
            "Legal holds",
            HOLDS,
            ROLES,
            "Active holds: while one is on, neither erasure nor the purge deletes a user's data.",
        )
    ],
)
