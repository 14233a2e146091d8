"""The device-side crypto core: keys, Olm and Megolm over vodozemac, in an encrypted store.

Pure: no network and no server imports. All calls are synchronous; async callers run a whole
operation in ``asyncio.to_thread`` (see ``store`` for why).
"""

from courtyard.client.crypto.canonical import canonical_json, sign_object, verify_object
from courtyard.client.crypto.device import DeviceCrypto, RefusedDevice, SharePlan
from courtyard.client.crypto.errors import (
    BadSignature,
    ConversationMismatch,
    CryptoError,
    DecryptionFailed,
    DeviceIdIsKeyId,
    IdentityKeyChanged,
    KeyAlreadyBound,
    LowOrderKey,
    MalformedPayload,
    MissingSessionKey,
    NoOlmSession,
    NotForThisDevice,
    NotOlmEncrypted,
    ReplayedMessage,
    SenderMismatch,
    StoreError,
    UnknownDevice,
    UnrequestedForwardedKey,
    WrongPassphrase,
)
from courtyard.client.crypto.keys import is_low_order_curve25519
from courtyard.client.crypto.records import InboundRecord, KdfParams, PeerDevice
from courtyard.client.crypto.store import CryptoStore

__all__ = [
    "BadSignature",
    "ConversationMismatch",
    "CryptoError",
    "CryptoStore",
    "DecryptionFailed",
    "DeviceCrypto",
    "DeviceIdIsKeyId",
    "IdentityKeyChanged",
    "InboundRecord",
    "KdfParams",
    "KeyAlreadyBound",
    "LowOrderKey",
    "MalformedPayload",
    "MissingSessionKey",
    "NoOlmSession",
    "NotForThisDevice",
    "NotOlmEncrypted",
    "PeerDevice",
    "RefusedDevice",
    "ReplayedMessage",
    "SenderMismatch",
    "SharePlan",
    "StoreError",
    "UnknownDevice",
    "UnrequestedForwardedKey",
    "WrongPassphrase",
    "canonical_json",
    "is_low_order_curve25519",
    "sign_object",
    "verify_object",
]
