"""Files, images and voice notes are encrypted on the device before upload (AES-256-GCM).

Each file gets a fresh random 256-bit key and 96-bit nonce. The key, nonce, SHA-256 of the
ciphertext, size, MIME type and name travel inside the Megolm-encrypted message, so the
server stores an opaque blob and never learns the file's name or type.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from courtyard.client.errors import ClientError

KEY_BYTES = 32
NONCE_BYTES = 12
ALGORITHM = "A256GCM"


class AttachmentError(ClientError):
    """An attachment's description is malformed, its hash differs, or it does not decrypt."""


def encrypt_attachment(
    data: bytes, *, name: str, mime: str = "application/octet-stream"
) -> tuple[bytes, dict[str, Any]]:
    """Encrypt ``data``; return the ciphertext to upload and its description for the message.

    The caller adds ``media_id`` after the upload.
    """
    key, nonce = os.urandom(KEY_BYTES), os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, data, None)
    info = {
        "alg": ALGORITHM,
        "key": _b64(key),
        "iv": _b64(nonce),
        "sha256": hashlib.sha256(ciphertext).hexdigest(),
        "size": len(data),
        "mime": mime,
        "name": name,
    }
    return ciphertext, info


def decrypt_attachment(ciphertext: bytes, info: dict[str, Any]) -> bytes:
    """Check the ciphertext's SHA-256 against ``info``, then decrypt and authenticate it."""
    try:
        key, nonce = _unb64(info["key"]), _unb64(info["iv"])
        expected = str(info["sha256"])
        size = int(info["size"])
    except (KeyError, TypeError, ValueError):
        raise AttachmentError("the attachment description is malformed") from None
    if len(key) != KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise AttachmentError("the attachment key or nonce has the wrong length")
    if not hmac.compare_digest(hashlib.sha256(ciphertext).hexdigest(), expected):
        raise AttachmentError("the downloaded file does not match its hash")
    try:
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, None)
    except InvalidTag:
        raise AttachmentError("the file does not decrypt with its key") from None
    if len(plaintext) != size:
        raise AttachmentError("the decrypted file has another size than announced")
    return plaintext


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a string")
    return base64.b64decode(text, validate=True)
