"""The privacy center's data pages: download your export, read your access log, and see how
each conversation is encrypted (docs/data-map.md, "Device app")."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import go, problem, render, state, title
from courtyard.app.views_auth import explain
from courtyard.client import ClientError
from courtyard.client.messenger import DeviceSecurity, Messenger
from courtyard.client.privacy_data import AccessLogPage

MEDIA_TYPES = {"json": "application/json", "html": "text/html; charset=utf-8"}
MAX_CONVERSATIONS = 50  # each needs a key query; the chat pages show the rest one by one


@dataclass(frozen=True)
class ConversationSecurity:
    """What this device knows about one conversation's encryption."""

    conversation_id: str
    title: str
    kind: str
    session_id: str | None  # this device's current Megolm session, if it has sent here
    session_started: dt.datetime | None
    session_messages: int
    devices: list[DeviceSecurity]
    error: str | None = None

    @property
    def verified(self) -> int:
        return sum(1 for d in self.devices if d.state == "verified")

    @property
    def warn(self) -> bool:
        return any(d.state != "verified" for d in self.devices)


async def data(request: Request) -> Response:
    if not state(request).unlocked:
        return go(request, "/welcome")
    return render(request, "privacy/data.html", current="privacy")


async def download(request: Request) -> Response:
    """The export, fetched from the server now and handed to the browser as a file."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    fmt = request.path_params["fmt"]
    if fmt not in MEDIA_TYPES:
        return problem(request, "Exports come as JSON or HTML.")
    try:
        if fmt == "html":
            body = await state(request).use(lambda m: m.client.privacy.export("html"))
        else:
            export = await state(request).use(lambda m: m.client.privacy.export("json"))
            body = _json_text(export)
    except ClientError as exc:
        return problem(request, explain(exc))
    day = dt.datetime.now(dt.UTC).date().isoformat()
    # A download, never a page of this app (whose guard also sets its strict CSP on it).
    headers = {
        "Content-Disposition": f'attachment; filename="courtyard-export-{day}.{fmt}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


async def access_log(request: Request) -> Response:
    if not state(request).unlocked:
        return go(request, "/welcome")
    raw = request.query_params.get("before", "")
    before = int(raw) if raw.isdigit() else None

    async def read(m: Messenger) -> AccessLogPage:
        return await m.client.privacy.access_log(before=before, limit=50)

    try:
        page = await state(request).use(read)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "privacy/access_log.html", current="privacy", page=page, before=before)


async def encryption(request: Request) -> Response:
    """Each conversation: end-to-end encrypted, this device's Megolm session, and whether the
    member devices are verified (as this device knows them)."""
    if not state(request).unlocked:
        return go(request, "/welcome")

    async def survey(m: Messenger) -> dict[str, Any]:
        conversations = await m.conversations()
        shown = conversations[:MAX_CONVERSATIONS]
        rows = [await _security(m, c.conversation_id, title(c, m.user_id), c.kind) for c in shown]
        return {"rows": rows, "more": len(conversations) - len(shown), "mine": m.fingerprint()}

    try:
        found = await state(request).use(survey)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "privacy/encryption.html", current="privacy", **found)


async def _security(m: Messenger, cid: str, name: str, kind: str) -> ConversationSecurity:
    record = await asyncio.to_thread(m.crypto.store.get_outbound, cid)
    try:
        devices, error = await m.conversation_security(cid), None
    except ClientError as exc:
        devices, error = [], explain(exc)
    return ConversationSecurity(
        conversation_id=cid,
        title=name,
        kind=kind,
        session_id=record.session.session_id if record else None,
        session_started=record.created_at if record else None,
        session_messages=record.message_count if record else 0,
        devices=devices,
        error=error,
    )


def _json_text(export: dict[str, Any]) -> str:
    return json.dumps(export, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


routes = [
    Route("/privacy/data", data),
    Route("/privacy/data/export.{fmt}", download),
    Route("/privacy/access-log", access_log),
    Route("/privacy/encryption", encryption),
]
