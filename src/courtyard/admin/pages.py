"""Rendering for the console: templates, the context every page shares, links and errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute
from starlette.templating import Jinja2Templates

from courtyard.admin.services import ConsoleServices
from courtyard.core import errors

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html

# Each kind of domain error is shown with one status (as api/problems.py does for JSON).
STATUS_BY_KIND: list[tuple[type[errors.CourtyardError], int]] = [
    (errors.InvalidInput, 400),
    (errors.NotAuthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.TooManyRequests, 429),
    (errors.Unavailable, 503),
]


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in operator a page is rendered for."""

    operator_id: str
    username: str
    roles: frozenset[str]
    csrf_token: str

    def may(self, roles: Iterable[str]) -> bool:
        return not self.roles.isdisjoint(roles)


@dataclass(frozen=True, slots=True)
class Link:
    """A page in the navigation and on the home page, shown to operators with one of
    ``roles`` (use the same tuple the page's ``requires`` gets)."""

    section: str
    label: str
    path: str  # below the console's root, e.g. "/ledger"
    roles: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True, slots=True)
class Pages:
    """What one view module adds to the console: its routes and its navigation links."""

    routes: list[BaseRoute]
    links: list[Link] = field(default_factory=list)


def services(request: Request) -> ConsoleServices:
    found: ConsoleServices = request.app.state.services
    return found


def base(request: Request) -> str:
    """Where the console is mounted (``/admin``), for links and form actions."""
    return str(request.scope.get("root_path", ""))


def links_for(request: Request, viewer: Viewer) -> list[Link]:
    every: list[Link] = request.app.state.links
    return [link for link in every if viewer.may(link.roles)]


def when(moment: dt.datetime | None) -> str:
    """A UTC time as the console shows it: ``2026-11-29 14:03:07Z``."""
    if moment is None:
        return "—"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def flat(detail: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A JSON detail (a reconciliation item's, an audit finding's) as ``(key, value)`` lines,
    nested keys dotted: ``here.state``."""
    lines: list[tuple[str, str]] = []
    for key, value in detail.items():
        if isinstance(value, Mapping):
            lines += flat(value, f"{prefix}{key}.")
        else:
            lines.append((f"{prefix}{key}", "—" if value is None else str(value)))
    return lines


templates.env.filters["when"] = when
templates.env.filters["flat"] = flat


def render(
    request: Request,
    viewer: Viewer | None,
    name: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``name`` with the viewer, their CSRF token and their navigation."""
    context.update(
        viewer=viewer,
        csrf_token=viewer.csrf_token if viewer else "",
        nav=links_for(request, viewer) if viewer else [],
        base=base(request),
    )
    response: HTMLResponse = templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    return response


def error_page(
    request: Request, viewer: Viewer | None, status: int, title: str, message: str
) -> HTMLResponse:
    return render(request, viewer, "error.html", status, title=title, message=message)


def status_of(exc: errors.CourtyardError) -> int:
    for kind, status in STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status
    return 500


def form_text(form: FormData, name: str, limit: int = 1024) -> str:
    """A form field's text, trimmed and cut at ``limit`` characters ("" if it is absent);
    the domain checks the real bounds."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def go(request: Request, path: str, **query: str) -> Response:
    """303 to ``path`` below the console's root (after a POST, or to sign in)."""
    suffix = f"?{urlencode(query)}" if query else ""
    return RedirectResponse(base(request) + path + suffix, status_code=303)


def local_path(request: Request, candidate: str | None, default: str = "/") -> str:
    """``candidate`` if it is a path inside the console (so a ``next`` parameter cannot send
    anyone elsewhere), else ``default``; returned relative to the console's root."""
    root = base(request)
    if (
        candidate
        and candidate.startswith(root + "/")
        and "//" not in candidate
        and "\\" not in candidate
        and all(ch.isprintable() and not ch.isspace() for ch in candidate)
    ):
        return candidate[len(root) :]
    return default
