"""Noticing that the server wants consent: an SDK client that reports ``consent_required``,
what this device app last learnt, and the guard that sends pages to ``/privacy/consent``
while the service is refused (docs/privacy-consent.md, "Device app")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from courtyard.client import Client, ConsentRequired
from courtyard.client.consent_models import ConsentState

WALLET_PAGES = "/wallet"
CHECK_SECONDS = 5.0  # how stale "the service is usable" may be before a page asks again
CONSENT_PATH = "/privacy/consent"
# Pages reachable while consent is needed: signing in or out, the privacy center, the stream
# of updates, static files.
OPEN_PREFIXES = ("/privacy", "/static/", "/events", "/welcome", "/signup", "/signin", "/unlock",
                 "/signout")  # fmt: skip


class ConsentWatch:
    """What this device app knows about the server's consent gate: the last refusal, and the
    consent state the server last reported (``standing``)."""

    def __init__(self) -> None:
        self.refused: ConsentRequired | None = None
        self.standing: ConsentState | None = None
        self._checked_at = float("-inf")
        self._given = asyncio.Event()

    def note(self, exc: ConsentRequired) -> None:
        """A call was refused with ``consent_required``."""
        self.refused = exc
        self._given.clear()

    def learnt(self, standing: ConsentState) -> None:
        """The server's answer to "where do I stand?"."""
        self.standing, self._checked_at = standing, time.monotonic()
        if standing.service_usable:
            self.refused = None
            self._given.set()

    def given(self) -> None:
        """The user consented just now."""
        self.refused, self.standing = None, None
        self._checked_at = time.monotonic()
        self._given.set()

    def missing(self, scope: str) -> str | None:
        """Why ``scope`` (``all`` or ``wallet``) is refused as last learnt: ``policy`` for the
        version, else the purpose's name; None if it is not (or nothing is known)."""
        standing = self.standing
        if standing is None:
            return None
        if standing.needs_reconsent:
            return "policy"
        gates = {"all"} if scope == "all" else {"all", "wallet"}
        return next(
            (p.purpose for p in standing.purposes if p.gates in gates and not p.granted), None
        )

    def due(self) -> bool:
        return self.refused is not None or time.monotonic() - self._checked_at >= CHECK_SECONDS

    async def wait_until_given(self) -> None:
        await self._given.wait()


class WatchedClient(Client):
    """An SDK client that tells ``watch`` about every ``consent_required`` it receives."""

    def __init__(self, *args: Any, watch: ConsentWatch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = watch

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await super()._send(method, path, **kwargs)
        except ConsentRequired as exc:
            self.watch.note(exc)
            raise


Refresh = Callable[[], Awaitable[None]]  # asks the server, then tells the watch


class ConsentGuard:
    """Pure ASGI middleware: while the server refuses the service for want of consent, every
    page but the open ones leads to ``/privacy/consent`` (and back afterwards); so does a
    wallet page while the wallet's purposes are missing."""

    def __init__(self, app: ASGIApp, refresh: Refresh, watch: ConsentWatch) -> None:
        self.app = app
        self.refresh = refresh
        self.watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        is_htmx = "hx-request" in headers
        # A full page asks the server now and then; a fragment only after a refusal.
        if (self.watch.refused is not None or not is_htmx) and self.watch.due():
            await self.refresh()
        missing = self.watch.missing("all")
        if missing is None and not is_htmx and path.startswith(WALLET_PAGES):
            missing = self.watch.missing("wallet")  # fragments elsewhere show the balance
        if missing is not None:
            purpose = None if missing == "policy" else missing
            await _navigate(send, consent_url(next_path(scope, headers), purpose), is_htmx)
            return
        if is_htmx and scope.get("method") == "GET":  # a fragment refreshing in the background
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._unless_refused(send, scope, headers, is_htmx))

    def _unless_refused(
        self, send: Send, scope: Scope, headers: Mapping[str, str], is_htmx: bool
    ) -> Send:
        """``send``, except that a page or action whose call was just refused for consent
        answers with the way to the consent page instead of the view's message."""
        before = self.watch.refused
        replaced = False

        async def guarded(message: Message) -> None:
            nonlocal replaced
            refused = self.watch.refused
            if message["type"] == "http.response.start" and refused not in (None, before):
                assert refused is not None
                replaced = True
                target = consent_url(next_path(scope, headers), refused.purpose)
                await _navigate(send, target, is_htmx)
            elif not replaced:
                await send(message)

        return guarded


def next_path(scope: Scope, headers: Mapping[str, str]) -> str:
    """Where to return after consenting: this page, or for a fragment the page it is on."""
    if "hx-request" in headers and "hx-current-url" in headers:
        parts = urlsplit(headers["hx-current-url"])
        return parts.path + (f"?{parts.query}" if parts.query else "")
    query = scope.get("query_string", b"").decode("latin-1")
    if scope.get("method") != "GET":
        return "/chats"
    return str(scope["path"]) + (f"?{query}" if query else "")


def consent_url(next_page: str, purpose: str | None = None) -> str:
    url = f"{CONSENT_PATH}?next={quote(safe_next(next_page), safe='')}"
    return url + (f"&purpose={quote(purpose, safe='')}" if purpose else "")


def safe_next(value: str | None) -> str:
    """A local path to go back to (never another site, never the consent page itself)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/chats"
    return "/chats" if value.startswith(CONSENT_PATH) else value


async def _navigate(send: Send, target: str, is_htmx: bool) -> None:
    if is_htmx:
        headers = [(b"hx-redirect", target.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
    else:
        headers = [(b"location", target.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
