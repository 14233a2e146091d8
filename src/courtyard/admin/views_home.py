"""The console's home: the pages this operator may open, by section, and a banner when the
latest ledger audit found problems."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.guard import requires
from courtyard.admin.pages import Link, Pages, Viewer, links_for, render, services

AUDIT_ALERT_ROLES = ("admin", "finance")  # those who can act on a failed audit


@requires()
async def home(request: Request, viewer: Viewer) -> Response:
    sections: dict[str, list[Link]] = {}
    for link in links_for(request, viewer):
        sections.setdefault(link.section, []).append(link)
    audit = None
    if viewer.may(AUDIT_ALERT_ROLES):
        audit = await services(request).wallet.get_latest_audit_run()
    return render(request, viewer, "home.html", sections=sections, audit=audit)


pages = Pages(routes=[Route("/", home, methods=["GET"])])
