"""Canonical JSON and Ed25519 signatures over it, exactly as docs/messaging.md fixes them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vodozemac import Account, Ed25519PublicKey, Ed25519Signature

SIGNATURE_FIELD = "signature"


def canonical_json(obj: Any) -> bytes:
    """The UTF-8 bytes of ``obj`` with sorted keys and no insignificant whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def signing_bytes(obj: Mapping[str, Any]) -> bytes:
    """What a signature covers: the canonical form of ``obj`` without its ``signature``."""
    return canonical_json({k: v for k, v in obj.items() if k != SIGNATURE_FIELD})


def sign_object(account: Account, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``signature``: the account's Ed25519 signature over it."""
    signed = {k: v for k, v in obj.items() if k != SIGNATURE_FIELD}
    signed[SIGNATURE_FIELD] = account.sign(canonical_json(signed)).to_base64()
    return signed


def verify_object(ed25519_b64: str, obj: Mapping[str, Any]) -> bool:
    """Whether ``obj["signature"]`` is a valid signature by ``ed25519_b64`` over ``obj``."""
    signature = obj.get(SIGNATURE_FIELD)
    if not isinstance(signature, str) or not isinstance(ed25519_b64, str):
        return False
    try:
        key = Ed25519PublicKey.from_base64(ed25519_b64)
        key.verify_signature(signing_bytes(obj), Ed25519Signature.from_base64(signature))
    except (ValueError, TypeError):
        # vodozemac's KeyException, DecodeException and SignatureException are ValueErrors.
        return False
    return True
