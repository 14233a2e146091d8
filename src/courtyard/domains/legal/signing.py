"""The Ed25519 key that signs disclosure packages' manifests: a PKCS#8 PEM file in the data
directory (or ``legal_signing_key_file``), made with mode 0600 on first use; its public key
is published at ``GET /v1/legal/keys`` so a recipient can check a package."""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from courtyard.core.key_files import load_or_create_key
from courtyard.core.qr_payload import b64url, key_id_for, raw_public_key


class PackageSigner:
    """Signs manifests with one key; ``key_id`` is the first 16 hex digits of the SHA-256
    of its raw public key."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id_for(self.public_key)

    @classmethod
    def from_file(cls, path: Path) -> PackageSigner:
        return cls(load_or_create_key(path))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def published(self) -> list[dict[str, str]]:
        return [
            {
                "key_id": self.key_id,
                "algorithm": "ed25519",
                "public_key": b64url(raw_public_key(self.public_key)),
            }
        ]


def verify_signature(public_key: bytes, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the raw Ed25519 ``public_key``'s signature over ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
