"""Merchant QR payloads: one spelling per code, Ed25519 over the canonical bytes, and
``invalid_qr`` for anything malformed, altered or signed by an unknown key."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from courtyard.core.qr_payload import (
    MAX_URI_CHARS,
    SIGNING_CONTEXT,
    URI_PREFIX,
    InvalidQr,
    QrPayload,
    b64url,
    key_id_for,
    parse,
    public_key_from_raw,
    raw_public_key,
    sign,
    verify,
)

# A fixed key: parameter ids built from its id must be the same in every collection
# (pytest-xdist workers each collect the suite and compare).
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEY_ID = key_id_for(KEY.public_key())
KEYS = {KEY_ID: KEY.public_key()}
MERCHANT = "01900000-0000-7000-8000-00000000abcd"
CODE = "01900000-0000-7000-8000-000000000002"
FIXED = QrPayload(MERCHANT, CODE, "CNY", 2500, KEY_ID)
STATIC = QrPayload(MERCHANT, CODE, "CNY", None, KEY_ID)


def fields(payload: QrPayload = FIXED) -> dict[str, Any]:
    return json.loads(payload.canonical())  # type: ignore[no-any-return]


def signed_uri(data: bytes, key: Ed25519PrivateKey = KEY) -> str:
    """A URI over arbitrary payload bytes, correctly signed: the parser alone must refuse it."""
    signature = key.sign(SIGNING_CONTEXT + data)
    return f"{URI_PREFIX}p={b64url(data)}&s={b64url(signature)}"


def canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def test_a_signed_code_round_trips_and_is_short_enough_for_a_qr() -> None:
    for payload in (FIXED, STATIC):
        uri = sign(payload, KEY)
        assert uri.startswith("courtyard://pay?p=")
        assert len(uri) < 300
        assert verify(uri, KEYS) == payload
    assert FIXED.canonical() == (
        b'{"a":2500,"c":"CNY","k":"' + KEY_ID.encode() + b'","m":"' + MERCHANT.encode()
        + b'","q":"' + CODE.encode() + b'","v":1}'
    )  # fmt: skip


def test_the_key_id_is_the_start_of_the_public_keys_sha256() -> None:
    import hashlib

    raw = raw_public_key(KEY.public_key())
    assert hashlib.sha256(raw).hexdigest()[:16] == KEY_ID
    assert public_key_from_raw(raw).public_bytes_raw() == raw
    with pytest.raises(ValueError, match="32 bytes"):
        public_key_from_raw(raw[:31])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("a", 2501),
        ("a", None),
        ("c", "EUR"),
        ("m", "01900000-0000-7000-8000-000000000009"),
        ("q", "01900000-0000-7000-8000-000000000009"),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(field: str, value: Any) -> None:
    p, s = sign(FIXED, KEY).removeprefix(URI_PREFIX).split("&")
    tampered = {**fields(), field: value}
    uri = f"{URI_PREFIX}p={b64url(canonical(tampered))}&{s}"
    assert p != f"p={b64url(canonical(tampered))}"
    with pytest.raises(InvalidQr, match="altered"):
        verify(uri, KEYS)


def test_a_code_naming_another_key_or_signed_by_one_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    other_id = key_id_for(other.public_key())
    with pytest.raises(InvalidQr, match="key this server does not know"):
        verify(sign(QrPayload(MERCHANT, CODE, "CNY", 1, other_id), other), KEYS)
    # Our key id in the payload, but another key's signature.
    with pytest.raises(InvalidQr, match="altered"):
        verify(signed_uri(FIXED.canonical(), other), KEYS)
    with pytest.raises(ValueError, match="another key"):
        sign(FIXED, other)


def test_a_bit_flipped_signature_is_refused() -> None:
    uri = sign(FIXED, KEY)
    head, sig = uri.split("&s=")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[10] ^= 1
    with pytest.raises(InvalidQr, match="altered"):
        verify(f"{head}&s={b64url(bytes(raw))}", KEYS)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        (None, "is text"),
        (b"courtyard://pay?p=a&s=b", "is text"),
        ("https://pay?p=a&s=b", "starts with"),
        ("COURTYARD://pay?p=a&s=b", "starts with"),
        ("courtyard://pay?p=abc", "exactly the parameters"),
        ("courtyard://pay?p=abc&s=abc&x=1", "exactly the parameters"),
        ("courtyard://pay?p=abc&p=abc", "exactly the parameters"),
        ("courtyard://pay?s&p=abc", "exactly the parameters"),
        ("courtyard://pay?p=ab+c&s=abcd", "not base64url"),
        ("courtyard://pay?p=abc=&s=abcd", "not base64url"),
        ("courtyard://pay?p=&s=abcd", "not base64url"),
        ("courtyard://pay?p=abcd&s=a%2Fb", "not base64url"),
        ("courtyard://pay?p=A&s=abcd", "not base64url"),  # one char cannot be base64
        ("courtyard://pay?p=ab&s=abcd", "not canonical"),  # trailing bits set
        ("courtyard://pay?p=" + "a" * MAX_URI_CHARS + "&s=abcd", "at most"),
    ],
)
def test_malformed_uris_are_invalid_qr(uri: object, message: str) -> None:
    with pytest.raises(InvalidQr, match=message):
        parse(uri)


def test_an_oversize_payload_or_a_short_signature_is_refused() -> None:
    with pytest.raises(InvalidQr, match="too long"):
        parse(signed_uri(b"{" + b" " * 300 + b"}"))
    data = FIXED.canonical()
    with pytest.raises(InvalidQr, match="not an Ed25519 signature"):
        parse(f"{URI_PREFIX}p={b64url(data)}&s={b64url(b'x' * 63)}")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b'{"a":NaN}', "not JSON"),
        (b"[1,2]", "the fields"),
        (b'{"a":1}', "the fields"),
    ],
)
def test_payloads_that_are_not_the_right_json_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidQr, match=message):
        verify(signed_uri(data), KEYS)


def test_non_canonical_spellings_are_refused_even_when_signed() -> None:
    value = fields()
    spellings = [
        json.dumps(value, sort_keys=True).encode(),  # spaces
        json.dumps(dict(reversed(value.items())), separators=(",", ":")).encode(),  # order
        FIXED.canonical().replace(b'"c":"CNY"', b'"c":"\\u0043NY"'),  # escapes
        FIXED.canonical().replace(b'"a":2500', b'"a":2500,"a":2500'),  # duplicate key
    ]
    for data in spellings:
        with pytest.raises(InvalidQr, match="canonical"):
            verify(signed_uri(data), KEYS)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("v", 2, "version"),
        ("v", True, "version"),
        ("a", 0, "positive whole"),
        ("a", -5, "positive whole"),
        ("a", 25.0, "positive whole"),
        ("a", "2500", "positive whole"),
        ("a", True, "positive whole"),
        ("a", 10**15, "positive whole"),
        ("c", "cny", "ISO 4217"),
        ("c", "XAU", "can hold"),
        ("c", "ABC", "can hold"),
        ("k", KEY_ID.upper(), "key id"),
        ("k", KEY_ID[:15], "key id"),
        ("m", MERCHANT.upper(), "merchant id"),
        ("m", 7, "merchant id"),
        ("q", "not-an-id", "code id"),
    ],
)
def test_every_field_is_checked_even_when_signed(field: str, value: Any, message: str) -> None:
    data = canonical({**fields(), field: value})
    with pytest.raises(InvalidQr, match=message):
        verify(signed_uri(data), KEYS)


def test_invalid_qr_is_a_400_problem_code() -> None:
    assert InvalidQr.code == "invalid_qr"
    from courtyard.core.errors import InvalidInput

    assert issubclass(InvalidQr, InvalidInput)
