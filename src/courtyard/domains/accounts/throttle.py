"""Failed-login throttling, shared by every node through the database.

Each attempt first records a failure row and commits it, then counts the window: of N
concurrent attempts at most ``limit`` can see a count within the limit, on any number of
nodes. A successful or refused attempt deletes its own row again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.domains.accounts.errors import LoginThrottled
from courtyard.domains.accounts.models import LoginFailure


@dataclass(frozen=True)
class ThrottleLimits:
    window: dt.timedelta
    per_account: int
    per_address: int


def account_key(username: str) -> str:
    return "acct:" + username.lower()[:64]


def address_key(address: str | None) -> str | None:
    if not address:
        return None
    return "addr:" + hashlib.sha256(address.encode()).hexdigest()[:64]


@dataclass
class Attempt:
    """The failure rows one attempt holds until it turns out to be a success."""

    keys: list[str]
    failure_id: str


class LoginThrottle:
    """``namespace`` prefixes every key, so one table serves several sign-in surfaces (member
    logins with ``""``, the operator console with ``"op:"``) without sharing their counts."""

    def __init__(
        self, db: Database, clock: Clock, limits: ThrottleLimits, *, namespace: str = ""
    ) -> None:
        self.db = db
        self.clock = clock
        self.limits = limits
        self.namespace = namespace

    async def begin(self, username: str, address: str | None) -> Attempt:
        """Record a pending failure for this attempt; raise ``LoginThrottled`` over a limit."""
        keys = [self.namespace + account_key(username)]
        limits = [self.limits.per_account]
        addr = address_key(address)
        if addr is not None:
            keys.append(self.namespace + addr)
            limits.append(self.limits.per_address)
        attempt = Attempt(keys=keys, failure_id=new_id())
        now = self.clock.now()
        async with self.db.transaction() as tx:
            await tx.session.execute(
                insert(LoginFailure),
                [
                    {"scope_key": k, "failure_id": attempt.failure_id, "failed_at": now}
                    for k in keys
                ],
            )
        over_limit = False
        async with self.db.read() as session:
            for key, limit in zip(keys, limits, strict=True):
                count = await session.scalar(
                    select(func.count())
                    .select_from(LoginFailure)
                    .where(
                        LoginFailure.scope_key == key,
                        LoginFailure.failed_at > now - self.limits.window,
                    )
                )
                over_limit = over_limit or (count or 0) > limit
        # Only once the read connection is back in the pool: holding it while waiting for a
        # write connection deadlocks a busy pool.
        if over_limit:
            await self.forget(attempt)
            raise LoginThrottled(retry_after=int(self.limits.window.total_seconds()))
        return attempt

    async def forget(self, attempt: Attempt) -> None:
        """Drop the attempt's rows: it succeeded, or it was refused without a guess."""
        async with self.db.transaction() as tx:
            await tx.session.execute(
                delete(LoginFailure).where(
                    LoginFailure.scope_key.in_(attempt.keys),
                    LoginFailure.failure_id == attempt.failure_id,
                )
            )

    async def purge(self) -> int:
        """Delete failures older than the window; returns how many."""
        cutoff = self.clock.now() - self.limits.window
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                delete(LoginFailure).where(LoginFailure.failed_at <= cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)
