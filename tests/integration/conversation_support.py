"""Helpers for conversation tests: users, Megolm envelopes, and calls through the API."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import vodozemac as v

from tests.conftest import bearer, register

_txn = itertools.count()


def megolm_envelope(session: dict[str, str], text: str = "hello") -> dict[str, Any]:
    """A real Megolm ciphertext of ``text`` from the session's device."""
    group = v.GroupSession()
    message = group.encrypt(text.encode())
    return {
        "algorithm": "megolm.v1.aes-sha2",
        "sender_key": v.Account().curve25519_key.to_base64(),
        "session_id": group.session_id,
        "device_id": session["device_id"],
        "ciphertext": message.to_base64(),
    }


async def users(http: httpx.AsyncClient, *names: str) -> list[dict[str, str]]:
    return [await register(http, name) for name in names]


async def create(
    http: httpx.AsyncClient, owner: dict[str, str], kind: str, members: list[dict[str, str]],
    name: str | None = None,
) -> httpx.Response:  # fmt: skip
    body: dict[str, Any] = {"kind": kind, "members": [m["user_id"] for m in members]}
    if name is not None:
        body["name"] = name
    return await http.post("/v1/conversations", json=body, headers=bearer(owner))


async def send(
    http: httpx.AsyncClient, sender: dict[str, str], conversation_id: str, text: str = "hi",
    txn_id: str | None = None,
) -> httpx.Response:  # fmt: skip
    return await http.post(
        f"/v1/conversations/{conversation_id}/messages",
        json={"txn_id": txn_id or f"t{next(_txn)}", "content": megolm_envelope(sender, text)},
        headers=bearer(sender),
    )


async def stream(http: httpx.AsyncClient, session: dict[str, str]) -> list[dict[str, Any]]:
    """Every conversation event in the user's stream, in order."""
    body = (await http.get("/v1/sync?since=0&limit=500", headers=bearer(session))).json()
    return [e for e in body["events"] if e["type"].startswith("conversation.")]
