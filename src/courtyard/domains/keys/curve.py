"""Strict decoding of 32-byte public keys and refusal of small-order Curve25519 points.

A small-order public key makes every Diffie-Hellman output one of a handful of values, so a
session "secured" by it is readable by anyone; the Matrix attacks (Albrecht et al., 2023)
exploit exactly such keys, so the server refuses them.
"""

from __future__ import annotations

import base64
import binascii
import re

from courtyard.domains.keys.errors import InvalidKey, LowOrderKey

KEY_BYTES = 32
_UNPADDED_32 = re.compile(r"[A-Za-z0-9+/]{43}")

# The u-coordinates (little-endian, top bit clear) whose points have small order on
# Curve25519 or its twist, including the non-canonical encodings p and p+1 of 0 and 1.
LOW_ORDER_POINTS: frozenset[bytes] = frozenset(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",  # 0 (order 2)
        "0100000000000000000000000000000000000000000000000000000000000000",  # 1 (order 4)
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  # order 8
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",  # order 8
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p - 1
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p (= 0)
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # p + 1 (= 1)
    )
)
_P = 2**255 - 19


def decode_key(value: str) -> bytes:
    """The 32 bytes of an unpadded base64 key, or ``InvalidKey`` for any other spelling."""
    if not _UNPADDED_32.fullmatch(value):
        raise InvalidKey(f"expected 43 characters of unpadded base64, got {len(value)}")
    try:
        raw = base64.b64decode(value + "=", validate=True)
    except binascii.Error:
        raise InvalidKey("the key is not valid base64") from None
    # Non-zero trailing bits would give one key two spellings.
    if len(raw) != KEY_BYTES or base64.b64encode(raw).decode().rstrip("=") != value:
        raise InvalidKey("the key is not in canonical base64")
    return raw


def check_curve25519_key(value: str) -> bytes:
    """Decode a Curve25519 public key; refuse small-order points and non-canonical encodings."""
    raw = decode_key(value)
    # X25519 ignores the top bit, so a key with it set is the same point: clear it to compare.
    cleared = raw[:31] + bytes([raw[31] & 0x7F])
    if cleared in LOW_ORDER_POINTS:
        raise LowOrderKey()
    if cleared != raw or int.from_bytes(raw, "little") >= _P:
        raise InvalidKey("the Curve25519 key is not canonically encoded")
    return raw
