"""Ed25519 private keys kept in files (PKCS#8 PEM, mode 0600), not in the database, so a
database leak does not let anyone sign as the server: QR payment codes, audit tree heads and
disclosure packages each have one."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in ``path``, made (mode 0600) on first use; when two nodes or processes
    race to make it, both end up with the one that was written first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another node or process made it first; use theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    return load_key(path)


def load_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key in ``path``; ``ValueError`` if the file holds something else."""
    key = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key
