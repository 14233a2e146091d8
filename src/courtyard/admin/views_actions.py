"""The operator actions trail (admin): the latest actions, filtered by operator or target."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, render, services

ACTIONS = ("admin",)
SHOWN = 200
MAX_FILTER_CHARS = 160


@requires(*ACTIONS)
async def actions(request: Request, viewer: Viewer) -> Response:
    operator = request.query_params.get("operator", "").strip()[:MAX_FILTER_CHARS]
    target = request.query_params.get("target", "").strip()[:MAX_FILTER_CHARS]
    rows = await services(request).actions.get_latest(
        operator=operator or None, target=target or None, limit=SHOWN
    )
    return render(
        request, viewer, "actions.html",
        actions=rows, operator=operator, target=target, shown=SHOWN,
    )  # fmt: skip


pages = Pages(
    routes=[Route("/actions", actions, methods=["GET"])],
    links=[
        Link(
            "Oversight",
            "Operator actions",
            "/actions",
            ACTIONS,
            "Who looked at or changed what, when and why.",
        ),
    ],
)
