"""Give every joined member device the current Megolm session key before a message is sent.

Devices the server lists are checked by ``DeviceCrypto`` (signatures, low-order keys, changed
identities); the ones that pass are shared with even when unverified, as Element does by
default, but they are reported so the user sees a warning. The outbound session rotates when
the set of joined members changes or a device that had the key disappeared, so a new member
cannot read earlier messages and a removed one cannot read later ones.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from courtyard.client.client import Client
from courtyard.client.conversations import ToDeviceResult, send_to_device
from courtyard.client.crypto import DeviceCrypto, PeerDevice, RefusedDevice
from courtyard.client.errors import Unreachable
from courtyard.client.history import History

MAX_TO_DEVICE = 2000
RETRIES = 3
T = TypeVar("T")


@dataclass(frozen=True)
class ShareReport:
    """Whom the current session key reaches: all ``devices``, of which some ``unverified``
    and some seen for the first time (``new``); ``refused`` failed the checks and
    ``unreachable`` had no one-time key left."""

    devices: list[PeerDevice] = field(default_factory=list)
    unverified: list[PeerDevice] = field(default_factory=list)
    new: list[PeerDevice] = field(default_factory=list)
    refused: list[RefusedDevice] = field(default_factory=list)
    unreachable: list[PeerDevice] = field(default_factory=list)
    rotated: bool = False


async def member_devices(
    client: Client, crypto: DeviceCrypto, user_ids: list[str]
) -> tuple[list[PeerDevice], list[PeerDevice], list[RefusedDevice]]:
    """Query and check the devices of ``user_ids``: (valid, first seen now, refused)."""
    listed: list[dict[str, Any]] = []
    for start in range(0, len(user_ids), 100):
        answer = await client.query_keys(user_ids[start : start + 100])
        listed.extend(obj for objs in answer.values() for obj in objs)
    plan = await asyncio.to_thread(crypto.devices_to_share_with, listed)
    return plan.share, plan.new, plan.refused


async def share_room_key(
    client: Client,
    crypto: DeviceCrypto,
    history: History,
    conversation_id: str,
    joined: list[str],
) -> ShareReport:
    """Rotate if membership changed, then send the session key to devices that lack it."""
    devices, new, refused = await member_devices(client, crypto, joined)
    rotated = await _rotate_if_needed(crypto, history, conversation_id, joined, devices)
    missing = await asyncio.to_thread(crypto.unshared_devices, conversation_id, devices)
    reached, unreachable = await _ensure_olm_sessions(client, crypto, missing)
    if reached:
        payload = await asyncio.to_thread(crypto.room_key_payload, conversation_id)
        await _send_encrypted(client, crypto, reached, payload)
        await asyncio.to_thread(crypto.mark_room_key_shared, conversation_id, reached)
    return ShareReport(
        devices=devices,
        unverified=[d for d in devices if not d.verified],
        new=new,
        refused=refused,
        unreachable=unreachable,
        rotated=rotated,
    )


async def _rotate_if_needed(
    crypto: DeviceCrypto,
    history: History,
    conversation_id: str,
    joined: list[str],
    devices: list[PeerDevice],
) -> bool:
    members = sorted(set(joined))
    session = await asyncio.to_thread(crypto.outbound_for, conversation_id)
    known = history.outbound_members(conversation_id)
    current = {(d.user_id, d.device_id) for d in devices}
    shared = await asyncio.to_thread(crypto.store.shared_with, session.session_id)
    # Rotate when the joined members changed (or a membership event asked for it), or when
    # a device that holds the key is gone; the 100-message and 7-day rules are the core's.
    rotate = (known is not None and (known[1] != members or known[2])) or bool(shared - current)
    if rotate:
        session = await asyncio.to_thread(crypto.outbound_for, conversation_id, True)
    if rotate or known is None or known[0] != session.session_id:
        history.set_outbound_members(conversation_id, session.session_id, members)
    return rotate


async def _ensure_olm_sessions(
    client: Client, crypto: DeviceCrypto, devices: list[PeerDevice]
) -> tuple[list[PeerDevice], list[PeerDevice]]:
    """Claim one-time keys for devices without an Olm session and start sessions."""
    without = [
        d
        for d in devices
        if not await asyncio.to_thread(crypto.has_session, d.user_id, d.device_id)
    ]
    if without:
        claimed = await client.claim_keys([(d.user_id, d.device_id) for d in without])
        by_device = {(str(k.get("user_id")), str(k.get("device_id"))): k for k in claimed}
        for device in without:
            otk = by_device.get((device.user_id, device.device_id))
            if otk is not None:
                await asyncio.to_thread(crypto.start_session, device.curve25519, otk)
    reached: list[PeerDevice] = []
    unreachable: list[PeerDevice] = []
    for device in devices:
        has = await asyncio.to_thread(crypto.has_session, device.user_id, device.device_id)
        (reached if has else unreachable).append(device)
    return reached, unreachable


async def _send_encrypted(
    client: Client, crypto: DeviceCrypto, devices: list[PeerDevice], payload: Mapping[str, Any]
) -> None:
    """Olm-encrypt ``payload`` for each device and queue it, retrying with the same txn id."""

    def encrypt_all() -> list[tuple[str, str, Mapping[str, Any]]]:
        return [
            (d.user_id, d.device_id, crypto.encrypt_to_device(d.user_id, d.device_id, payload))
            for d in devices
        ]

    messages = await asyncio.to_thread(encrypt_all)
    for start in range(0, len(messages), MAX_TO_DEVICE):
        chunk, txn_id = messages[start : start + MAX_TO_DEVICE], new_txn_id()

        async def send(chunk: list[Any] = chunk, txn_id: str = txn_id) -> ToDeviceResult:
            return await send_to_device(client, txn_id, chunk)

        await with_retries(send)


def new_txn_id() -> str:
    return uuid.uuid4().hex


async def with_retries(call: Callable[[], Awaitable[T]], attempts: int = RETRIES) -> T:
    """Await ``call()`` again on a network error (the caller keeps the txn id fixed)."""
    for attempt in range(attempts):
        try:
            return await call()
        except Unreachable:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")
