"""Verifying a device by comparing its key fingerprint over a trusted channel.

Two people compare the fingerprint of a device's Ed25519 identity key (read aloud, in
person, or over a call); if it matches, the device belongs to whom they think and is marked
verified. (Emoji SAS over to-device messages is the planned, friendlier alternative.)
"""

from __future__ import annotations

import hmac


def fingerprint(ed25519_b64: str) -> str:
    """The key in groups of four characters, easy to read aloud and compare."""
    return " ".join(ed25519_b64[i : i + 4] for i in range(0, len(ed25519_b64), 4))


def same_fingerprint(ed25519_b64: str, typed: str) -> bool:
    """Whether ``typed`` (spacing ignored) is this key's fingerprint."""
    return hmac.compare_digest("".join(typed.split()).encode(), ed25519_b64.encode())
