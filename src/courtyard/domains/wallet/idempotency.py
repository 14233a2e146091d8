"""Exactly-once money-moving requests: the key's row is written in the same transaction as
the postings, so a retry finds either nothing (the first attempt left no trace) or the first
answer (docs/wallet.md, "Idempotency").

Stored answers are results and the refusals decided under the ledger's locks
(``STORED_REFUSALS``); refusals decided before the transaction (bad input, a wrong PIN)
leave the key unbound, so a corrected retry is a fresh attempt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.errors import CourtyardError
from courtyard.db import Database, Tx
from courtyard.domains.wallet.errors import (
    AccountFrozen,
    DailyLimitExceeded,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidIdempotencyKey,
    RedPacketExists,
    RefundExceedsPayment,
    RefundWindowClosed,
    TransferExists,
)
from courtyard.domains.wallet.flow_models import WalletIdempotency

KEY_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_REFUSALS_KEPT_FOR_THE_KEY: tuple[type[CourtyardError], ...] = (
    InsufficientFunds,
    DailyLimitExceeded,
    AccountFrozen,
    TransferExists,
    RedPacketExists,
    RefundExceedsPayment,
    RefundWindowClosed,
)
STORED_REFUSALS: dict[str, type[CourtyardError]] = {
    cls.code: cls for cls in _REFUSALS_KEPT_FOR_THE_KEY
}


def check_key(key: str | None) -> str:
    if key is None:
        raise IdempotencyKeyRequired()
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidIdempotencyKey()
    return key


def request_hash(operation: str, request: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of what the request asks for (never the PIN)."""
    canonical = orjson.dumps(
        {"operation": operation, "request": request}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class Request:
    user_id: str
    key: str
    operation: str
    hash: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A result body for the caller; ``replayed`` when it is the stored first answer."""

    body: dict[str, Any]
    replayed: bool


Effect = Callable[[Tx], Awaitable[tuple[dict[str, Any], str | None]]]


class Idempotency:
    def __init__(self, db: Database, clock: Clock, keep_days: int) -> None:
        self.db = db
        self.clock = clock
        self.keep = dt.timedelta(days=keep_days)

    async def replay(self, request: Request) -> Answer | None:
        """The stored answer for a key already used (read before the PIN check: replays move
        nothing and cost no argon2id); ``None`` if the key is unbound."""
        async with self.db.read() as session:
            return await _stored(session, request)

    async def run(self, request: Request, effect: Effect) -> Answer:
        """Bind the key and run ``effect(tx)`` -> ``(body, flow_id)`` in one transaction; a
        stored refusal commits with the key and is raised after the commit."""
        refusal: CourtyardError | None = None
        async with self.db.transaction() as tx:
            stored = await self._claim(tx, request)
            if stored is not None:
                return stored
            try:
                body, flow_id = await effect(tx)
            except tuple(STORED_REFUSALS.values()) as exc:
                refusal = exc
                record = {"code": exc.code, "detail": exc.detail, "extra": exc.extra}
                await self._record(tx, request, "refusal", record, None)
            else:
                await self._record(tx, request, "result", body, flow_id)
        if refusal is not None:
            raise refusal
        return Answer(body, replayed=False)

    async def purge(self) -> int:
        """Forget keys older than the retention (30 days by default)."""
        async with self.db.transaction() as tx:
            result = await tx.session.execute(
                delete(WalletIdempotency).where(WalletIdempotency.expires_at <= self.clock.now())
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _claim(self, tx: Tx, request: Request) -> Answer | None:
        now = self.clock.now()
        dialect = tx.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # A twin in flight on another connection holds the unique index entry: this insert
        # waits for its transaction and then sees its committed row (or claims the key).
        claimed = await tx.session.execute(
            insert(WalletIdempotency)
            .values(
                user_id=request.user_id,
                idempotency_key=request.key,
                operation=request.operation,
                request_hash=request.hash,
                created_at=now,
                expires_at=now + self.keep,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
            .returning(WalletIdempotency.user_id)
        )
        if claimed.scalar_one_or_none() is not None:
            return None
        stored = await _stored(tx.session, request)
        if stored is None:
            raise RuntimeError("idempotency key row vanished")
        return stored

    @staticmethod
    async def _record(
        tx: Tx, request: Request, outcome: str, response: dict[str, Any], flow_id: str | None
    ) -> None:
        await tx.session.execute(
            update(WalletIdempotency)
            .where(
                WalletIdempotency.user_id == request.user_id,
                WalletIdempotency.idempotency_key == request.key,
            )
            .values(outcome=outcome, response=response, flow_id=flow_id)
        )


async def _stored(session: AsyncSession, request: Request) -> Answer | None:
    row = (
        await session.execute(
            select(
                WalletIdempotency.operation,
                WalletIdempotency.request_hash,
                WalletIdempotency.outcome,
                WalletIdempotency.response,
                WalletIdempotency.created_at,
            ).where(
                WalletIdempotency.user_id == request.user_id,
                WalletIdempotency.idempotency_key == request.key,
            )
        )
    ).one_or_none()
    return None if row is None else stored_answer(request, StoredKey(*row))


class StoredKey(NamedTuple):
    """A bound key's row as ``stored_answer`` judges it."""

    operation: str
    request_hash: str
    outcome: str | None
    response: dict[str, Any] | None
    created_at: dt.datetime


def stored_answer(request: Request, row: StoredKey) -> Answer:
    """What a request whose key is bound gets: the first answer as a replay, the stored
    refusal raised again, or ``idempotency_key_reused`` if it asks for something else."""
    if row.operation != request.operation or row.request_hash != request.hash:
        raise IdempotencyKeyReused(
            operation=row.operation, created_at=row.created_at.isoformat().replace("+00:00", "Z")
        )
    if row.response is None:
        raise RuntimeError("an idempotency key committed without its answer")
    if row.outcome == "refusal":
        error = STORED_REFUSALS[row.response["code"]]
        raise error(row.response["detail"], replayed=True, **row.response["extra"])
    return Answer(dict(row.response), replayed=True)
