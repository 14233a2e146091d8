"""Users, devices, conversations and envelopes for the Courtyard workloads, set up through the API.

Setup is not measured; it uses httpx. Every registration and login costs the server one
argon2id hash, so they run concurrently but bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import vodozemac

PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway benchmark account
SETUP_CONCURRENCY = 8
T = TypeVar("T")
_names = itertools.count()


@dataclass(frozen=True)
class Device:
    user_id: str
    device_id: str
    token: str
    username: str

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Device:
        return cls(data["user_id"], data["device_id"], data["access_token"], data["username"])


async def bounded(jobs: Iterable[Awaitable[T]], limit: int = SETUP_CONCURRENCY) -> list[T]:
    """Await ``jobs`` at most ``limit`` at a time, results in order."""
    slots = asyncio.Semaphore(limit)

    async def run(job: Awaitable[T]) -> T:
        async with slots:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


_consents: dict[str, dict[str, Any]] = {}


async def policy_consent(http: httpx.AsyncClient) -> dict[str, Any]:
    """What registering in DE sends to consent to the current policy (fetched once per server:
    a benchmark does not publish policies while it runs)."""
    key = str(http.base_url)
    if key not in _consents:
        response = await http.get("/v1/privacy/policy", params={"country": "DE"})
        response.raise_for_status()
        _consents[key] = {"policy_version_hash": response.json()["version_hash"], "purposes": {}}
    return _consents[key]


async def register(http: httpx.AsyncClient, prefix: str) -> Device:
    username = f"bench-{prefix}{next(_names):06d}"
    body = {"username": username, "password": PASSWORD, "display_name": username, "region": "DE"}
    response = await http.post("/v1/accounts", json={**body, **await policy_consent(http)})
    response.raise_for_status()
    return Device.from_wire(response.json())


async def login(http: httpx.AsyncClient, username: str) -> Device:
    body = {"username": username, "password": PASSWORD}
    response = await http.post("/v1/sessions", json=body)
    response.raise_for_status()
    return Device.from_wire(response.json())


async def register_many(http: httpx.AsyncClient, prefix: str, count: int) -> list[Device]:
    return await bounded(register(http, prefix) for _ in range(count))


def _auth(device: Device) -> dict[str, str]:
    return {"Authorization": f"Bearer {device.token}"}


async def direct(http: httpx.AsyncClient, a: Device, b: Device) -> str:
    body = {"kind": "direct", "members": [b.user_id]}
    response = await http.post("/v1/conversations", json=body, headers=_auth(a))
    response.raise_for_status()
    conversation_id: str = response.json()["conversation_id"]
    return conversation_id


async def group(http: httpx.AsyncClient, owner: Device, members: list[Device]) -> str:
    """A group of ``owner`` and ``members``, every member joined."""
    body = {"kind": "group", "name": "bench", "members": [m.user_id for m in members]}
    response = await http.post("/v1/conversations", json=body, headers=_auth(owner))
    response.raise_for_status()
    conversation_id: str = response.json()["conversation_id"]

    async def join(member: Device) -> None:
        path = f"/v1/conversations/{conversation_id}/join"
        (await http.post(path, headers=_auth(member))).raise_for_status()

    await bounded((join(m) for m in members), limit=4)
    return conversation_id


def envelope(device: Device) -> bytes:
    """One real Megolm ciphertext from ``device``, as the JSON prefix of a send body.

    The caller appends ``,"txn_id":"…"}``; the server checks only the envelope's shape, so one
    ciphertext per sender serves every message.
    """
    session = vodozemac.GroupSession()
    content = {
        "algorithm": "megolm.v1.aes-sha2",
        "sender_key": vodozemac.Account().curve25519_key.to_base64(),
        "session_id": session.session_id,
        "device_id": device.device_id,
        "ciphertext": session.encrypt(b"x" * 120).to_base64(),
    }
    return ('{"content":' + json.dumps(content, separators=(",", ":"))).encode()
