"""Search of the decrypted history on this device, and the account's devices."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.app.pages import go, problem, render, state, title
from courtyard.app.views_auth import explain
from courtyard.client import ClientError
from courtyard.client.messenger import Messenger


async def search(request: Request) -> Response:
    """Search runs here, on the decrypted local history; nothing is sent to the server."""
    if not state(request).unlocked:
        return go(request, "/welcome")
    query = request.query_params.get("q", "").strip()

    async def find(m: Messenger) -> dict[str, Any]:
        if not query:
            return {"results": [], "titles": {}}
        titles = {c.conversation_id: title(c, m.user_id) for c in await m.conversations()}
        return {"results": m.search(query), "titles": titles}

    try:
        found = await state(request).use(find)
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "search.html", current="search", query=query, **found)


async def devices(request: Request) -> Response:
    if not state(request).unlocked:
        return go(request, "/welcome")
    try:
        listed = await state(request).use(lambda m: m.client.devices())
    except ClientError as exc:
        return problem(request, explain(exc))
    return render(request, "devices.html", current="devices", devices=listed)


async def rename_device(request: Request) -> Response:
    device_id = request.path_params["device_id"]
    name = str((await request.form()).get("name", "")).strip()
    if not name:
        return problem(request, "Give the device a name.")
    try:
        await state(request).use(lambda m: m.client.rename_device(device_id, name))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/devices")


async def remove_device(request: Request) -> Response:
    """Sign a device out remotely; removing this very device signs this app out."""
    device_id = request.path_params["device_id"]
    device = state(request)
    if device_id == device.require().device_id:
        await device.sign_out()
        return go(request, "/welcome")
    try:
        await device.use(lambda m: m.client.remove_device(device_id))
    except ClientError as exc:
        return problem(request, explain(exc))
    return go(request, "/devices")


routes = [
    Route("/search", search),
    Route("/devices", devices),
    Route("/devices/{device_id}/rename", rename_device, methods=["POST"]),
    Route("/devices/{device_id}/remove", remove_device, methods=["POST"]),
]
