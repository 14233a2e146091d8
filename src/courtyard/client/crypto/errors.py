"""Errors the device crypto core raises; each names one refusal a caller can branch on."""

from __future__ import annotations

from courtyard.client.errors import ClientError


class CryptoError(ClientError):
    """Base of every error raised by ``courtyard.client.crypto``."""


class WrongPassphrase(CryptoError):
    """The passphrase does not open this crypto store."""


class StoreError(CryptoError):
    """The crypto store is missing, already initialised, or damaged."""


class MalformedPayload(CryptoError):
    """A key object, envelope or decrypted payload does not have the expected shape."""


class BadSignature(CryptoError):
    """An Ed25519 signature does not verify."""


class DeviceIdIsKeyId(CryptoError):
    """A device id equals one of the device's key ids or keys (device/key confusion)."""


class LowOrderKey(CryptoError):
    """A Curve25519 public key is of small order (it would give a predictable shared secret)."""


class IdentityKeyChanged(CryptoError):
    """A known device now presents different identity keys; it is not trusted silently."""


class KeyAlreadyBound(CryptoError):
    """An identity key already belongs to another (user, device)."""


class UnknownDevice(CryptoError):
    """The peer device is not known locally; query its keys and ``add_peer_device`` first."""


class NoOlmSession(CryptoError):
    """There is no Olm session with the peer; claim a one-time key and ``start_session``."""


class NotOlmEncrypted(CryptoError):
    """A payload that must arrive inside Olm (to-device, room keys) did not."""


class NotForThisDevice(CryptoError):
    """The envelope carries no ciphertext for this device, or names another recipient."""


class SenderMismatch(CryptoError):
    """The sender named inside the ciphertext differs from who sent it."""


class DecryptionFailed(CryptoError):
    """The ciphertext does not decrypt with any session this device holds."""


class MissingSessionKey(CryptoError):
    """No inbound Megolm session for this message yet; retry when the room key arrives."""

    def __init__(self, sender_key: str, session_id: str) -> None:
        super().__init__(f"no inbound group session {session_id} from {sender_key}")
        self.sender_key = sender_key
        self.session_id = session_id


class ConversationMismatch(CryptoError):
    """A Megolm message or its session belongs to another conversation."""


class ReplayedMessage(CryptoError):
    """A Megolm (session, index) was already accepted under another event id."""

    def __init__(self, session_id: str, message_index: int, first_event_id: str) -> None:
        super().__init__(
            f"index {message_index} of session {session_id} was already seen as {first_event_id}"
        )
        self.session_id = session_id
        self.message_index = message_index
        self.first_event_id = first_event_id


class UnrequestedForwardedKey(CryptoError):
    """A forwarded room key arrived that this device never requested, or from a wrong device."""
