"""The sandbox provider's state: one SQLite file of operations, a callback outbox and defaults.

Times are stored as fixed-width ISO 8601 UTC text (microseconds always present), so that
comparing the strings compares the instants. One connection serves the app; a lock keeps
each transaction whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from courtyard.core.errors import Conflict, NotFound
from courtyard.sandbox.schemas import Behaviour, Defaults, Kind, Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    operation_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('charge', 'payout')),
    amount_minor INTEGER NOT NULL CHECK (typeof(amount_minor) = 'integer' AND amount_minor > 0),
    currency TEXT NOT NULL,
    callback_url TEXT NOT NULL,
    destination TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed', 'cancelled')),
    provider_ref TEXT NOT NULL UNIQUE,
    behaviour TEXT NOT NULL,
    created_at TEXT NOT NULL,
    settle_at TEXT,
    settled_at TEXT,
    failure_code TEXT
);
CREATE INDEX IF NOT EXISTS operations_due ON operations (state, settle_at);
CREATE INDEX IF NOT EXISTS operations_settled ON operations (settled_at);
CREATE TABLE IF NOT EXISTS callbacks (
    operation_id TEXT NOT NULL REFERENCES operations (operation_id),
    event_id TEXT NOT NULL,
    copy_no INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at TEXT,
    abandoned_at TEXT,
    PRIMARY KEY (event_id, copy_no)
);
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks (next_attempt_at)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    defaults TEXT NOT NULL
);
"""
FINAL_STATES: tuple[Status, ...] = ("succeeded", "failed", "cancelled")
SETTLED_ON = (
    "SELECT * FROM operations WHERE settled_at >= ? AND settled_at < ? "
    "ORDER BY settled_at, operation_id"
)
BALANCES = (
    "SELECT currency, SUM(CASE kind WHEN 'charge' THEN amount_minor "
    "ELSE -amount_minor END) AS total FROM operations "
    "WHERE state = 'succeeded' GROUP BY currency ORDER BY currency"
)


class OperationNotFound(NotFound):
    code = "operation_not_found"
    title = "No operation with this id"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "This operation_id was used with different parameters"


def iso(moment: dt.datetime) -> str:
    """Fixed-width ISO 8601 in UTC, so that string order is time order."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@dataclass(frozen=True)
class Operation:
    """One charge or payout, as stored."""

    operation_id: str
    kind: Kind
    amount_minor: int
    currency: str
    callback_url: str
    destination: str | None
    state: Status
    provider_ref: str
    behaviour: Behaviour
    created_at: str
    settle_at: str | None
    settled_at: str | None
    failure_code: str | None


@dataclass(frozen=True)
class OutboxCallback:
    """One pending delivery of a callback event (duplicates are further copies)."""

    operation_id: str
    event_id: str
    copy_no: int
    body: bytes
    created_at: str
    attempts: int
    callback_url: str
    bad_signature: bool


def _operation(row: aiosqlite.Row) -> Operation:
    return Operation(
        operation_id=row["operation_id"],
        kind=row["kind"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        callback_url=row["callback_url"],
        destination=row["destination"],
        state=row["state"],
        provider_ref=row["provider_ref"],
        behaviour=Behaviour.model_validate_json(row["behaviour"]),
        created_at=row["created_at"],
        settle_at=row["settle_at"],
        settled_at=row["settled_at"],
        failure_code=row["failure_code"],
    )


def _day_bounds(day: dt.date) -> tuple[str, str]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return iso(start), iso(start + dt.timedelta(days=1))


class SandboxStore:
    """Repository over the sandbox's own SQLite file."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SandboxStore:
        """Open (creating if needed) the database at ``path`` with WAL and full sync."""
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.executescript(SCHEMA)
        return cls(conn)

    async def close(self) -> None:
        await self._conn.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise

    async def _all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._conn.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    # --- defaults -------------------------------------------------------------------------

    async def get_defaults(self) -> Defaults:
        rows = await self._all("SELECT defaults FROM control WHERE id = 1")
        return Defaults.model_validate_json(rows[0]["defaults"]) if rows else Defaults()

    async def set_defaults(self, defaults: Defaults) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO control (id, defaults) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET defaults = excluded.defaults",
                (defaults.model_dump_json(),),
            )

    # --- operations -----------------------------------------------------------------------

    async def get_operation(self, operation_id: str) -> Operation | None:
        rows = await self._all("SELECT * FROM operations WHERE operation_id = ?", [operation_id])
        return _operation(rows[0]) if rows else None

    async def access_operation(self, operation_id: str) -> Operation:
        """The operation, or raise ``OperationNotFound``."""
        operation = await self.get_operation(operation_id)
        if operation is None:
            raise OperationNotFound(operation_id=operation_id)
        return operation

    async def insert_operation(self, op: Operation) -> Operation:
        """Insert ``op`` unless its id exists; return the stored row either way."""
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO operations (operation_id, kind, amount_minor, currency, "
                "callback_url, destination, state, provider_ref, behaviour, created_at, "
                "settle_at, settled_at, failure_code) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (operation_id) DO NOTHING",
                (
                    op.operation_id,
                    op.kind,
                    op.amount_minor,
                    op.currency,
                    op.callback_url,
                    op.destination,
                    op.state,
                    op.provider_ref,
                    op.behaviour.model_dump_json(),
                    op.created_at,
                    op.settle_at,
                    op.settled_at,
                    op.failure_code,
                ),
            )
        return await self.access_operation(op.operation_id)

    async def due_settlements(self, now: dt.datetime, limit: int = 100) -> list[Operation]:
        """Pending operations whose settlement time has come."""
        rows = await self._all(
            "SELECT * FROM operations WHERE state = 'pending' AND settle_at IS NOT NULL "
            "AND settle_at <= ? ORDER BY settle_at LIMIT ?",
            [iso(now), limit],
        )
        return [_operation(row) for row in rows]

    async def finish(
        self,
        operation_id: str,
        state: Status,
        now: dt.datetime,
        *,
        failure_code: str | None = None,
        callbacks: Iterable[tuple[str, int, bytes]] = (),
    ) -> bool:
        """Move a pending operation to ``state`` and queue ``(event_id, copy_no, body)``
        callbacks, in one transaction; False (and nothing written) if it was not pending."""
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE operations SET state = ?, settled_at = ?, failure_code = ? "
                "WHERE operation_id = ? AND state = 'pending'",
                (state, iso(now), failure_code, operation_id),
            )
            if cursor.rowcount != 1:
                return False
            await conn.executemany(
                "INSERT INTO callbacks (operation_id, event_id, copy_no, body, created_at, "
                "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (operation_id, event_id, copy_no, body, iso(now), iso(now))
                    for event_id, copy_no, body in callbacks
                ],
            )
        return True

    async def settled_on(self, day: dt.date) -> list[Operation]:
        """Operations that reached a final state during UTC ``day``."""
        rows = await self._all(SETTLED_ON, _day_bounds(day))
        return [_operation(row) for row in rows]

    async def balances(self) -> dict[str, int]:
        """Per currency: succeeded charges minus succeeded payouts."""
        rows = await self._all(BALANCES)
        return {row["currency"]: int(row["total"]) for row in rows}

    async def report(self, day: dt.date) -> tuple[list[Operation], dict[str, int]]:
        """``settled_on(day)`` and ``balances()`` read in one transaction, so they agree."""
        async with self._transaction() as conn:
            async with conn.execute(SETTLED_ON, _day_bounds(day)) as cursor:
                settled = [_operation(row) for row in await cursor.fetchall()]
            async with conn.execute(BALANCES) as cursor:
                totals = {row["currency"]: int(row["total"]) for row in await cursor.fetchall()}
        return settled, totals

    # --- callback outbox ------------------------------------------------------------------

    async def due_callbacks(self, now: dt.datetime, limit: int = 100) -> list[OutboxCallback]:
        rows = await self._all(
            "SELECT c.operation_id, c.event_id, c.copy_no, c.body, c.created_at, c.attempts, "
            "o.callback_url, o.behaviour FROM callbacks c "
            "JOIN operations o ON o.operation_id = c.operation_id "
            "WHERE c.delivered_at IS NULL AND c.abandoned_at IS NULL "
            "AND c.next_attempt_at <= ? ORDER BY c.next_attempt_at, c.event_id, c.copy_no "
            "LIMIT ?",
            [iso(now), limit],
        )
        return [
            OutboxCallback(
                operation_id=row["operation_id"],
                event_id=row["event_id"],
                copy_no=row["copy_no"],
                body=bytes(row["body"]),
                created_at=row["created_at"],
                attempts=row["attempts"],
                callback_url=row["callback_url"],
                bad_signature=json.loads(row["behaviour"]).get("bad_signature", False),
            )
            for row in rows
        ]

    async def record_attempt(
        self,
        callback: OutboxCallback,
        now: dt.datetime,
        *,
        delivered: bool,
        error: str | None = None,
        next_attempt_at: dt.datetime | None = None,
    ) -> None:
        """Record one delivery attempt: delivered, retried at ``next_attempt_at``, or (no
        next attempt) abandoned."""
        delivered_at = iso(now) if delivered else None
        abandoned_at = iso(now) if not delivered and next_attempt_at is None else None
        async with self._transaction() as conn:
            await conn.execute(
                "UPDATE callbacks SET attempts = attempts + 1, last_error = ?, "
                "delivered_at = ?, abandoned_at = ?, "
                "next_attempt_at = COALESCE(?, next_attempt_at) "
                "WHERE event_id = ? AND copy_no = ?",
                (
                    error,
                    delivered_at,
                    abandoned_at,
                    iso(next_attempt_at) if next_attempt_at else None,
                    callback.event_id,
                    callback.copy_no,
                ),
            )

    async def undelivered_count(self) -> int:
        """Callbacks still waiting for a 2xx (neither delivered nor abandoned)."""
        rows = await self._all(
            "SELECT COUNT(*) AS n FROM callbacks "
            "WHERE delivered_at IS NULL AND abandoned_at IS NULL"
        )
        return int(rows[0]["n"])
