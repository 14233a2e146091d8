"""Membership the server cannot forge: who a device will share conversation keys with.

A group's members are listed by the server, and a malicious server could add someone
(Albrecht et al., IEEE S&P 2023). So every admission is signed by a device of a member: the
creator signs the founding members (``create``), an inviter signs each invitation
(``invite``). Before sharing a Megolm key, a device checks every member's admission — a
valid signature by a known device of a member who is admitted themself (the chain starts at
the creator) — and leaves out anyone whose admission does not verify.

What this does not check: roles (the server enforces who may invite) and freshness (an old
valid invitation could be replayed to re-add someone who left).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from courtyard.client.conversations import Conversation, Member
from courtyard.client.crypto import DeviceCrypto
from courtyard.client.crypto.canonical import verify_object

ADMISSION_FIELDS = ("conversation_id", "action", "user_ids", "by_user", "by_device")


def admission(
    crypto: DeviceCrypto, conversation_id: str, action: str, user_ids: list[str]
) -> dict[str, Any]:
    """This device's signed admission of ``user_ids`` to ``conversation_id``."""
    body = {
        "conversation_id": conversation_id,
        "action": action,
        "user_ids": sorted(set(user_ids)),
        "by_user": crypto.user_id,
        "by_device": crypto.device_id,
    }
    return crypto.sign(body)


@dataclass(frozen=True)
class Admissions:
    """Which members' admissions verify, and why the others do not."""

    admitted: frozenset[str]
    refused: dict[str, str] = field(default_factory=dict)


def check_admissions(crypto: DeviceCrypto, conversation: Conversation) -> Admissions:
    """Verify every member's admission (signer keys must already be known to ``crypto``)."""
    members = {m.user_id: m for m in conversation.members}
    if conversation.kind == "direct":
        if len(members) == 2 and crypto.user_id in members:
            return Admissions(frozenset(members))
        return Admissions(
            frozenset({crypto.user_id}),
            dict.fromkeys(members, "a direct conversation has exactly two members"),
        )
    admitted: set[str] = set()
    reasons: dict[str, str] = {}
    changed = True
    while changed:  # admit along the chain of signers until nothing changes
        changed = False
        for user_id, member in members.items():
            if user_id in admitted:
                continue
            problem = _problem(crypto, conversation, member, admitted)
            if problem is None:
                admitted.add(user_id)
                reasons.pop(user_id, None)
                changed = True
            else:
                reasons[user_id] = problem
    return Admissions(frozenset(admitted), reasons)


def signers(conversation: Conversation) -> set[str]:
    """The users whose device keys are needed to check the admissions."""
    return {
        str(m.admission["by_user"])
        for m in conversation.members
        if isinstance(m.admission, Mapping) and isinstance(m.admission.get("by_user"), str)
    }


def _problem(
    crypto: DeviceCrypto, conversation: Conversation, member: Member, admitted: set[str]
) -> str | None:
    """Why ``member``'s admission does not (yet) verify, or None if it does."""
    signed = member.admission
    if not isinstance(signed, Mapping) or any(k not in signed for k in ADMISSION_FIELDS):
        return "no signed admission: the server alone added this member"
    if signed["conversation_id"] != conversation.conversation_id:
        return "admission for another conversation"
    if member.user_id not in signed["user_ids"]:
        return "admission does not name this member"
    by_user, action = signed["by_user"], signed["action"]
    if action == "create":
        if by_user != conversation.created_by:
            return "founding admission not signed by the creator"
    elif action != "invite" or by_user not in admitted:
        return "invited by someone who is not an admitted member"
    signer = crypto.get_peer_device(str(by_user), str(signed["by_device"]))
    if by_user == crypto.user_id and signed["by_device"] == crypto.device_id:
        key = crypto.identity_keys()["ed25519"]
    elif signer is None:
        return "signed by a device this device does not know"
    else:
        key = signer.ed25519
    if not verify_object(key, dict(signed)):
        return "the admission's signature does not verify"
    return None
