"""Merchant QR payloads: a signed URI that a phone camera can hand to the app.

``courtyard://pay?p=<base64url(payload)>&s=<base64url(signature)>``, where ``payload`` is the
canonical JSON ``{"a": 2500 or null, "c": "CNY", "k": "<key_id>", "m": "<merchant_id>",
"q": "<qr_id>", "v": 1}`` and the signature is Ed25519 over ``b"courtyard-qr-v1\\n" +
payload`` (docs/wallet.md, "Merchants and QR payments"). The server signs; devices and the
server verify against the server's public keys, so a tampered amount, merchant or code id is
refused before anyone is asked to pay.

Parsing is strict: one spelling of every payload is accepted (canonical JSON, unpadded
canonical base64url, exactly the two parameters), so two different strings never mean the
same code. Every refusal is ``InvalidQr`` (400 ``invalid_qr``). Pure: no clock, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from courtyard.core.currencies import is_holdable
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import is_id
from courtyard.core.money import MAX_AMOUNT_MINOR

URI_PREFIX = "courtyard://pay?"
SIGNING_CONTEXT = b"courtyard-qr-v1\n"
VERSION = 1
MAX_URI_CHARS = 512  # a real code is ~275 characters
MAX_PAYLOAD_BYTES = 256
SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
FIELDS = frozenset({"a", "c", "k", "m", "q", "v"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_CURRENCY = re.compile(r"[A-Z]{3}")


class InvalidQr(InvalidInput):
    """Not a Courtyard payment code, altered, or signed by a key this server does not hold."""

    code = "invalid_qr"
    title = "This is not a valid Courtyard payment code"


@dataclass(frozen=True, slots=True)
class QrPayload:
    """What a code says: whose it is, which code, and for fixed codes the amount."""

    merchant_id: str
    qr_id: str
    currency: str
    amount_minor: int | None
    key_id: str

    def canonical(self) -> bytes:
        """The one byte string that is signed and carried for this payload."""
        return canonical_json(
            {
                "a": self.amount_minor,
                "c": self.currency,
                "k": self.key_id,
                "m": self.merchant_id,
                "q": self.qr_id,
                "v": VERSION,
            }
        )


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str, what: str) -> bytes:
    """Decode unpadded base64url, refusing any other spelling of the same bytes."""
    if not _BASE64URL.fullmatch(text):
        raise InvalidQr(f"{what} is not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidQr(f"{what} is not base64url") from None
    if b64url(data) != text:  # stray trailing bits: another spelling of these bytes
        raise InvalidQr(f"{what} is not canonical base64url")
    return data


def sign(payload: QrPayload, private_key: Ed25519PrivateKey) -> str:
    """The URI of ``payload``, signed with ``private_key`` (whose id must be ``payload``'s)."""
    if key_id_for(private_key.public_key()) != payload.key_id:
        raise ValueError("the payload names another key than the one signing it")
    data = payload.canonical()
    signature = private_key.sign(SIGNING_CONTEXT + data)
    return f"{URI_PREFIX}p={b64url(data)}&s={b64url(signature)}"


def parse(uri: object) -> tuple[QrPayload, bytes, bytes]:
    """Split a URI into its payload, the payload's bytes and the signature, checking their
    form but not the signature (``verify`` does both)."""
    if not isinstance(uri, str):
        raise InvalidQr("A payment code is text starting with courtyard://pay?")
    if len(uri) > MAX_URI_CHARS:
        raise InvalidQr(f"A payment code is at most {MAX_URI_CHARS} characters")
    if not uri.startswith(URI_PREFIX):
        raise InvalidQr("A payment code starts with courtyard://pay?")
    params: dict[str, str] = {}
    for part in uri.removeprefix(URI_PREFIX).split("&"):
        name, sep, value = part.partition("=")
        if not sep or name not in ("p", "s") or name in params:
            raise InvalidQr("A payment code has exactly the parameters p and s")
        params[name] = value
    if params.keys() != {"p", "s"}:
        raise InvalidQr("A payment code has exactly the parameters p and s")
    data = from_b64url(params["p"], "the payload")
    signature = from_b64url(params["s"], "the signature")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidQr("The payload is too long")
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidQr("The signature is not an Ed25519 signature")
    return _payload(data), data, signature


def verify(uri: object, public_keys: Mapping[str, Ed25519PublicKey]) -> QrPayload:
    """The payload of ``uri`` if it is well formed and signed by the key it names, one of
    ``public_keys`` (key id → key); ``InvalidQr`` otherwise."""
    payload, data, signature = parse(uri)
    key = public_keys.get(payload.key_id)
    if key is None:
        raise InvalidQr("The code was signed with a key this server does not know")
    try:
        key.verify(signature, SIGNING_CONTEXT + data)
    except InvalidSignature:
        raise InvalidQr("The code's signature does not match: it was altered") from None
    return payload


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from its 32 raw bytes (``ValueError`` otherwise)."""
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _payload(data: bytes) -> QrPayload:
    try:
        text = data.decode("ascii")
        value = json.loads(text, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidQr("The payload is not JSON") from None
    if not isinstance(value, dict) or value.keys() != FIELDS:
        raise InvalidQr("The payload has the fields a, c, k, m, q and v, and no others")
    if canonical_json(value) != data:
        raise InvalidQr("The payload is not in canonical form")
    amount, currency, key_id = value["a"], value["c"], value["k"]
    merchant_id, qr_id = value["m"], value["q"]
    if value["v"] != VERSION or type(value["v"]) is not int:
        raise InvalidQr("Unknown payment code version")
    if amount is not None and (type(amount) is not int or not 0 < amount <= MAX_AMOUNT_MINOR):
        raise InvalidQr("The amount is not a positive whole number of minor units")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise InvalidQr("The currency is not an ISO 4217 code")
    if not is_holdable(currency):
        raise InvalidQr("The currency is not one a wallet can hold")
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise InvalidQr("The key id is malformed")
    if not (isinstance(merchant_id, str) and is_id(merchant_id)):
        raise InvalidQr("The merchant id is malformed")
    if not (isinstance(qr_id, str) and is_id(qr_id)):
        raise InvalidQr("The code id is malformed")
    return QrPayload(merchant_id, qr_id, currency, amount, key_id)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
