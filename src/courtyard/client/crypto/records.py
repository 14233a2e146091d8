"""The plain records the crypto store hands out (vodozemac objects already unpickled)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vodozemac import GroupSession, InboundGroupSession


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost; the defaults suit a device. Tests pass cheaper ones explicitly."""

    time_cost: int = 3
    memory_cost_kib: int = 64 * 1024
    parallelism: int = 1


@dataclass(frozen=True)
class PeerDevice:
    """A device of another user (or another of ours) as first seen; keys never change."""

    user_id: str
    device_id: str
    curve25519: str
    ed25519: str
    verified: bool
    first_seen: datetime


@dataclass(frozen=True)
class OutboundRecord:
    """This device's current Megolm session for a conversation and its rotation counters."""

    conversation_id: str
    session: GroupSession
    created_at: datetime
    message_count: int


@dataclass(frozen=True)
class InboundRecord:
    """An inbound Megolm session and whose keys it is bound to."""

    sender_key: str
    session_id: str
    conversation_id: str
    sender_user_id: str
    sender_device_id: str
    sender_ed25519: str
    forwarded: bool
    session: InboundGroupSession
