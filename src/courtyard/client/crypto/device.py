"""``DeviceCrypto``: Olm plus Megolm conversations, room keys and the refusals that keep a
malicious server from injecting keys, replaying messages or slipping in devices."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from vodozemac import (
    ExportedSessionKey,
    GroupSession,
    InboundGroupSession,
    MegolmMessage,
    SessionKey,
)

from courtyard.client.crypto.canonical import canonical_json
from courtyard.client.crypto.errors import (
    ConversationMismatch,
    CryptoError,
    DecryptionFailed,
    MalformedPayload,
    MissingSessionKey,
    NotOlmEncrypted,
    ReplayedMessage,
    SenderMismatch,
    UnknownDevice,
    UnrequestedForwardedKey,
)
from courtyard.client.crypto.keys import MEGOLM_ALGORITHM
from courtyard.client.crypto.olm import OlmDevice
from courtyard.client.crypto.records import InboundRecord, OutboundRecord, PeerDevice

ROTATE_AFTER_MESSAGES = 100
ROTATE_AFTER = timedelta(days=7)
ROOM_KEY = "m.room_key"
FORWARDED_ROOM_KEY = "m.forwarded_room_key"
ROOM_KEY_REQUEST = "m.room_key_request"


@dataclass(frozen=True)
class RefusedDevice:
    """A device from the server's list that failed a check, and why."""

    user_id: object
    device_id: object
    error: CryptoError


@dataclass(frozen=True)
class SharePlan:
    """Whom to give a room key: ``share`` are valid devices; ``warn`` must be shown to the
    user first (not verified); ``new`` appeared for the first time; ``refused`` failed checks."""

    share: list[PeerDevice] = field(default_factory=list)
    warn: list[PeerDevice] = field(default_factory=list)
    new: list[PeerDevice] = field(default_factory=list)
    refused: list[RefusedDevice] = field(default_factory=list)


class DeviceCrypto(OlmDevice):
    """Everything one device does with keys; pure (no network), persisted in a ``CryptoStore``."""

    # Sharing -----------------------------------------------------------------------------

    def devices_to_share_with(self, device_keys: Iterable[Mapping[str, Any]]) -> SharePlan:
        """Check the server's device list for the conversation's members, our own excluded."""
        plan = SharePlan()
        for obj in device_keys:
            try:
                peer, is_new = self._add_peer(obj, None)
            except CryptoError as exc:
                who = _field(obj, "user_id"), _field(obj, "device_id")
                plan.refused.append(RefusedDevice(who[0], who[1], exc))
                continue
            if (peer.user_id, peer.device_id) == (self.user_id, self.device_id):
                continue
            plan.share.append(peer)
            if not peer.verified:
                plan.warn.append(peer)
            if is_new:
                plan.new.append(peer)
        return plan

    def unshared_devices(
        self, conversation_id: str, devices: Iterable[PeerDevice]
    ) -> list[PeerDevice]:
        """Those of ``devices`` that have not been sent the current outbound session's key."""
        session_id = self.outbound_for(conversation_id).session_id
        done = self.store.shared_with(session_id)
        return [d for d in devices if (d.user_id, d.device_id) not in done]

    def mark_room_key_shared(self, conversation_id: str, devices: Iterable[PeerDevice]) -> None:
        session_id = self.outbound_for(conversation_id).session_id
        with self._operation():
            self.store.mark_shared(session_id, [(d.user_id, d.device_id) for d in devices])

    # Megolm outbound ---------------------------------------------------------------------

    def outbound_for(
        self, conversation_id: str, member_device_count_changed: bool = False
    ) -> GroupSession:
        """The conversation's outbound session, rotated after 100 messages, 7 days, or when
        the members' devices changed."""
        with self._operation():
            return self._outbound(conversation_id, member_device_count_changed).session

    def _outbound(self, conversation_id: str, rotate: bool) -> OutboundRecord:
        record = self.store.get_outbound(conversation_id)
        now = self.clock()
        if (
            record is not None
            and not rotate
            and record.message_count < ROTATE_AFTER_MESSAGES
            and now - record.created_at < ROTATE_AFTER
        ):
            return record
        session = GroupSession()
        record = OutboundRecord(conversation_id, session, now, 0)
        self.store.save_outbound(record)
        # Keep our own inbound copy so this device can read its own messages later.
        own = InboundRecord(
            self.identity_keys()["curve25519"],
            session.session_id,
            conversation_id,
            self.user_id,
            self.device_id,
            self.identity_keys()["ed25519"],
            False,
            InboundGroupSession(session.session_key),
        )
        self.store.save_inbound(own, now)
        return record

    def room_key_payload(self, conversation_id: str) -> dict[str, Any]:
        """The ``m.room_key`` to send, inside Olm, to each member device."""
        session = self.outbound_for(conversation_id)
        return {
            "type": ROOM_KEY,
            "algorithm": MEGOLM_ALGORITHM,
            "conversation_id": conversation_id,
            "session_id": session.session_id,
            "session_key": session.session_key.to_base64(),
        }

    def encrypt_message(self, conversation_id: str, content: Mapping[str, Any]) -> dict[str, Any]:
        """Encrypt ``content`` for the conversation; the ratchet step is stored before return."""
        plaintext = canonical_json(
            {
                "conversation_id": conversation_id,
                "sender": self.user_id,
                "sender_device": self.device_id,
                "content": dict(content),
            }
        )
        with self._operation():
            record = self._outbound(conversation_id, False)
            ciphertext = record.session.encrypt(plaintext).to_base64()
            count = record.session.message_index
            self.store.save_outbound(
                OutboundRecord(conversation_id, record.session, record.created_at, count)
            )
        return {
            "algorithm": MEGOLM_ALGORITHM,
            "sender_key": self.identity_keys()["curve25519"],
            "session_id": record.session.session_id,
            "device_id": self.device_id,
            "ciphertext": ciphertext,
        }

    # Megolm inbound ----------------------------------------------------------------------

    def decrypt_message(
        self,
        conversation_id: str,
        event_id: str,
        sender_user_id: str,
        envelope: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Decrypt a conversation message and return its content; refuses unknown sessions,
        another conversation, another sender and a replayed index."""
        fields = [envelope.get(k) for k in ("sender_key", "session_id", "device_id", "ciphertext")]
        if envelope.get("algorithm") != MEGOLM_ALGORITHM or not all(
            isinstance(f, str) for f in fields
        ):
            raise MalformedPayload("not a Megolm envelope")
        sender_key, session_id, device_id, ciphertext = (str(f) for f in fields)
        with self._operation():
            record = self.store.get_inbound(sender_key, session_id)
            if record is None:
                raise MissingSessionKey(sender_key, session_id)
            if (record.sender_user_id, record.sender_device_id) != (sender_user_id, device_id):
                raise SenderMismatch("the session belongs to another sender")
            if record.conversation_id != conversation_id:
                raise ConversationMismatch("the session belongs to another conversation")
            try:
                decrypted = record.session.decrypt(MegolmMessage.from_base64(ciphertext))
            except ValueError as exc:
                raise DecryptionFailed(f"the Megolm message does not decrypt: {exc}") from None
            content = self._check_megolm(decrypted.plaintext, record, conversation_id)
            first = self.store.seen_event(session_id, decrypted.message_index)
            if first is not None and first != event_id:
                raise ReplayedMessage(session_id, decrypted.message_index, first)
            self.store.mark_seen(session_id, decrypted.message_index, event_id)
        return content

    def _check_megolm(
        self, plaintext: bytes, record: InboundRecord, conversation_id: str
    ) -> dict[str, Any]:
        try:
            inner = json.loads(plaintext)
        except ValueError:
            raise MalformedPayload("the decrypted message is not JSON") from None
        if not isinstance(inner, dict) or not isinstance(inner.get("content"), dict):
            raise MalformedPayload("the decrypted message needs a content object")
        if inner.get("conversation_id") != conversation_id:
            raise ConversationMismatch("the message was written for another conversation")
        if (inner.get("sender"), inner.get("sender_device")) != (
            record.sender_user_id,
            record.sender_device_id,
        ):
            raise SenderMismatch("the message names another sender")
        content: dict[str, Any] = inner["content"]
        return content

    # Room keys ---------------------------------------------------------------------------

    def receive_room_key(
        self,
        sender_user_id: str,
        sender_device_id: str,
        payload: Mapping[str, Any],
        *,
        via_olm_from_curve25519: str | None,
    ) -> InboundRecord:
        """Store a room key that arrived inside Olm from ``sender``'s device.

        ``via_olm_from_curve25519`` is the Olm envelope's ``sender_key`` (None if the payload
        did not come out of ``decrypt_to_device``, which is refused).
        """
        kind = payload.get("type")
        if kind not in (ROOM_KEY, FORWARDED_ROOM_KEY):
            raise MalformedPayload(f"not a room key: {kind!r}")
        if via_olm_from_curve25519 is None:
            raise NotOlmEncrypted("room keys are accepted only from inside Olm")
        sender = self._peer(sender_user_id, sender_device_id)
        if sender.curve25519 != via_olm_from_curve25519:
            raise SenderMismatch("the Olm sender is not the named device")
        conversation_id, session_id, key = (
            payload.get(k) for k in ("conversation_id", "session_id", "session_key")
        )
        if (
            not (
                isinstance(conversation_id, str)
                and isinstance(session_id, str)
                and isinstance(key, str)
            )
            or payload.get("algorithm") != MEGOLM_ALGORITHM
        ):
            raise MalformedPayload("a room key needs algorithm, conversation_id, session_id, key")
        with self._operation():
            if kind == ROOM_KEY:
                record = InboundRecord(
                    sender.curve25519,
                    session_id,
                    conversation_id,
                    sender.user_id,
                    sender.device_id,
                    sender.ed25519,
                    False,
                    _inbound(key, session_id, exported=False),
                )
            else:
                record = self._forwarded(sender, payload, conversation_id, session_id, key)
            existing = self.store.get_inbound(record.sender_key, session_id)
            if existing is not None and not _better(record, existing):
                return existing
            self.store.save_inbound(record, self.clock())
            return record

    def _forwarded(
        self,
        forwarder: PeerDevice,
        payload: Mapping[str, Any],
        conversation_id: str,
        session_id: str,
        key: str,
    ) -> InboundRecord:
        sender_key, claimed_ed = (
            payload.get("sender_key"),
            payload.get("sender_claimed_ed25519_key"),
        )
        if not isinstance(sender_key, str) or not isinstance(claimed_ed, str):
            raise MalformedPayload(
                "a forwarded key needs sender_key and sender_claimed_ed25519_key"
            )
        if self.store.get_key_request(sender_key, session_id) != conversation_id:
            raise UnrequestedForwardedKey(f"session {session_id} was not requested")
        own_verified = forwarder.user_id == self.user_id and forwarder.verified
        if not own_verified and forwarder.curve25519 != sender_key:
            raise UnrequestedForwardedKey("forwards are accepted only from our verified devices")
        original = self.store.peer_by_curve(sender_key)
        if original is None:
            raise UnknownDevice(f"no known device has the key {sender_key}")
        if original.ed25519 != claimed_ed:
            raise SenderMismatch("the forwarded key claims another signing key")
        session = _inbound(key, session_id, exported=True)
        self.store.remove_key_request(sender_key, session_id)
        return InboundRecord(
            sender_key,
            session_id,
            conversation_id,
            original.user_id,
            original.device_id,
            original.ed25519,
            forwarder.curve25519 != sender_key,
            session,
        )

    def request_room_key(
        self, conversation_id: str, sender_key: str, session_id: str
    ) -> dict[str, Any]:
        """Remember that we asked for a session; the payload to send over Olm to our devices."""
        with self._operation():
            self.store.add_key_request(sender_key, session_id, conversation_id, self.clock())
        return {
            "type": ROOM_KEY_REQUEST,
            "action": "request",
            "conversation_id": conversation_id,
            "sender_key": sender_key,
            "session_id": session_id,
            "requesting_device_id": self.device_id,
        }

    def forwarded_room_key_payload(self, sender_key: str, session_id: str) -> dict[str, Any]:
        """An ``m.forwarded_room_key`` for a session we hold (from its first known index)."""
        record = self.store.get_inbound(sender_key, session_id)
        if record is None:
            raise MissingSessionKey(sender_key, session_id)
        exported = record.session.export_at(record.session.first_known_index)
        assert exported is not None  # the first known index is always exportable
        return {
            "type": FORWARDED_ROOM_KEY,
            "algorithm": MEGOLM_ALGORITHM,
            "conversation_id": record.conversation_id,
            "sender_key": sender_key,
            "session_id": session_id,
            "session_key": exported.to_base64(),
            "sender_claimed_ed25519_key": record.sender_ed25519,
        }


def _field(obj: object, name: str) -> object:
    return obj.get(name) if isinstance(obj, Mapping) else None


def _inbound(key: str, session_id: str, *, exported: bool) -> InboundGroupSession:
    try:
        session = (
            InboundGroupSession.import_session(ExportedSessionKey(key))
            if exported
            else InboundGroupSession(SessionKey(key))
        )
    except ValueError:
        raise MalformedPayload("the session key does not decode") from None
    if session.session_id != session_id:
        raise MalformedPayload("the session key belongs to another session id")
    return session


def _better(new: InboundRecord, old: InboundRecord) -> bool:
    """Whether ``new`` should replace ``old``: a direct key beats a forwarded one; otherwise
    only an earlier first known index wins (never let a later copy shrink what we can read)."""
    if new.forwarded != old.forwarded:
        return not new.forwarded
    return new.session.first_known_index < old.session.first_known_index
