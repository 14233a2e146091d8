"""The console's HTTP hygiene: security headers on every response, its cookies, and the
per-session CSRF token.

The CSRF token is derived from the session token (a hash under its own label), so each
session has one without storing it, it changes with every sign-in, and it reveals nothing
about the cookie it came from.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "courtyard_admin"
LOGIN_COOKIE = "courtyard_admin_login"  # the sign-in form's own CSRF token (double submit)
COOKIE_PATH = "/admin"
SESSION_COOKIE_MAX_AGE = 12 * 3600  # the absolute timeout; the server enforces both anyway
LOGIN_COOKIE_MAX_AGE = 3600
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD"})

# No script at all: the console is plain HTML forms.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"


def csrf_token_for(session_token: str) -> str:
    digest = hashlib.sha256(b"courtyard-admin-csrf\x00" + session_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def same_token(sent: str | None, expected: str | None) -> bool:
    """Constant-time equality of two tokens; a missing one never matches."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode(), expected.encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int, path: str
) -> None:
    """HttpOnly, SameSite=Strict, Secure over https; scoped to the console's path."""
    response.set_cookie(
        name, value, max_age=max_age, path=path, secure=is_https(request),
        httponly=True, samesite="strict",
    )  # fmt: skip


def clear_cookie(response: Response, request: Request, name: str, path: str) -> None:
    response.delete_cookie(
        name, path=path, secure=is_https(request), httponly=True, samesite="strict"
    )


class SecurityHeaders:
    """Pure ASGI middleware: the strict CSP and friends, ``no-store`` and, over https, HSTS
    on every response the console sends (error pages and static files included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
                headers["cache-control"] = "no-store"
                if https:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)
