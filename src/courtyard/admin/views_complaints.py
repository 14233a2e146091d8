"""Complaints: every user complaint with its deadline, open ones first and overdue ones at
the top; one complaint (opening it is recorded: it shows the user's text) and its answer
form (docs/user-rights.md, "Complaints")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, form_text, go, render, services, status_of
from courtyard.core.errors import CourtyardError
from courtyard.domains.privacy.complaints import MAX_ANSWER

ROLES = ("support", "admin")
COMPLAINTS = "/privacy/complaints"


@requires(*ROLES)
async def complaints(request: Request, viewer: Viewer) -> Response:
    overdue = request.query_params.get("overdue") == "1"
    desk = services(request).rights.complaints
    return render(
        request, viewer, "privacy/complaints.html",
        complaints=await desk.list_for_operators(overdue_only=overdue), overdue_only=overdue,
        now=services(request).clock.now(),
    )  # fmt: skip


async def _complaint_page(
    request: Request, viewer: Viewer, status: int = 200, problem: str | None = None,
    answer: str = "",
) -> Response:  # fmt: skip
    complaint = await services(request).rights.complaints.access_complaint(
        request.path_params["complaint_id"], actor=f"operator:{viewer.operator_id}"
    )
    return render(
        request, viewer, "privacy/complaint.html", status, complaint=complaint,
        now=services(request).clock.now(), problem=problem, answer=answer, max_answer=MAX_ANSWER,
    )  # fmt: skip


@requires(*ROLES)
async def complaint(request: Request, viewer: Viewer) -> Response:
    return await _complaint_page(request, viewer)


@requires(*ROLES)
async def answer(request: Request, viewer: Viewer) -> Response:
    complaint_id = request.path_params["complaint_id"]
    text = form_text(await request.form(), "answer", MAX_ANSWER + 1)
    try:
        await services(request).rights.complaints.do_answer(
            complaint_id, text, actor=f"operator:{viewer.operator_id}",
            operator_id=viewer.operator_id,
        )  # fmt: skip
    except CourtyardError as exc:
        return await _complaint_page(request, viewer, status_of(exc), exc.detail, text)
    return go(request, f"{COMPLAINTS}/{complaint_id}")


pages = Pages(
    routes=[
        Route(COMPLAINTS, complaints, methods=["GET"]),
        Route(COMPLAINTS + "/{complaint_id}", complaint, methods=["GET"]),
        Route(COMPLAINTS + "/{complaint_id}/answer", answer, methods=["POST"]),
    ],
    links=[
        Link(
            "Privacy",
            "Complaints",
            COMPLAINTS,
            ROLES,
            "Users' complaints about their data, with the deadline to answer each.",
        )
    ],
)
