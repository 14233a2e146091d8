"""Small-order Curve25519 keys are refused; real keys pass; only one spelling per key."""

from __future__ import annotations

import base64
import os

import pytest
import vodozemac

from courtyard.domains.keys.curve import LOW_ORDER_POINTS, check_curve25519_key, decode_key
from courtyard.domains.keys.errors import InvalidKey, LowOrderKey

P = 2**255 - 19


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def x25519(scalar: bytes, u: bytes) -> bytes:
    """RFC 7748's Montgomery ladder, written out so the test does not trust the code under test."""
    k = int.from_bytes(scalar, "little")
    k = (k & ~7 & ~(1 << 255)) | (1 << 254)
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a, b * b, d * a, c * b
        e = aa - bb
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def test_every_listed_point_really_has_small_order() -> None:
    # Any clamped scalar is a multiple of 8, so it sends a point of order 1, 2, 4 or 8 to 0.
    for point in LOW_ORDER_POINTS:
        assert x25519(os.urandom(32), point) == bytes(32), point.hex()


def test_the_list_has_the_seven_known_encodings() -> None:
    values = {int.from_bytes(p, "little") for p in LOW_ORDER_POINTS}
    assert {0, 1, P - 1, P, P + 1} <= values
    assert len(LOW_ORDER_POINTS) == 7


@pytest.mark.parametrize("point", sorted(LOW_ORDER_POINTS), ids=lambda p: p.hex()[:8])
def test_each_low_order_point_is_refused(point: bytes) -> None:
    with pytest.raises(LowOrderKey):
        check_curve25519_key(b64(point))


@pytest.mark.parametrize("point", sorted(LOW_ORDER_POINTS), ids=lambda p: p.hex()[:8])
def test_low_order_points_with_the_ignored_top_bit_set_are_refused(point: bytes) -> None:
    with pytest.raises(LowOrderKey):
        check_curve25519_key(b64(point[:31] + bytes([point[31] | 0x80])))


def test_a_real_vodozemac_key_is_accepted() -> None:
    for _ in range(20):
        key = vodozemac.Account().curve25519_key
        assert check_curve25519_key(key.to_base64()) == key.to_bytes()
        assert x25519(os.urandom(32), key.to_bytes()) != bytes(32)


@pytest.mark.parametrize(
    "value",
    [
        b64(b"\x09" + bytes(30) + b"\x80"),  # top bit set on the base point: a second spelling of 9
        b64((P + 2).to_bytes(32, "little")),  # u >= p: a second spelling of 2
    ],
)
def test_non_canonical_encodings_of_ordinary_points_are_invalid(value: str) -> None:
    raw = decode_key(value)
    assert int.from_bytes(raw[:31] + bytes([raw[31] & 0x7F]), "little") % P not in {0, 1, P - 1}
    with pytest.raises(InvalidKey):
        check_curve25519_key(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        # Fixed bytes, not random ones: parameter ids must be the same in every collection
        # (pytest-xdist workers each collect the suite and compare).
        b64(bytes(range(1, 32))),
        b64(bytes(range(1, 34))),
        base64.b64encode(bytes(range(100, 132))).decode(),  # padded
        base64.urlsafe_b64encode(b"\xff" * 32).decode().rstrip("="),  # URL-safe alphabet
        "A" * 42 + "B",  # trailing bits that a decoder would drop
        "A" * 42 + "!",
    ],
)
def test_wrong_lengths_and_spellings_are_invalid(value: str) -> None:
    with pytest.raises(InvalidKey):
        check_curve25519_key(value)
