"""How an audit entry becomes a Merkle leaf: its canonical encoding and RFC 6962 leaf hash.

The encoding is version 1 and frozen: sorted-key compact JSON (UTF-8) of the entry's
position, id, time (ISO 8601, microseconds, UTC), actor, action, target, subject, note and
detail. Changing it would make every stored leaf hash disagree (docs/audit-log.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def encode_entry(
    *,
    seq: int,
    entry_id: str,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str,
    subject_user_id: str | None,
    note: str | None,
    detail: dict[str, Any] | None,
) -> bytes:
    """The canonical bytes of one entry (what its leaf hash covers)."""
    document = {
        "v": 1,
        "seq": seq,
        "entry_id": entry_id,
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "action": action,
        "target": target,
        "subject_user_id": subject_user_id,
        "note": note,
        "detail": detail,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash(encoded: bytes) -> bytes:
    """RFC 6962 §2.1: ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(LEAF_PREFIX + encoded).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()
