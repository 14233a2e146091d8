"""Checks on public key material received from the server: shapes, signatures, small order.

Nothing here trusts the server: every device key object must be self-signed, bound to its
``user_id``/``device_id``, and carry Curve25519 keys that are not of small order.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from courtyard.client.crypto.canonical import verify_object
from courtyard.client.crypto.errors import (
    BadSignature,
    DeviceIdIsKeyId,
    LowOrderKey,
    MalformedPayload,
)

OLM_ALGORITHM = "olm.v1.curve25519-aes-sha2"
MEGOLM_ALGORITHM = "megolm.v1.aes-sha2"
ALGORITHMS = (OLM_ALGORITHM, MEGOLM_ALGORITHM)
KEY_BYTES = 32

_P = 2**255 - 19
_A24 = 121665  # (A - 2) / 4 for Curve25519, as in RFC 7748's ladder


@dataclass(frozen=True)
class DeviceIdentity:
    """A peer device's identity as its signed device keys state it."""

    user_id: str
    device_id: str
    curve25519: str
    ed25519: str


@dataclass(frozen=True)
class OneTimeKey:
    """A claimed one-time (or fallback) key, as the signed object states it."""

    key_id: str
    key: str
    user_id: str
    device_id: str
    fallback: bool


def decode_key(key_b64: str) -> bytes:
    """The 32 raw bytes of an unpadded base64 key, or ``MalformedPayload``."""
    if not isinstance(key_b64, str):
        raise MalformedPayload("a key must be a base64 string")
    try:
        raw = base64.b64decode(key_b64 + "=" * (-len(key_b64) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayload("a key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise MalformedPayload(f"a key must be {KEY_BYTES} bytes, not {len(raw)}")
    return raw


def is_low_order_curve25519(raw: bytes) -> bool:
    """Whether the Curve25519 point with u-coordinate ``raw`` has order dividing 8.

    Decodes as RFC 7748 does (top bit masked, reduced mod p) and doubles three times with the
    x-only formulas; the result is the point at infinity (Z = 0) exactly for the small-order
    points of the curve and of its twist, including non-canonical encodings.
    """
    u = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    x, z = u % _P, 1
    for _ in range(3):
        aa = (x + z) * (x + z) % _P
        bb = (x - z) * (x - z) % _P
        e = (aa - bb) % _P
        x, z = aa * bb % _P, e * (aa + _A24 * e) % _P
    return z == 0


def check_curve25519(key_b64: str) -> str:
    """Return ``key_b64`` if it is a usable Curve25519 key; raise ``LowOrderKey`` if not."""
    if is_low_order_curve25519(decode_key(key_b64)):
        raise LowOrderKey(f"Curve25519 key {key_b64} is of small order")
    return key_b64


def parse_device_keys(obj: Mapping[str, Any]) -> DeviceIdentity:
    """Validate a signed device keys object (shape, self-signature, key checks)."""
    if not isinstance(obj, Mapping):
        raise MalformedPayload("device keys must be an object")
    user_id, device_id, keys = obj.get("user_id"), obj.get("device_id"), obj.get("keys")
    if not isinstance(user_id, str) or not isinstance(device_id, str) or not user_id:
        raise MalformedPayload("device keys need string user_id and device_id")
    if not device_id or not isinstance(keys, Mapping):
        raise MalformedPayload("device keys need a device_id and a keys object")
    curve, ed = keys.get("curve25519"), keys.get("ed25519")
    if not isinstance(curve, str) or not isinstance(ed, str):
        raise MalformedPayload("device keys need curve25519 and ed25519 keys")
    decode_key(ed)
    if device_id in keys or device_id in (curve, ed):
        raise DeviceIdIsKeyId(f"device id {device_id!r} equals one of its key ids or keys")
    if not verify_object(ed, obj):
        raise BadSignature(f"device keys of {user_id}/{device_id} are not self-signed")
    check_curve25519(curve)
    return DeviceIdentity(user_id, device_id, curve, ed)


def parse_one_time_key(obj: Mapping[str, Any], signer: DeviceIdentity) -> OneTimeKey:
    """Validate a claimed one-time key: signed by ``signer`` and bound to that device."""
    if not isinstance(obj, Mapping):
        raise MalformedPayload("a one-time key must be an object")
    key_id, key = obj.get("key_id"), obj.get("key")
    if not isinstance(key_id, str) or not isinstance(key, str):
        raise MalformedPayload("a one-time key needs string key_id and key")
    if obj.get("user_id") != signer.user_id or obj.get("device_id") != signer.device_id:
        raise BadSignature("the one-time key is bound to another device")
    if signer.device_id in (key_id, key):
        raise DeviceIdIsKeyId(f"one-time key id {key_id!r} equals the device id")
    if not verify_object(signer.ed25519, obj):
        raise BadSignature(f"one-time key {key_id} is not signed by its device")
    check_curve25519(key)
    return OneTimeKey(key_id, key, signer.user_id, signer.device_id, obj.get("fallback") is True)
