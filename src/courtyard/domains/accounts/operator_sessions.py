"""Operator console sessions: sign-in, the session a cookie names, sign-out.

A sign-in is throttled like a member login (its own ``op:`` keys) and always pays for one
argon2id verification, so an unknown username costs what a wrong password costs. The server
keeps only the SHA-256 of a session's token; a session ends after ``IDLE_TIMEOUT`` without a
request, ``ABSOLUTE_TIMEOUT`` after sign-in, or at sign-out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.accounts.errors import InvalidCredentials, InvalidUsername, RoleRequired
from courtyard.domains.accounts.models import Operator, OperatorSession
from courtyard.domains.accounts.operators import OPERATOR_ROLES, record_operator_action
from courtyard.domains.accounts.passwords import Hasher
from courtyard.domains.accounts.throttle import LoginThrottle
from courtyard.domains.accounts.validation import check_username

IDLE_TIMEOUT = dt.timedelta(minutes=30)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=12)
# A session's last-seen time is written at most this often, so browsing is not a write per
# page; the idle timeout is therefore measured from a moment up to a minute before the
# last request (a little shorter, never longer).
TOUCH_EVERY = dt.timedelta(seconds=60)
MAX_TOKEN_CHARS = 128


@dataclass(frozen=True, slots=True)
class SignedInOperator:
    """The operator a session belongs to, with the roles they hold now."""

    operator_id: str
    username: str
    roles: frozenset[str]


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just made: the token goes into the cookie and nowhere else."""

    token: str
    operator: SignedInOperator


def hash_session_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class OperatorSessions:
    """The console's sign-in and sessions; shared by every node through the database."""

    def __init__(self, db: Database, clock: Clock, hasher: Hasher, throttle: LoginThrottle) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher
        self.throttle = throttle

    async def do_sign_in(self, username: str, password: str, address: str | None) -> NewSession:
        """Check the password and open a session; wrong password and unknown username raise
        the same ``InvalidCredentials`` after the same work."""
        attempt = await self.throttle.begin(username, address)
        operator = await self._by_username(username)
        verified = await self.hasher.verify(operator.password_hash if operator else None, password)
        if operator is None or not verified:
            raise InvalidCredentials()
        await self.throttle.forget(attempt)
        token = secrets.token_urlsafe(32)
        now = self.clock.now()
        async with self.db.transaction() as tx:
            await tx.session.execute(delete(OperatorSession).where(_expired(now)))
            tx.session.add(
                OperatorSession(
                    token_hash=hash_session_token(token),
                    operator_id=operator.operator_id,
                    created_at=now,
                    last_seen_at=now,
                )
            )
            await record_operator_action(
                tx, self.clock, operator.operator_id, "console.sign_in",
                f"operator:{operator.operator_id}",
            )  # fmt: skip
        return NewSession(token, _signed_in(operator))

    async def access_operator(
        self, username: str, password: str, roles: tuple[str, ...], address: str | None = None
    ) -> SignedInOperator:
        """Check an operator's password (throttled like console sign-in, under the same
        ``op:`` keys) and that they hold one of ``roles`` (none: any operator); used by
        ``courtyard admin …`` commands, which have no session. ``InvalidCredentials`` for a
        wrong password or unknown name, ``RoleRequired`` when every role asked for is missing."""
        if unknown := set(roles) - set(OPERATOR_ROLES):
            raise ValueError(f"unknown operator roles: {sorted(unknown)}")  # a caller's typo
        attempt = await self.throttle.begin(username, address)
        operator = await self._by_username(username)
        verified = await self.hasher.verify(operator.password_hash if operator else None, password)
        if operator is None or not verified:
            raise InvalidCredentials()
        await self.throttle.forget(attempt)
        signed_in = _signed_in(operator)
        if roles and signed_in.roles.isdisjoint(roles):
            needed = f"the role {roles[0]}" if len(roles) == 1 else f"one of {', '.join(roles)}"
            raise RoleRequired(
                f"this needs {needed}; {signed_in.username} holds "
                f"{', '.join(sorted(signed_in.roles))}",
                roles=list(roles),
            )
        return signed_in

    async def get_signed_in(self, token: str | None) -> SignedInOperator | None:
        """The operator whose live session ``token`` names, or None; an expired session is
        deleted, a live one has its last-seen time moved on."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        digest = hash_session_token(token)
        now = self.clock.now()
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(OperatorSession, Operator)
                    .join(Operator, Operator.operator_id == OperatorSession.operator_id)
                    .where(OperatorSession.token_hash == digest)
                )
            ).one_or_none()
        if row is None:
            return None
        held, operator = row
        if _is_expired(held, now):
            async with self.db.transaction() as tx:
                await tx.session.execute(
                    delete(OperatorSession).where(OperatorSession.token_hash == digest)
                )
            return None
        if now - held.last_seen_at >= TOUCH_EVERY:
            async with self.db.transaction() as tx:
                await tx.session.execute(
                    update(OperatorSession)
                    .where(OperatorSession.token_hash == digest)
                    .values(last_seen_at=now)
                )
        return _signed_in(operator)

    async def do_sign_out(self, token: str | None) -> None:
        """End the session ``token`` names (if any), and record that the operator left."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return
        async with self.db.transaction() as tx:
            ended = await tx.session.scalar(
                delete(OperatorSession)
                .where(OperatorSession.token_hash == hash_session_token(token))
                .returning(OperatorSession.operator_id)
            )
            if ended is not None:
                await record_operator_action(
                    tx, self.clock, ended, "console.sign_out", f"operator:{ended}"
                )

    async def purge(self) -> int:
        """Delete sessions that have expired; returns how many (a periodic job)."""
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                delete(OperatorSession).where(_expired(self.clock.now()))
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def _by_username(self, username: str) -> Operator | None:
        try:
            canonical = check_username(username)
        except InvalidUsername:
            return None
        async with self.db.read() as session:
            return await _operator(session, canonical)


async def _operator(session: AsyncSession, username: str) -> Operator | None:
    operator: Operator | None = await session.scalar(
        select(Operator).where(Operator.username == username)
    )
    return operator


def _expired(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        OperatorSession.last_seen_at <= now - IDLE_TIMEOUT,
        OperatorSession.created_at <= now - ABSOLUTE_TIMEOUT,
    )


def _is_expired(held: OperatorSession, now: dt.datetime) -> bool:
    return now - held.last_seen_at >= IDLE_TIMEOUT or now - held.created_at >= ABSOLUTE_TIMEOUT


def _signed_in(operator: Operator) -> SignedInOperator:
    return SignedInOperator(operator.operator_id, operator.username, frozenset(operator.roles))
