"""Conversations: the list, one chat, sending text and files, attachments, recall, new chats
and the per-chat encryption panel."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import (
    INLINE_IMAGE_TYPES,
    go,
    my_state,
    problem,
    render,
    state,
    title,
)
from courtyard.app.views_auth import explain
from courtyard.client import ClientError
from courtyard.client.messenger import Messenger
from courtyard.client.verification import fingerprint

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


async def chats(request: Request) -> Response:
    """The conversation list (and an empty chat pane)."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    return render(request, "chats.html", current=None, **await _list_context(request))


async def conversation_list(request: Request) -> Response:
    current = request.query_params.get("current")
    return render(request, "_conversations.html", current=current, **await _list_context(request))


async def chat(request: Request) -> Response:
    """One conversation: its messages, the composer and its encryption panel."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    cid = request.path_params["cid"]
    context = await _list_context(request)
    conversation = next((c for c in context["conversations"] if c["id"] == cid), None)
    if conversation is None:
        return render(request, "chats.html", current=None, **context, missing=True)
    return render(
        request, "chat.html", current=cid, conversation=conversation,
        **await _messages(request, cid), **context,
    )  # fmt: skip


async def messages(request: Request) -> Response:
    cid = request.path_params["cid"]
    return render(request, "_messages.html", cid=cid, **await _messages(request, cid))


async def send_text(request: Request) -> Response:
    cid = request.path_params["cid"]
    text = str((await request.form()).get("text", "")).strip()
    if not text:
        return problem(request, "Type a message first.")
    try:
        await state(request).use(lambda m: m.send_text(cid, text))
    except ClientError as exc:
        return problem(request, explain(exc))
    await state(request).changed()
    return await messages(request)


async def send_file(request: Request) -> Response:
    """Encrypt an uploaded file on this device and send it (images show inline)."""
    cid = request.path_params["cid"]
    async with request.form(max_part_size=MAX_UPLOAD_BYTES) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return problem(request, "Choose a file first.")
        data = await upload.read()
        name = UNSAFE_NAME.sub("_", Path(upload.filename).name).strip() or "file"
    with tempfile.TemporaryDirectory(prefix="courtyard-upload-") as directory:
        path = Path(directory) / name
        await asyncio.to_thread(path.write_bytes, data)
        try:
            await state(request).use(lambda m: m.send_file(cid, path))
        except ClientError as exc:
            return problem(request, explain(exc))
    await state(request).changed()
    return await messages(request)


async def media(request: Request) -> Response:
    """An attachment, decrypted on this device: safe image types inline, the rest as download."""
    event_id = request.path_params["event_id"]
    messenger = state(request).require()
    message = messenger.message(event_id)
    if message is None or message.attachment is None or message.recalled:
        return Response("Not found", status_code=404, media_type="text/plain")
    try:
        data = await state(request).use(lambda m: m.download_file(message))
    except ClientError as exc:
        return Response(explain(exc), status_code=502, media_type="text/plain")
    mime = str(message.attachment.get("mime", ""))
    name = UNSAFE_NAME.sub("_", str(message.attachment.get("name", "file"))) or "file"
    inline = mime in INLINE_IMAGE_TYPES and "download" not in request.query_params
    headers = {
        "Cache-Control": "private, max-age=3600",
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
    }
    media_type = mime if inline else "application/octet-stream"
    return Response(data, media_type=media_type, headers=headers)


async def recall(request: Request) -> Response:
    event_id = request.path_params["event_id"]
    device = state(request)
    message = device.require().message(event_id)
    if message is None:
        return problem(request, "No such message on this device.")
    try:
        await device.use(lambda m: m.recall(event_id))
    except ClientError as exc:
        return problem(request, explain(exc))
    await device.changed()
    request.path_params["cid"] = message.conversation_id
    return await messages(request)


async def join(request: Request) -> Response:
    cid = request.path_params["cid"]
    try:
        await state(request).use(lambda m: m.join(cid))
    except ClientError as exc:
        return problem(request, explain(exc))
    await state(request).changed()
    return go(request, f"/chats/{cid}")


async def security(request: Request) -> Response:
    """The encryption panel: every member device and whether it is verified."""
    cid = request.path_params["cid"]
    try:
        devices = await state(request).use(lambda m: m.conversation_security(cid))
    except ClientError as exc:
        return render(request, "_security.html", devices=[], error=explain(exc))
    warn = any(d.state != "verified" for d in devices)
    mine = await state(request).use(_own_fingerprint)
    return render(
        request, "_security.html", cid=cid, devices=devices, warn=warn, error=None,
        mine=mine, fingerprint=fingerprint,
    )  # fmt: skip


async def verify(request: Request) -> Response:
    """Mark a member device verified when the typed fingerprint matches its key."""
    cid = request.path_params["cid"]
    form = await request.form()
    user_id, device_id = str(form.get("user_id", "")), str(form.get("device_id", ""))
    typed = str(form.get("fingerprint", ""))
    try:
        await state(request).use(lambda m: m.verify_device(user_id, device_id, typed))
    except ClientError as exc:
        return problem(request, explain(exc))
    return await security(request) if cid else problem(request, "No such chat.")


async def _own_fingerprint(m: Messenger) -> str:
    return m.fingerprint()


async def new_chat(request: Request) -> Response:
    if not state(request).unlocked:
        return go(request, "/welcome")
    return render(request, "new.html", current=None, **await _list_context(request))


async def create_direct(request: Request) -> Response:
    user_id = str((await request.form()).get("user_id", "")).strip()
    if not user_id:
        return problem(request, "Enter the user id of the person to chat with.")
    return await _create(request, [user_id], None)


async def create_group(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name", "")).strip()
    members = [m for m in re.split(r"[\s,]+", str(form.get("members", ""))) if m]
    if not name or not members:
        return problem(request, "A group needs a name and at least one member.")
    return await _create(request, members, name)


async def _create(request: Request, members: list[str], name: str | None) -> Response:
    try:
        conversation = await state(request).use(lambda m: m.create_conversation(members, name=name))
    except ClientError as exc:
        return problem(request, explain(exc))
    await state(request).changed()
    return go(request, f"/chats/{conversation.conversation_id}")


async def _list_context(request: Request) -> dict[str, Any]:
    async def collect(m: Messenger) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for c in await m.conversations():
            latest = m.messages(c.conversation_id, limit=1)
            out.append({
                "id": c.conversation_id, "title": title(c, m.user_id), "kind": c.kind,
                "state": my_state(c, m.user_id), "last": latest[-1] if latest else None,
                "members": [x for x in c.members if x.user_id != m.user_id],
            })  # fmt: skip
        out.sort(key=lambda c: c["last"].created_at if c["last"] else "", reverse=True)
        return out

    try:
        return {"conversations": await state(request).use(collect), "list_error": None}
    except ClientError as exc:
        return {"conversations": [], "list_error": explain(exc)}


async def _messages(request: Request, cid: str) -> dict[str, Any]:
    """The latest messages of ``cid`` and how to name their senders."""

    async def read(m: Messenger) -> dict[str, Any]:
        names: dict[str, str] = {}
        for c in await m.conversations():
            if c.conversation_id == cid:
                names = {member.user_id: member.label for member in c.members}
        return {"messages": m.messages(cid, limit=100), "names": names}

    return await state(request).use(read)


routes = [
    Route("/chats", chats),
    Route("/fragments/conversations", conversation_list),
    Route("/chats/new", new_chat),
    Route("/chats/new/direct", create_direct, methods=["POST"]),
    Route("/chats/new/group", create_group, methods=["POST"]),
    Route("/chats/{cid}", chat),
    Route("/chats/{cid}/messages", messages),
    Route("/chats/{cid}/send", send_text, methods=["POST"]),
    Route("/chats/{cid}/file", send_file, methods=["POST"]),
    Route("/chats/{cid}/join", join, methods=["POST"]),
    Route("/chats/{cid}/security", security),
    Route("/chats/{cid}/verify", verify, methods=["POST"]),
    Route("/media/{event_id}", media),
    Route("/messages/{event_id}/recall", recall, methods=["POST"]),
]
