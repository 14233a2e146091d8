"""The callback signature scheme of payment providers: the sandbox signs with it, the wallet
verifies with it (and any real provider of the same kind would sign the same way).

A callback carries the header ``Courtyard-Signature: t=<unix seconds>,v1=<hex>`` where ``hex``
is ``HMAC-SHA256(secret, f"{t}." + body)`` over the exact raw body bytes. A receiver:

1. parses the header: exactly one ``t`` (decimal digits) and one or more ``v1`` (64 lowercase
   hex digits; several let a sender sign with an old and a new secret during a rotation);
2. refuses ``|now - t| > tolerance`` (300 s), so a captured callback cannot be replayed later;
3. recomputes the HMAC and compares it with ``hmac.compare_digest`` against every ``v1``.

Both functions are pure (no clock, no I/O).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from courtyard.core.errors import InvalidInput

SIGNATURE_HEADER = "Courtyard-Signature"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 1024
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_V1 = re.compile(r"[0-9a-f]{64}")


class BadSignature(InvalidInput):
    """The callback's signature is missing, malformed, stale or does not match."""

    code = "bad_signature"
    title = "The callback signature is not valid"


def signature(secret: bytes, body: bytes, t: int) -> str:
    """The hex HMAC-SHA256 of ``f"{t}." + body`` under ``secret``."""
    return hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, t: int) -> str:
    """The ``Courtyard-Signature`` header value for ``body`` sent at unix time ``t``."""
    return f"t={t},v1={signature(secret, body, t)}"


def _parse(header: str) -> tuple[int, list[str]]:
    if len(header) > MAX_HEADER_LENGTH:
        raise BadSignature("signature header too long")
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise BadSignature("malformed signature header")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            candidates.append(value)
        # Other schemes (v0, v2, ...) are ignored so that senders can add them later.
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise BadSignature("signature header needs exactly one numeric t")
    if not candidates or not all(_V1.fullmatch(c) for c in candidates):
        raise BadSignature("signature header needs a v1 of 64 hex digits")
    return int(timestamps[0]), candidates


def verify(
    secret: bytes,
    header: str | None,
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Check ``header`` against ``body`` at unix time ``now``.

    Raises:
        BadSignature: the header is missing or malformed, ``t`` is further than ``tolerance``
            seconds from ``now`` (either way), or no ``v1`` matches.
    """
    if not header:
        raise BadSignature("missing signature header")
    t, candidates = _parse(header)
    if abs(now - t) > tolerance:
        raise BadSignature("signature timestamp outside the tolerance")
    expected = signature(secret, body, t)
    # Compare against every candidate (no early exit) so timing says nothing about which.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise BadSignature("signature does not match")
