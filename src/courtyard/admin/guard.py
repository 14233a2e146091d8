"""Who may see a page: ``@requires(...)`` in front of every console endpoint.

It finds the operator from the session cookie (signed out → 303 to the sign-in page), checks
the session's CSRF token on every unsafe method, and answers 403 with a page to a signed-in
operator who holds none of the page's roles. The handler then gets the ``Viewer``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from courtyard.admin.pages import Viewer, error_page, go, services
from courtyard.admin.security import (
    CSRF_FIELD,
    SAFE_METHODS,
    SESSION_COOKIE,
    csrf_token_for,
    same_token,
)
from courtyard.domains.accounts import OPERATOR_ROLES

Handler = Callable[[Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def current_viewer(request: Request) -> Viewer | None:
    """The operator whose live session the cookie names, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    operator = await services(request).sessions.get_signed_in(token)
    if operator is None or token is None:
        return None
    return Viewer(operator.operator_id, operator.username, operator.roles, csrf_token_for(token))


def to_sign_in(request: Request) -> Response:
    """303 to the sign-in page, which comes back here afterwards (for a GET)."""
    if request.method not in SAFE_METHODS:
        return go(request, "/login")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return go(request, "/login", next=here)


def requires(*roles: str) -> Callable[[Handler], Endpoint]:
    """Admit operators holding any of ``roles``; with none, any signed-in operator."""
    if unknown := set(roles) - set(OPERATOR_ROLES):
        raise ValueError(f"unknown operator roles: {sorted(unknown)}")

    def decorate(handler: Handler) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            viewer = await current_viewer(request)
            if viewer is None:
                return to_sign_in(request)
            request.state.viewer = viewer  # for the error pages
            if request.method not in SAFE_METHODS:
                sent = (await request.form()).get(CSRF_FIELD)
                if not same_token(sent if isinstance(sent, str) else None, viewer.csrf_token):
                    return error_page(
                        request, viewer, 403, "Form refused",
                        "This form did not come from your console session (its CSRF token is "
                        "missing or wrong). Reload the page and try again.",
                    )  # fmt: skip
            if roles and not viewer.may(roles):
                return error_page(
                    request, viewer, 403, "Not allowed",
                    f"This page is for operators with the role {' or '.join(roles)}; "
                    f"yours: {', '.join(sorted(viewer.roles))}.",
                )  # fmt: skip
            return await handler(request, viewer)

        return endpoint

    return decorate
