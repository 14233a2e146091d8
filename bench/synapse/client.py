"""Matrix client-server calls for the set-up: shared-secret registration, rooms and filters.

Set-up is not measured; it uses httpx. Users come from Synapse's admin registration API
(``/_synapse/admin/v1/register``), authenticated by an HMAC-SHA1 over a fresh nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any
from urllib.parse import quote

import httpx

from bench.accounts import PASSWORD, Device, bounded, envelope

REGISTER_PATH = "/_synapse/admin/v1/register"
CLIENT = "/_matrix/client/v3"
MEGOLM = "m.megolm.v1.aes-sha2"
ENCRYPTED = "m.room.encrypted"
TIMELINE_LIMIT = 1000  # above any per-room backlog between two syncs, so no gap drops events
_names = itertools.count()


def registration_mac(
    secret: str, nonce: str, username: str, password: str, admin: bool = False
) -> str:
    """The hex HMAC-SHA1 that ``/_synapse/admin/v1/register`` expects for these fields."""
    role = "admin" if admin else "notadmin"
    message = "\x00".join((nonce, username, password, role)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha1).hexdigest()


def room_path(room_id: str, tail: str) -> str:
    return f"{CLIENT}/rooms/{quote(room_id, safe='')}/{tail}"


def _auth(user: Device) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.token}"}


async def register(http: httpx.AsyncClient, secret: str, prefix: str) -> Device:
    """A fresh non-admin user with one device, through the shared-secret admin API."""
    username = f"bench-{prefix}{next(_names):06d}"
    nonce_response = await http.get(REGISTER_PATH)
    nonce_response.raise_for_status()
    nonce: str = nonce_response.json()["nonce"]
    body = {
        "nonce": nonce, "username": username, "password": PASSWORD, "admin": False,
        "mac": registration_mac(secret, nonce, username, PASSWORD),
    }  # fmt: skip
    response = await http.post(REGISTER_PATH, json=body)
    response.raise_for_status()
    data = response.json()
    return Device(data["user_id"], data["device_id"], data["access_token"], username)


async def register_many(
    http: httpx.AsyncClient, secret: str, prefix: str, count: int
) -> list[Device]:
    return await bounded(register(http, secret, prefix) for _ in range(count))


def encrypted_room(preset: str, invite: list[Device]) -> dict[str, Any]:
    """A ``createRoom`` body: ``preset``, ``invite`` and Megolm encryption from the start."""
    return {
        "preset": preset,
        "invite": [user.user_id for user in invite],
        "is_direct": len(invite) == 1,
        "initial_state": [
            {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
        ],
    }


async def create_room(http: httpx.AsyncClient, owner: Device, invite: list[Device]) -> str:
    body = encrypted_room("private_chat", invite)
    response = await http.post(f"{CLIENT}/createRoom", json=body, headers=_auth(owner))
    response.raise_for_status()
    room_id: str = response.json()["room_id"]
    return room_id


async def join(http: httpx.AsyncClient, user: Device, room_id: str) -> None:
    (await http.post(room_path(room_id, "join"), json={}, headers=_auth(user))).raise_for_status()


async def direct(http: httpx.AsyncClient, a: Device, b: Device) -> str:
    """A private encrypted room of ``a`` and ``b``: created by ``a``, ``b`` invited and joined."""
    room_id = await create_room(http, a, [b])
    await join(http, b, room_id)
    return room_id


async def group(http: httpx.AsyncClient, owner: Device, members: list[Device]) -> str:
    """A private encrypted room of ``owner`` and ``members``, every member invited and joined."""
    room_id = await create_room(http, owner, members)
    await bounded((join(http, m, room_id) for m in members), limit=4)
    return room_id


def timeline_filter() -> dict[str, Any]:
    """A sync filter keeping only room timelines: no presence, account data, state or receipts."""
    nothing = {"not_types": ["*"]}
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "timeline": {"limit": TIMELINE_LIMIT},
            "state": {"not_types": ["*"], "lazy_load_members": True},
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


async def upload_filter(http: httpx.AsyncClient, user: Device) -> str:
    path = f"{CLIENT}/user/{quote(user.user_id, safe='')}/filter"
    response = await http.post(path, json=timeline_filter(), headers=_auth(user))
    response.raise_for_status()
    filter_id: str = response.json()["filter_id"]
    return filter_id


def megolm_content(user: Device) -> dict[str, Any]:
    """An ``m.room.encrypted`` content: Courtyard's envelope for ``user``, Matrix's algorithm name.

    The ciphertext is the same real vodozemac Megolm message the Courtyard relay sends, so both
    servers store and relay bodies of the same size.
    """
    content: dict[str, Any] = json.loads(envelope(user) + b"}")["content"]
    content["algorithm"] = MEGOLM
    return content
