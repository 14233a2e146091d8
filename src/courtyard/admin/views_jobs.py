"""Due jobs: what is pending and what failed for good (admin, finance); retry (admin)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, go, render, services
from courtyard.core.errors import InvalidInput

VIEW = ("admin", "finance")
RETRY = ("admin",)
SHOWN = 100


@requires(*VIEW)
async def jobs(request: Request, viewer: Viewer) -> Response:
    due = services(request).jobs
    return render(
        request, viewer, "jobs.html",
        pending=await due.pending(SHOWN), failed=await due.failed(SHOWN),
        may_retry=viewer.may(RETRY), shown=SHOWN,
    )  # fmt: skip


@requires(*RETRY)
async def retry(request: Request, viewer: Viewer) -> Response:
    job_id = (await request.form()).get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise InvalidInput("Which job? The form carried no job id.")
    await services(request).jobs.retry_failed(job_id, operator_id=viewer.operator_id)
    return go(request, "/jobs")


pages = Pages(
    routes=[
        Route("/jobs", jobs, methods=["GET"]),
        Route("/jobs/retry", retry, methods=["POST"]),
    ],
    links=[
        Link(
            "Operations",
            "Due jobs",
            "/jobs",
            VIEW,
            "Pending and failed jobs (refunds, expiries, provider checks); retry a failed one.",
        ),
    ],
)
