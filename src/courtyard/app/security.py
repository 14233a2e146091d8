"""The device app's guard: pure ASGI middleware in front of every request.

It refuses foreign Host headers (DNS rebinding), lets in only browsers that exchanged the
per-launch token for a session cookie, demands the session's CSRF token on every unsafe
request, and adds a strict Content Security Policy and friends to every response.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
CSRF_HEADER = "x-csrf-token"
TOKEN_PARAM = "t"  # noqa: S105 - the query parameter's name
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class Sessions:
    """The launch token and the browser sessions it has been exchanged for."""

    port: int
    launch_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    _csrf_by_session: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def cookie_name(self) -> str:
        # Cookies ignore ports, so two device apps on one host need different names.
        return f"courtyard_app_{self.port}"

    @property
    def allowed_hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    def launch_url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/?{TOKEN_PARAM}={self.launch_token}"

    def exchange(self, token: str) -> str | None:
        """A new session id for the right launch token, else None."""
        if not secrets.compare_digest(token.encode(), self.launch_token.encode()):
            return None
        session_id = secrets.token_urlsafe(32)
        self._csrf_by_session[session_id] = secrets.token_urlsafe(32)
        return session_id

    def csrf_for(self, session_id: str | None) -> str | None:
        if session_id is None:
            return None
        return self._csrf_by_session.get(session_id)


class Guard:
    """Wraps the device app; see the module docstring for what it enforces."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        send = _with_security_headers(send)
        headers = Headers(scope=scope)
        if headers.get("host", "") not in self.sessions.allowed_hosts:
            await _page(send, 400, "Bad request", "This address is not allowed.")
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        session_id = _cookie(headers, self.sessions.cookie_name)
        csrf = self.sessions.csrf_for(session_id)
        if TOKEN_PARAM in query and scope["method"] in SAFE_METHODS:
            await self._exchange(scope, send, query, csrf is not None)
            return
        if csrf is None:
            await _page(
                send, 401, "Not signed in to this device app",
                "Open the address that <code>courtyard app</code> printed (it carries a token).",
            )  # fmt: skip
            return
        if scope["method"] not in SAFE_METHODS:
            sent = headers.get(CSRF_HEADER, "")
            if not secrets.compare_digest(sent.encode(), csrf.encode()):
                await _page(send, 403, "Forbidden", "The request lacked a valid CSRF token.")
                return
        scope.setdefault("state", {})["csrf_token"] = csrf
        await self.app(scope, receive, send)

    async def _exchange(
        self, scope: Scope, send: Send, query: dict[str, str], has_session: bool
    ) -> None:
        """Trade the launch token for a session cookie and redirect to drop it from the URL."""
        token = query.pop(TOKEN_PARAM)
        session_id = None if has_session else self.sessions.exchange(token)
        if not has_session and session_id is None:
            await _page(send, 401, "Wrong token", "This link's token is not valid any more.")
            return
        # One leading slash only: "//host" would be a protocol-relative redirect elsewhere.
        path = "/" + str(scope["path"]).lstrip("/")
        location = path + (f"?{urlencode(query)}" if query else "")
        headers = [(b"location", location.encode()), (b"content-length", b"0")]
        if session_id is not None:
            cookie = f"{self.sessions.cookie_name}={session_id}; Path=/; HttpOnly; SameSite=Strict"
            headers.append((b"set-cookie", cookie.encode()))
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _with_security_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for key, value in SECURITY_HEADERS.items():
                headers[key] = value
            if not headers.get("cache-control"):
                headers["cache-control"] = "no-store"
        await send(message)

    return wrapped


async def _page(send: Send, status: int, title: str, text: str) -> None:
    body = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"</head><body><main><h1>{title}</h1><p>{text}</p></main>"
        "</body></html>"
    ).encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
