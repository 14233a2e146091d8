"""Assemble the operator console: its pages, static files, error pages and headers.

To add a page: write a ``views_*.py`` module with handlers behind ``@requires(...)`` and a
``pages = Pages(routes=[...], links=[...])``, then list it in ``PAGES`` below.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from courtyard.admin import (
    views_actions,
    views_audit,
    views_auth,
    views_complaints,
    views_holds,
    views_home,
    views_jobs,
    views_ledger,
    views_legal_case,
    views_legal_cases,
    views_legal_steps,
    views_merchants,
    views_reconciliation,
    views_transparency,
    views_wallet_users,
)
from courtyard.admin.pages import HERE, Pages, error_page, status_of
from courtyard.admin.security import SecurityHeaders
from courtyard.admin.services import ConsoleServices
from courtyard.core.errors import CourtyardError

PAGES: tuple[Pages, ...] = (
    views_auth.pages,
    views_home.pages,
    views_ledger.pages,
    views_wallet_users.pages,
    views_reconciliation.pages,
    views_audit.pages,
    views_merchants.pages,
    views_jobs.pages,
    views_actions.pages,
    views_transparency.pages,
    views_legal_cases.pages,
    views_legal_case.pages,
    views_legal_steps.pages,
    views_holds.pages,
    views_complaints.pages,
)


async def domain_error(request: Request, exc: Exception) -> Response:
    """A refused action or a missing object, as a page with the domain's message."""
    assert isinstance(exc, CourtyardError)
    viewer = getattr(request.state, "viewer", None)
    return error_page(request, viewer, status_of(exc), exc.title, exc.detail)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    viewer = getattr(request.state, "viewer", None)
    title = "Not found" if exc.status_code == 404 else "Request refused"
    return error_page(request, viewer, exc.status_code, title, str(exc.detail))


def create_console(services: ConsoleServices) -> ASGIApp:
    """The console as an ASGI app, to be mounted (the server mounts it at ``/admin``)."""
    app = Starlette(
        routes=[
            *(route for page in PAGES for route in page.routes),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ],
        exception_handlers={CourtyardError: domain_error, HTTPException: http_error},
    )
    app.state.services = services
    app.state.links = [link for page in PAGES for link in page.links]
    return SecurityHeaders(app)
