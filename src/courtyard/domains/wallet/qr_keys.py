"""The server's QR signing keys: Ed25519 private keys in secret files shared by the nodes, not
in the database, so a database leak does not let anyone mint payment codes.

The current key signs new codes; previous keys (after a rotation) still sign the images of
the codes they signed and verify them, until an operator retires a key by removing its file
from ``wallet_qr_previous_key_files`` — its codes then stop working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from courtyard.core.key_files import load_or_create_key
from courtyard.core.qr_payload import (
    InvalidQr,
    QrPayload,
    b64url,
    key_id_for,
    raw_public_key,
    sign,
    verify,
)


class QrKeyring:
    """Signs payloads with the current key and verifies codes against every key held."""

    def __init__(
        self, current: Ed25519PrivateKey, previous: Iterable[Ed25519PrivateKey] = ()
    ) -> None:
        self.current = current
        self.current_key_id = key_id_for(current.public_key())
        keys = {key_id_for(k.public_key()): k for k in previous}
        keys[self.current_key_id] = current
        self._private = keys
        self.public_keys: Mapping[str, Ed25519PublicKey] = MappingProxyType(
            {key_id: key.public_key() for key_id, key in keys.items()}
        )

    @classmethod
    def from_files(cls, current: Path, previous: Iterable[Path] = ()) -> QrKeyring:
        return cls(load_or_create_key(current), [load_or_create_key(p) for p in previous])

    def sign(self, payload: QrPayload) -> str:
        """The URI of ``payload``, signed with the key it names (``InvalidQr`` if retired)."""
        key = self._private.get(payload.key_id)
        if key is None:
            raise InvalidQr("The code's signing key has been retired")
        return sign(payload, key)

    def verify(self, uri: object) -> QrPayload:
        return verify(uri, self.public_keys)

    def holds(self, key_id: str) -> bool:
        return key_id in self._private

    def published(self) -> list[dict[str, str]]:
        """``GET /v1/wallet/qr-keys``: the current key first, raw public keys in base64url."""
        order = sorted(self.public_keys, key=lambda k: (k != self.current_key_id, k))
        return [
            {"key_id": key_id, "ed25519": b64url(raw_public_key(self.public_keys[key_id]))}
            for key_id in order
        ]
