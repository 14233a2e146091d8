"""The audit log (admin): the latest entries, filtered by who acted, what, on what and about
whom; the latest signed tree head; and a full verification on demand (docs/audit-log.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, render, services
from courtyard.domains.accounts import ActionFilter, operator_actor
from courtyard.domains.audit import VerifyReport

ACTIONS = ("admin",)
SHOWN = 200
MAX_FILTER_CHARS = 160
PAGE = "/actions"


def _filters(request: Request) -> ActionFilter:
    def text(name: str) -> str | None:
        return request.query_params.get(name, "").strip()[:MAX_FILTER_CHARS] or None

    return ActionFilter(
        operator=text("operator"), action=text("action"), target=text("target"), user=text("user")
    )


def _before(request: Request) -> int | None:
    raw = request.query_params.get("before", "")
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


async def _page(request: Request, viewer: Viewer, report: VerifyReport | None = None) -> Response:
    console = services(request)
    wanted = _filters(request) if report is None else ActionFilter()
    before = _before(request) if report is None else None
    rows = await console.actions.access_latest(
        console.clock, viewer.operator_id, wanted, before=before, limit=SHOWN
    )
    return render(
        request, viewer, "actions.html",
        actions=rows, filters=wanted, shown=SHOWN,
        older=rows[-1].seq if len(rows) == SHOWN and rows[-1].seq > 0 else None,
        head=await console.audit_log.get_latest_head(), report=report,
    )  # fmt: skip


@requires(*ACTIONS)
async def actions(request: Request, viewer: Viewer) -> Response:
    return await _page(request, viewer)


@requires(*ACTIONS)
async def verify(request: Request, viewer: Viewer) -> Response:
    # The whole log, in this request: `courtyard audit verify` does the same from the host.
    report = await services(request).audit_log.do_verify(operator_actor(viewer.operator_id))
    return await _page(request, viewer, report)


pages = Pages(
    routes=[
        Route(PAGE, actions, methods=["GET"]),
        Route(PAGE + "/verify", verify, methods=["POST"]),
    ],
    links=[
        Link(
            "Oversight",
            "Audit log",
            PAGE,
            ACTIONS,
            "Who looked at or changed what, when and why; the signed log, verified on demand.",
        ),
    ],
)
