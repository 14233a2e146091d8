"""The payment PIN: six digits, argon2id over a peppered HMAC, and a lockout that is exact
under concurrency on any number of nodes (docs/wallet.md, "Payment PIN").

Each attempt is committed before argon2id runs, so at most ``max_failures`` verifications can
start per lock window. After a correct PIN a node remembers it for ten minutes (keyed by the
PIN's version), so a burst of payments does not pay ~30 ms of argon2id each.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.db.pg_bulk import one_of
from courtyard.domains.accounts import Hasher
from courtyard.domains.wallet.errors import PinLocked, PinNotSet, WeakPin, WrongPin
from courtyard.domains.wallet.flow_models import WalletPin
from courtyard.streams import StreamStore

PIN_EVENT = "wallet.pin"
# (version, locked_until) of a user's PIN row: what the verification cache needs.
PinFacts = tuple[int, dt.datetime | None]
_FACTS = {
    dialect: select(WalletPin.user_id, WalletPin.version, WalletPin.locked_until).where(
        one_of(WalletPin.user_id, "user_ids", dialect)
    )
    for dialect in ("postgresql", "sqlite")
}
CACHE_FOR = dt.timedelta(minutes=10)
ATTEMPT_SLOT_TRIES = 200
ATTEMPT_SLOT_WAIT = 0.05  # seconds; a free slot comes as soon as one argon2id check ends
# A check in flight longer than this was on a node that died: its slot is freed.
PENDING_STALE = dt.timedelta(seconds=30)


def reaches_now(locked_until: dt.datetime | None, until: dt.datetime) -> bool:
    """Whether the lock just written is the one this attempt started."""
    return locked_until is not None and locked_until == until


def check_pin_rules(pin: object) -> str:
    """Six ASCII digits, not all equal, not a run (123456, 654321), not a repeat (123123)."""
    if not isinstance(pin, str) or len(pin) != 6 or not all("0" <= c <= "9" for c in pin):
        raise WeakPin("A PIN is exactly 6 digits")
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if steps in ({0}, {1}, {-1}) or pin[:3] == pin[3:] or pin[:2] * 3 == pin:
        raise WeakPin("Choose a PIN that is not a run, a repeat or one digit six times")
    return pin


def load_pepper(path: Path) -> bytes:
    """The pepper file (32 random bytes), created on first use; shared by all nodes."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    pepper = path.read_bytes()
    if len(pepper) < 32:
        raise ValueError(f"{path} must hold at least 32 bytes")
    return pepper


@dataclass(frozen=True, slots=True)
class PinPolicy:
    max_failures: int
    lock: dt.timedelta


@dataclass(frozen=True, slots=True)
class PinState:
    set: bool
    locked_until: dt.datetime | None


class Pins:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        hasher: Hasher,
        streams: StreamStore,
        pepper: bytes,
        policy: PinPolicy,
    ) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher
        self.streams = streams
        self.pepper = pepper
        self.policy = policy
        self._node_key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, int], tuple[bytes, dt.datetime]] = {}

    def _peppered(self, user_id: str, pin: str) -> str:
        message = f"courtyard-pin-v1:{user_id}:{pin}".encode()
        return hmac.new(self.pepper, message, hashlib.sha256).hexdigest()

    async def state(self, user_id: str) -> PinState:
        async with self.db.read() as session:
            row = await session.get(WalletPin, user_id)
        if row is None:
            return PinState(set=False, locked_until=None)
        locked = (
            row.locked_until if row.locked_until and row.locked_until > self.clock.now() else None
        )
        return PinState(set=True, locked_until=locked)

    async def do_set(self, user_id: str, pin: str) -> str:
        """Set or replace the PIN (the caller has checked the password or current PIN);
        clears a lock. Returns ``"set"`` or ``"changed"``."""
        pin_hash = await self.hasher.hash(self._peppered(user_id, check_pin_rules(pin)))
        now = self.clock.now()
        async with self.db.transaction() as tx:
            dialect = tx.session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(WalletPin).values(
                user_id=user_id,
                pin_hash=pin_hash,
                version=1,
                failed_count=0,
                pending_count=0,
                pending_since=None,
                locked_until=None,
                created_at=now,
                updated_at=now,
            )
            row = await tx.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id"],
                    set_={
                        "pin_hash": pin_hash,
                        "version": WalletPin.version + 1,
                        "failed_count": 0,
                        "locked_until": None,
                        "updated_at": now,
                    },
                ).returning(WalletPin.version)
            )
            change = "set" if row.scalar_one() == 1 else "changed"
            await self.streams.append(
                tx, user_id, PIN_EVENT, {"state": change, "locked_until": None}
            )
        return change

    async def check(self, user_id: str, pin: object) -> None:
        """Raise unless ``pin`` is the user's PIN and payments are not locked."""
        if not isinstance(pin, str) or len(pin) > 64:
            raise WrongPin("A PIN is 6 digits")
        now = self.clock.now()
        async with self.db.read() as session:
            row = await session.get(WalletPin, user_id)
        facts = (row.version, row.locked_until) if row is not None else None
        if self.check_remembered(user_id, pin, facts):
            return
        assert row is not None  # check_remembered raised PinNotSet otherwise
        _, version = await self._begin_attempt(user_id)
        if await self.hasher.verify(row.pin_hash, self._peppered(user_id, pin)):
            await self._finish_attempt(user_id, correct=True)
            self._remember(user_id, version, pin, now)
            return
        failures, locked_until = await self._finish_attempt(user_id, correct=False)
        if locked_until is not None:
            await self._announce_lock(user_id, locked_until)
            raise self._locked(locked_until, now)
        raise WrongPin(attempts_left=max(0, self.policy.max_failures - failures))

    @staticmethod
    async def facts_of(session: AsyncSession, user_ids: set[str]) -> dict[str, PinFacts]:
        """The PIN rows' versions and locks (users without a PIN are absent), in one
        statement in the caller's session."""
        statement = _FACTS[session.get_bind().dialect.name]
        rows = await session.execute(statement, {"user_ids": sorted(user_ids)})
        return {user_id: (int(version), locked_until) for user_id, version, locked_until in rows}

    def check_remembered(self, user_id: str, pin: object, facts: PinFacts | None) -> bool:
        """``check`` without I/O, on ``facts`` the caller read: raises as ``check`` does for a
        malformed PIN, no PIN or a lock; True if this node verified ``pin`` for this PIN
        version in the last ten minutes; False if only ``check`` (argon2id) can tell."""
        if not isinstance(pin, str) or len(pin) > 64:
            raise WrongPin("A PIN is 6 digits")
        if facts is None:
            raise PinNotSet()
        version, locked_until = facts
        now = self.clock.now()
        if locked_until is not None and locked_until > now:
            raise self._locked(locked_until, now)
        return self._remembered(user_id, version, pin, now)

    async def _begin_attempt(self, user_id: str) -> tuple[int, int]:
        """Take a slot before argon2id runs: wrong PINs so far plus checks in flight stay
        under ``max_failures`` on any number of nodes, so no more guesses than that are ever
        verified per lock window. Checks in flight that a crashed node never finished are
        forgotten after ``PENDING_STALE``. A correct PIN waits for a free slot (payments
        started together) rather than failing at once. Returns (failures, PIN version)."""
        pin = WalletPin
        for _ in range(ATTEMPT_SLOT_TRIES):
            now = self.clock.now()
            stale = (pin.pending_since.is_(None)) | (pin.pending_since < now - PENDING_STALE)
            lapsed = pin.locked_until.is_not(None) & (pin.locked_until <= now)
            live_pending = case((stale, 0), else_=pin.pending_count)
            free = pin.locked_until.is_(None) & (
                pin.failed_count + live_pending < self.policy.max_failures
            )
            async with self.db.transaction() as tx:
                row = (
                    await tx.session.execute(
                        update(pin)
                        .where(pin.user_id == user_id, free | lapsed)
                        .values(
                            pending_count=case((stale | lapsed, 1), else_=pin.pending_count + 1),
                            pending_since=now,
                            failed_count=case((lapsed, 0), else_=pin.failed_count),
                            locked_until=None,
                        )
                        .returning(pin.failed_count, pin.version)
                    )
                ).one_or_none()
            if row is not None:
                return int(row[0]), int(row[1])
            state = await self.state(user_id)
            if state.locked_until is not None:
                raise self._locked(state.locked_until, now)
            await asyncio.sleep(ATTEMPT_SLOT_WAIT)
        raise PinLocked("Too many PIN checks at once; try again", retry_after=1)

    async def _finish_attempt(
        self, user_id: str, *, correct: bool
    ) -> tuple[int, dt.datetime | None]:
        """Free the slot. A correct PIN clears the failures; a wrong one is counted and, at
        the limit, locks payments. Returns (failures, the lock's end if this attempt started
        it)."""
        pin = WalletPin
        done = case((pin.pending_count > 0, pin.pending_count - 1), else_=0)
        async with self.db.transaction() as tx:
            if correct:
                await tx.session.execute(
                    update(pin)
                    .where(pin.user_id == user_id)
                    .values(
                        pending_count=done,
                        failed_count=case((pin.locked_until.is_(None), 0), else_=pin.failed_count),
                    )
                )
                return 0, None
            until = self.clock.now() + self.policy.lock
            reaches = pin.locked_until.is_(None) & (
                pin.failed_count + 1 >= self.policy.max_failures
            )
            row = (
                await tx.session.execute(
                    update(pin)
                    .where(pin.user_id == user_id)
                    .values(
                        pending_count=done,
                        failed_count=pin.failed_count + 1,
                        locked_until=case((reaches, until), else_=pin.locked_until),
                    )
                    .returning(pin.failed_count, pin.locked_until)
                )
            ).one()
        failures, locked_until = int(row[0]), row[1]
        return failures, locked_until if reaches_now(locked_until, until) else None

    async def _announce_lock(self, user_id: str, locked_until: dt.datetime) -> None:
        async with self.db.transaction() as tx:
            await self.streams.append(
                tx,
                user_id,
                PIN_EVENT,
                {
                    "state": "locked",
                    "locked_until": locked_until.isoformat().replace("+00:00", "Z"),
                },
            )

    def _locked(self, until: dt.datetime, now: dt.datetime) -> PinLocked:
        seconds = max(1, math.ceil((until - now).total_seconds()))
        return PinLocked(retry_after=seconds, locked_until=until.isoformat().replace("+00:00", "Z"))

    def _digest(self, pin: str) -> bytes:
        return hmac.new(self._node_key, pin.encode(), hashlib.sha256).digest()

    def _remembered(self, user_id: str, version: int, pin: str, now: dt.datetime) -> bool:
        known = self._verified.get((user_id, version))
        if known is None or known[1] <= now:
            return False
        return hmac.compare_digest(known[0], self._digest(pin))

    def _remember(self, user_id: str, version: int, pin: str, now: dt.datetime) -> None:
        if len(self._verified) > 100_000:
            self._verified = {k: v for k, v in self._verified.items() if v[1] > now}
        self._verified[(user_id, version)] = (self._digest(pin), now + CACHE_FOR)
