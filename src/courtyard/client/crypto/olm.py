"""A device's identity, published keys, known peer devices and Olm (to-device) encryption."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, Self, cast

from vodozemac import Account, AnyOlmMessage, Curve25519PublicKey

from courtyard.client.crypto.canonical import canonical_json, sign_object
from courtyard.client.crypto.errors import (
    DecryptionFailed,
    IdentityKeyChanged,
    KeyAlreadyBound,
    MalformedPayload,
    NoOlmSession,
    NotForThisDevice,
    NotOlmEncrypted,
    SenderMismatch,
    StoreError,
    UnknownDevice,
)
from courtyard.client.crypto.keys import (
    ALGORITHMS,
    OLM_ALGORITHM,
    DeviceIdentity,
    check_curve25519,
    parse_device_keys,
    parse_one_time_key,
)
from courtyard.client.crypto.records import PeerDevice
from courtyard.client.crypto.store import CryptoStore

Clock = Callable[[], datetime]
PRE_KEY, NORMAL = 0, 1


def utc_now() -> datetime:
    return datetime.now(UTC)


class _FallbackAccount(Protocol):
    # vodozemac 0.10 has these at runtime but its stubs omit them.
    @property
    def fallback_key(self) -> dict[str, Curve25519PublicKey]: ...

    def generate_fallback_key(self) -> None: ...


class OlmDevice:
    """One device's account and Olm sessions; ``DeviceCrypto`` adds Megolm on top.

    Every method is synchronous and runs as one store transaction: the ratchet step and its
    persistence commit together, or neither does.
    """

    def __init__(
        self, store: CryptoStore, user_id: str, device_id: str, *, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.user_id = user_id
        self.device_id = device_id
        self.clock = clock
        self._account: Account | None = None

    # Lifecycle ---------------------------------------------------------------------------

    def create(self) -> Self:
        """Create this device's account in an empty store."""
        with self.store.transaction():
            if self.store.load_account() is not None:
                raise StoreError("the store already holds an account")
            account = Account()
            self.store.save_account(account)
            self.store.set_meta("user_id", self.user_id)
            self.store.set_meta("device_id", self.device_id)
        self._account = account
        return self

    def open(self) -> Self:
        """Load this device's account from the store."""
        with self.store.transaction():
            account = self.store.load_account()
            owner = (self.store.get_meta("user_id"), self.store.get_meta("device_id"))
        if account is None:
            raise StoreError("the store holds no account; call create() first")
        if owner != (self.user_id, self.device_id):
            raise StoreError("the store belongs to another device")
        self._account = account
        return self

    @property
    def account(self) -> Account:
        if self._account is None:
            raise StoreError("call create() or open() first")
        return self._account

    @contextmanager
    def _operation(self) -> Iterator[Account]:
        """One transaction; on failure the in-memory account is reloaded from the store."""
        with self.store.lock:
            try:
                with self.store.transaction():
                    yield self.account
            except BaseException:
                if not self.store.in_transaction:
                    self._account = self.store.load_account()
                raise

    # Own keys ----------------------------------------------------------------------------

    def identity_keys(self) -> dict[str, str]:
        return {
            "curve25519": self.account.curve25519_key.to_base64(),
            "ed25519": self.account.ed25519_key.to_base64(),
        }

    def device_keys_payload(self) -> dict[str, Any]:
        """This device's signed device keys, for ``/v1/keys/upload``."""
        body = {
            "user_id": self.user_id,
            "device_id": self.device_id,
            "algorithms": list(ALGORITHMS),
            "keys": self.identity_keys(),
        }
        return sign_object(self.account, body)

    def sign(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """``obj`` with this device's Ed25519 signature over its canonical JSON."""
        return sign_object(self.account, obj)

    def generate_one_time_keys(self, n: int) -> list[dict[str, Any]]:
        """Generate ``n`` keys; return every unpublished one-time key, signed and bound."""
        with self._operation() as account:
            account.generate_one_time_keys(n)
            self.store.save_account(account)
            keys = account.one_time_keys
        return [self._signed_key(key_id, key, fallback=False) for key_id, key in keys.items()]

    def fallback_key_payload(self) -> dict[str, Any]:
        """The unpublished fallback key (a new one is generated if none is pending), signed."""
        with self._operation() as account:
            fallback = cast(_FallbackAccount, account)
            if not fallback.fallback_key:
                fallback.generate_fallback_key()
                self.store.save_account(account)
            key_id, key = next(iter(fallback.fallback_key.items()))
        return self._signed_key(key_id, key, fallback=True)

    def mark_published(self) -> None:
        """Record that the keys returned so far were uploaded (one-time and fallback)."""
        with self._operation() as account:
            account.mark_keys_as_published()
            self.store.save_account(account)

    def needs_one_time_keys(self, server_count: int) -> int:
        """How many one-time keys to generate so the server holds the target number."""
        return max(0, self.account.max_number_of_one_time_keys - server_count)

    def _signed_key(
        self, key_id: str, key: Curve25519PublicKey, *, fallback: bool
    ) -> dict[str, Any]:
        body = {
            "key_id": key_id,
            "key": key.to_base64(),
            "user_id": self.user_id,
            "device_id": self.device_id,
            "fallback": fallback,
        }
        return sign_object(self.account, body)

    # Peer devices ------------------------------------------------------------------------

    def add_peer_device(
        self, device_keys: Mapping[str, Any], *, expected_user_id: str | None = None
    ) -> PeerDevice:
        """Validate and remember a device; a changed identity for a known device is refused."""
        return self._add_peer(device_keys, expected_user_id)[0]

    def _add_peer(
        self, device_keys: Mapping[str, Any], expected_user_id: str | None
    ) -> tuple[PeerDevice, bool]:
        identity = parse_device_keys(device_keys)
        if expected_user_id is not None and identity.user_id != expected_user_id:
            raise SenderMismatch(f"device keys for {identity.user_id}, not {expected_user_id}")
        with self._operation():
            known = self.store.get_peer(identity.user_id, identity.device_id)
            if known is not None:
                if (known.curve25519, known.ed25519) != (identity.curve25519, identity.ed25519):
                    raise IdentityKeyChanged(
                        f"{identity.user_id}/{identity.device_id} presents new identity keys"
                    )
                return known, False
            if self.store.peer_by_curve(identity.curve25519) is not None:
                raise KeyAlreadyBound(f"{identity.curve25519} belongs to another device")
            own = (identity.user_id, identity.device_id) == (self.user_id, self.device_id)
            if own and identity.curve25519 != self.identity_keys()["curve25519"]:
                raise IdentityKeyChanged("the server presents other keys for this very device")
            peer = PeerDevice(
                identity.user_id,
                identity.device_id,
                identity.curve25519,
                identity.ed25519,
                verified=own,
                first_seen=self.clock(),
            )
            self.store.add_peer(peer)
        return peer, True

    def get_peer_device(self, user_id: str, device_id: str) -> PeerDevice | None:
        return self.store.get_peer(user_id, device_id)

    def mark_verified(self, user_id: str, device_id: str) -> None:
        """Record that the user verified this device (SAS or cross-signing)."""
        with self._operation():
            if self.store.get_peer(user_id, device_id) is None:
                raise UnknownDevice(f"{user_id}/{device_id} is not known")
            self.store.set_verified(user_id, device_id, True)

    def _peer(self, user_id: str, device_id: str) -> PeerDevice:
        peer = self.store.get_peer(user_id, device_id)
        if peer is None:
            raise UnknownDevice(f"{user_id}/{device_id} is not known; query its keys first")
        return peer

    # Olm ---------------------------------------------------------------------------------

    def start_session(self, peer_curve25519: str, claimed_otk: Mapping[str, Any]) -> str:
        """Open an outbound Olm session with a claimed one-time key; return its session id."""
        peer = self.store.peer_by_curve(check_curve25519(peer_curve25519))
        if peer is None:
            raise UnknownDevice(f"no known device has the key {peer_curve25519}")
        identity = DeviceIdentity(peer.user_id, peer.device_id, peer.curve25519, peer.ed25519)
        otk = parse_one_time_key(claimed_otk, identity)
        with self._operation() as account:
            session = account.create_outbound_session(
                Curve25519PublicKey.from_base64(peer.curve25519),
                Curve25519PublicKey.from_base64(otk.key),
            )
            self.store.save_olm_session(peer.curve25519, session, self.clock())
        return session.session_id

    def has_session(self, peer_user_id: str, peer_device_id: str) -> bool:
        peer = self.store.get_peer(peer_user_id, peer_device_id)
        return peer is not None and bool(self.store.olm_sessions(peer.curve25519))

    def encrypt_to_device(
        self, peer_user_id: str, peer_device_id: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Encrypt ``payload`` (which has a string ``type``) for one device; the Olm envelope."""
        kind = payload.get("type")
        if not isinstance(kind, str):
            raise MalformedPayload("a to-device payload needs a string type")
        peer = self._peer(peer_user_id, peer_device_id)
        plaintext = {
            "type": kind,
            "content": {k: v for k, v in payload.items() if k != "type"},
            "sender": self.user_id,
            "sender_device": self.device_id,
            "keys": {"ed25519": self.identity_keys()["ed25519"]},
            "recipient": peer.user_id,
            "recipient_keys": {"ed25519": peer.ed25519},
        }
        with self._operation():
            sessions = self.store.olm_sessions(peer.curve25519)
            if not sessions:
                raise NoOlmSession(f"no Olm session with {peer_user_id}/{peer_device_id}")
            session = sessions[0]
            message_type, body = session.encrypt(canonical_json(plaintext)).to_parts()
            self.store.save_olm_session(peer.curve25519, session, self.clock())
        return {
            "algorithm": OLM_ALGORITHM,
            "sender_key": self.identity_keys()["curve25519"],
            "ciphertext": {
                peer.curve25519: {
                    "type": message_type,
                    "body": base64.b64encode(body).decode().rstrip("="),
                }
            },
        }

    def decrypt_to_device(
        self, sender_user_id: str, sender_device_id: str, envelope: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Decrypt an Olm envelope from a known device and check every binding inside it."""
        if not _is_mapping(envelope) or envelope.get("algorithm") != OLM_ALGORITHM:
            raise NotOlmEncrypted("a to-device payload must be Olm-encrypted")
        sender_key, ciphertext = envelope.get("sender_key"), envelope.get("ciphertext")
        if not isinstance(sender_key, str) or not isinstance(ciphertext, Mapping):
            raise MalformedPayload("an Olm envelope needs sender_key and ciphertext")
        mine = ciphertext.get(self.identity_keys()["curve25519"])
        if not isinstance(mine, Mapping):
            raise NotForThisDevice("the envelope holds no ciphertext for this device")
        message_type, body = mine.get("type"), mine.get("body")
        if message_type not in (PRE_KEY, NORMAL) or not isinstance(body, str):
            raise MalformedPayload("an Olm ciphertext needs type 0 or 1 and a body")
        raw = _b64decode(body)
        peer = self._peer(sender_user_id, sender_device_id)
        if peer.curve25519 != sender_key:
            raise SenderMismatch(
                f"{sender_key} is not the key of {sender_user_id}/{sender_device_id}"
            )
        with self._operation():
            plaintext = self._olm_decrypt(peer.curve25519, int(message_type), raw)
            return self._check_to_device(plaintext, peer)

    def _olm_decrypt(self, sender_key: str, message_type: int, raw: bytes) -> bytes:
        try:
            message = AnyOlmMessage.from_parts(message_type, raw)
        except ValueError:
            raise MalformedPayload("the Olm message does not decode") from None
        sessions = self.store.olm_sessions(sender_key)
        pre_key = message.to_pre_key() if message_type == PRE_KEY else None
        for session in sessions:
            if pre_key is not None and not session.session_matches(pre_key):
                continue
            try:
                plaintext = session.decrypt(message)
            except ValueError:
                if pre_key is not None:
                    raise DecryptionFailed("the pre-key message fails its own session") from None
                continue
            self.store.save_olm_session(sender_key, session, self.clock())
            return plaintext
        if pre_key is None:
            raise DecryptionFailed("no Olm session with this sender decrypts the message")
        try:
            session, plaintext = self.account.create_inbound_session(
                Curve25519PublicKey.from_base64(sender_key), pre_key
            )
        except ValueError as exc:
            raise DecryptionFailed(f"cannot open an Olm session: {exc}") from None
        # The one-time key is now spent: the account and the session commit together.
        self.store.save_account(self.account)
        self.store.save_olm_session(sender_key, session, self.clock())
        return plaintext

    def _check_to_device(self, plaintext: bytes, peer: PeerDevice) -> dict[str, Any]:
        try:
            inner = json.loads(plaintext)
        except ValueError:
            raise MalformedPayload("the decrypted to-device payload is not JSON") from None
        if not isinstance(inner, dict):
            raise MalformedPayload("the decrypted to-device payload is not an object")
        kind, content = inner.get("type"), inner.get("content")
        if not isinstance(kind, str) or not isinstance(content, dict) or "type" in content:
            raise MalformedPayload("the decrypted to-device payload needs type and content")
        if (inner.get("sender"), inner.get("sender_device")) != (peer.user_id, peer.device_id):
            raise SenderMismatch("the payload names another sender than the one who sent it")
        if _ed25519_of(inner.get("keys")) != peer.ed25519:
            raise SenderMismatch("the payload names another signing key than the sender's")
        if inner.get("recipient") != self.user_id:
            raise NotForThisDevice("the payload was meant for another user")
        if _ed25519_of(inner.get("recipient_keys")) != self.identity_keys()["ed25519"]:
            raise NotForThisDevice("the payload was meant for another device")
        return {"type": kind, **content}


def _is_mapping(value: object) -> bool:
    # Envelopes come from the server: typed as mappings, checked as anything.
    return isinstance(value, Mapping)


def _ed25519_of(keys: object) -> object:
    return keys.get("ed25519") if isinstance(keys, dict) else None


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayload("a body is not valid base64") from None
