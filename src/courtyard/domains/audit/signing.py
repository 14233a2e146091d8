"""Signed tree heads: the Ed25519 key that signs them, kept in a file of the data dir (not the
database, so a database leak cannot forge heads), and the v1 message it signs
(docs/audit-log.md, "Signed tree heads")."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from courtyard.core.key_files import load_or_create_key

KEY_FILE_NAME = "audit-tree-head-key"
MESSAGE_HEADER = b"courtyard audit tree head v1\n"


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A signed statement that the log held ``tree_size`` entries with Merkle root
    ``root_hash`` at ``signed_at``."""

    tree_size: int
    root_hash: bytes
    signed_at: dt.datetime
    key_id: str
    signature: bytes

    def as_json(self) -> dict[str, object]:
        """The wire form (``GET /v1/audit/tree-head``, the verifier's state file)."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "signed_at": format_time(self.signed_at),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> SignedHead:
        """The inverse of ``as_json``; ``ValueError`` for anything malformed."""
        try:
            size, root, at = data["tree_size"], data["root_hash"], data["signed_at"]
            key_id, signature = data["key_id"], data["signature"]
            if not (isinstance(size, int) and size >= 0 and isinstance(key_id, str)):
                raise ValueError("bad tree_size or key_id")
            if not (isinstance(root, str) and isinstance(at, str) and isinstance(signature, str)):
                raise ValueError("bad root_hash, signed_at or signature")
            return cls(
                tree_size=size,
                root_hash=bytes.fromhex(root),
                signed_at=parse_time(at),
                key_id=key_id,
                signature=base64.b64decode(signature, validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a signed tree head: {exc}") from None


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def head_message(tree_size: int, root_hash: bytes, signed_at: dt.datetime) -> bytes:
    """The bytes a head's signature covers (v1): a header line, the size in decimal, the root
    in lowercase hex and the signing time, each line ending in a newline."""
    body = f"{tree_size}\n{root_hash.hex()}\n{format_time(signed_at)}\n"
    return MESSAGE_HEADER + body.encode("ascii")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_for(key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:16]


def public_key_from_raw(data: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(data)


def verify_head(head: SignedHead, keys: Mapping[str, Ed25519PublicKey]) -> bool | None:
    """True if the head's signature verifies, False if not, None if its key is unknown."""
    key = keys.get(head.key_id)
    if key is None:
        return None
    try:
        key.verify(head.signature, head_message(head.tree_size, head.root_hash, head.signed_at))
    except InvalidSignature:
        return False
    return True


class AuditKeyring:
    """Signs heads with the current key; verifies with it and any previous (rotated) keys."""

    def __init__(
        self, current: Ed25519PrivateKey, previous: Iterable[Ed25519PublicKey] = ()
    ) -> None:
        self._current = current
        self.key_id = key_id_for(current.public_key())
        keys = {key_id_for(key): key for key in previous}
        keys[self.key_id] = current.public_key()
        self.public_keys: Mapping[str, Ed25519PublicKey] = MappingProxyType(keys)

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> AuditKeyring:
        return cls(load_or_create_key(data_dir / KEY_FILE_NAME))

    def sign(self, tree_size: int, root_hash: bytes, signed_at: dt.datetime) -> SignedHead:
        signature = self._current.sign(head_message(tree_size, root_hash, signed_at))
        return SignedHead(tree_size, root_hash, signed_at, self.key_id, signature)

    def published(self) -> list[dict[str, str]]:
        """``GET /v1/audit/keys``: the current key first, raw public keys in base64."""
        order = sorted(self.public_keys, key=lambda k: (k != self.key_id, k))
        return [
            {
                "key_id": key_id,
                "algorithm": "ed25519",
                "public_key": base64.b64encode(raw_public_key(self.public_keys[key_id])).decode(),
            }
            for key_id in order
        ]
