"""Canonical JSON and Ed25519 signatures over it, as docs/messaging.md defines them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vodozemac import (
    Ed25519PublicKey,
    Ed25519Signature,
    KeyException,
    SignatureException,
)

from courtyard.domains.keys.curve import decode_key
from courtyard.domains.keys.errors import BadSignature, InvalidKey


def canonical_json(obj: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8 without escapes: one byte string per JSON value."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_bytes(obj: Mapping[str, Any]) -> bytes:
    """What a signed object's ``signature`` covers: the object without it, canonically."""
    return canonical_json({k: v for k, v in obj.items() if k != "signature"})


def ed25519_key(value: str) -> Ed25519PublicKey:
    """Parse an unpadded base64 Ed25519 public key, or raise ``InvalidKey``."""
    decode_key(value)
    try:
        return Ed25519PublicKey.from_base64(value)
    except KeyException:
        raise InvalidKey("not an Ed25519 public key") from None


def check_signature(obj: Mapping[str, Any], key: Ed25519PublicKey) -> None:
    """Raise ``BadSignature`` unless ``obj["signature"]`` signs the rest of ``obj`` with ``key``."""
    signature = obj.get("signature")
    if not isinstance(signature, str):
        raise BadSignature("the object has no signature")
    try:
        key.verify_signature(signed_bytes(obj), Ed25519Signature.from_base64(signature))
    except SignatureException:
        raise BadSignature() from None
