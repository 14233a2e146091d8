"""Sign-in and sign-out.

The sign-in form carries its own CSRF token (a cookie and a hidden field that must match),
since there is no session yet to derive one from: another site cannot sign an operator's
browser in to an account of its choosing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from courtyard.admin.guard import current_viewer, requires
from courtyard.admin.pages import Pages, Viewer, base, go, local_path, render, services
from courtyard.admin.security import (
    LOGIN_COOKIE,
    LOGIN_COOKIE_MAX_AGE,
    SESSION_COOKIE,
    SESSION_COOKIE_MAX_AGE,
    clear_cookie,
    new_login_token,
    same_token,
    set_cookie,
)
from courtyard.domains.accounts import InvalidCredentials, LoginThrottled

MAX_FIELD_CHARS = 1024


def _login_path(request: Request) -> str:
    return base(request) + "/login"


def login_form(
    request: Request, status: int, next_path: str, message: str | None = None, username: str = ""
) -> HTMLResponse:
    """The sign-in page with a fresh form token (also in its cookie)."""
    token = new_login_token()
    response = render(
        request, None, "login.html", status,
        login_token=token, next=base(request) + next_path, message=message, username=username,
    )  # fmt: skip
    set_cookie(response, request, LOGIN_COOKIE, token, LOGIN_COOKIE_MAX_AGE, _login_path(request))
    return response


async def sign_in_page(request: Request) -> Response:
    next_path = local_path(request, request.query_params.get("next"))
    if await current_viewer(request) is not None:
        return go(request, next_path)
    return login_form(request, 200, next_path)


async def sign_in(request: Request) -> Response:
    form = await request.form()
    fields = {
        name: value[:MAX_FIELD_CHARS] if isinstance(value := form.get(name), str) else ""
        for name in ("username", "password", "login_token", "next")
    }
    next_path = local_path(request, fields["next"])
    if not same_token(fields["login_token"], request.cookies.get(LOGIN_COOKIE)):
        message = "The sign-in form had expired or came from elsewhere; please sign in again."
        return login_form(request, 403, next_path, message, fields["username"])
    sessions = services(request).sessions
    address = request.client.host if request.client else None
    try:
        session = await sessions.do_sign_in(fields["username"], fields["password"], address)
    except InvalidCredentials:
        message = "Wrong username or password."
        return login_form(request, 401, next_path, message, fields["username"])
    except LoginThrottled as exc:
        message = "Too many failed sign-ins for this operator or address; try again later."
        refused = login_form(request, 429, next_path, message, fields["username"])
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    # A browser holds one session: signing in again ends the one it had.
    await sessions.do_sign_out(request.cookies.get(SESSION_COOKIE))
    response = go(request, next_path)
    set_cookie(
        response, request, SESSION_COOKIE, session.token, SESSION_COOKIE_MAX_AGE, base(request)
    )
    clear_cookie(response, request, LOGIN_COOKIE, _login_path(request))
    return response


@requires()
async def sign_out(request: Request, viewer: Viewer) -> Response:
    await services(request).sessions.do_sign_out(request.cookies.get(SESSION_COOKIE))
    response = go(request, "/login")
    clear_cookie(response, request, SESSION_COOKIE, base(request))
    return response


pages = Pages(
    routes=[
        Route("/login", sign_in_page, methods=["GET"]),
        Route("/login", sign_in, methods=["POST"]),
        Route("/logout", sign_out, methods=["POST"]),
    ]
)
