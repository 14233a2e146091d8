"""Password rules (NIST SP 800-63B) and argon2id hashing.

Rules: at least 8 characters, up to 256 accepted, no composition rules, not a known common
password, not the username or the service name. Passwords are NFKC-normalised first so the
same password typed on two keyboards matches.
"""

from __future__ import annotations

import asyncio
import functools
import os
import unicodedata
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from courtyard.domains.accounts.errors import WeakPassword

MIN_LENGTH = 8
MAX_LENGTH = 256
# OWASP's argon2id minimum: m=19 MiB, t=2, p=1.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
SERVICE_WORDS = frozenset({"courtyard", "courtyard1", "courtyard123"})


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped blocklist, lower-cased."""
    text = resources.files("courtyard.domains.accounts").joinpath("data/common-passwords.txt")
    return frozenset(
        line.strip().lower()
        for line in text.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password_rules(password: str, *, username: str | None = None) -> str:
    """Return the normalised password, or raise ``WeakPassword`` saying which rule it breaks."""
    password = normalise(password)
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Password must have at least {MIN_LENGTH} characters.", rule="length")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Password must have at most {MAX_LENGTH} characters.", rule="length")
    lowered = password.lower()
    if lowered in common_passwords() or lowered in SERVICE_WORDS:
        raise WeakPassword("This password is too common; choose another.", rule="common")
    if username and lowered == username.lower():
        raise WeakPassword("Password must not be your username.", rule="username")
    return password


class Hasher:
    """argon2id hashing with a dummy hash so unknown users cost as much as known ones.

    Hashing runs in worker threads (argon2 releases the GIL), at most a few at a time, so a
    burst of logins neither blocks the event loop nor takes unbounded memory (19 MiB each).
    """

    def __init__(self, concurrency: int | None = None) -> None:
        self._hasher = PasswordHasher(
            time_cost=ARGON2_TIME_COST,
            memory_cost=ARGON2_MEMORY_KIB,
            parallelism=ARGON2_PARALLELISM,
        )
        self._dummy = self._hasher.hash("not a real password: keeps timing even")
        self._concurrency = concurrency or max(2, 2 * (os.cpu_count() or 1))
        self._slots: asyncio.Semaphore | None = None

    def hash_now(self, password: str) -> str:
        """Hash synchronously (for scripts and tests)."""
        return self._hasher.hash(normalise(password))

    def verify_now(self, password_hash: str | None, password: str) -> bool:
        """Check ``password``; with ``password_hash=None`` do the same work and return False."""
        try:
            self._hasher.verify(password_hash or self._dummy, normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return password_hash is not None

    async def hash(self, password: str) -> str:
        async with self._limit():
            return await asyncio.to_thread(self.hash_now, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._limit():
            return await asyncio.to_thread(self.verify_now, password_hash, password)

    def _limit(self) -> asyncio.Semaphore:
        # Created lazily so the semaphore binds to the running loop, not the constructor's.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        return self._slots
