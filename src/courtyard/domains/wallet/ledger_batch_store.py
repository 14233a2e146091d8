"""The ledger's statements of a transfer batch (``transfer_batch.TransferBatch``), for each
backend, as messaging's ``batch_store`` has them for send batches.

``CoreLedgerStore`` runs them as SQLAlchemy Core statements built once (PostgreSQL; the
column types do the conversions). ``SqliteLedgerStore`` runs the same SQL on the ``sqlite3``
connection in the writer's thread (``Database.write_sync``) and writes values the way the
column types would: ``UTCDateTime`` as SQLite's ``DATETIME`` text in UTC, ``Date`` as ISO
text, JSON as text. ``tests/integration/test_transfer_batching.py`` runs both against the
same database.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from courtyard.db import json_dumps
from courtyard.domains.jobs import DUE_JOBS
from courtyard.domains.messaging import sqlite_time
from courtyard.domains.wallet.flow_models import Transfer, WalletIdempotency, WalletUserFlow
from courtyard.domains.wallet.idempotency import StoredKey
from courtyard.domains.wallet.ledger import LockedAccount
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting

KeyId = tuple[str, str]  # (user_id, idempotency_key)


@dataclass(frozen=True, slots=True)
class LedgerRows:
    """What a batch writes to the ledger and its flows, as rows of column values."""

    entries: list[dict[str, Any]]
    postings: list[dict[str, Any]]
    balances: list[dict[str, Any]]  # one per account: its new balance, day total, last entry
    transfers: list[dict[str, Any]]
    flows: list[dict[str, Any]]
    jobs: list[dict[str, Any]]


class LedgerBatchStore(Protocol):
    def claim_keys(self, rows: list[dict[str, Any]]) -> set[KeyId]:
        """Insert the key rows (given sorted by user and key: the lock order), skipping keys
        already bound; return the keys this statement inserted."""

    def stored_keys(self, keys: Sequence[KeyId]) -> dict[KeyId, StoredKey]: ...

    def lock(
        self, transfer_ids: Sequence[str], account_ids: Sequence[str]
    ) -> tuple[set[str], dict[str, LockedAccount]]:
        """Which of ``transfer_ids`` exist, and the accounts' rows, locked in id order."""

    def write(self, rows: LedgerRows) -> None:
        """Insert the entries, postings, transfers, user flows and due jobs (a job that
        exists already stays as it is) and set the accounts' balances."""

    def finish(
        self, answers: list[dict[str, Any]], entry_ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        """Store the keys' answers; return (entry, currency) of written entries that do not
        sum to zero or have fewer than two legs."""


class _StepByStep(ABC):
    """``lock``, ``write`` and ``finish`` as one statement per table (SQLite runs them in its
    own thread, where a statement costs microseconds, not a round trip)."""

    def lock(
        self, transfer_ids: Sequence[str], account_ids: Sequence[str]
    ) -> tuple[set[str], dict[str, LockedAccount]]:
        return self.existing_transfers(transfer_ids), self.lock_accounts(account_ids)

    def write(self, rows: LedgerRows) -> None:
        self.insert(ENTRIES, rows.entries)
        self.insert(POSTINGS, rows.postings)
        self.set_balances(rows.balances)
        self.insert(TRANSFERS, rows.transfers)
        self.insert(USER_FLOWS, rows.flows)
        self.insert_jobs(rows.jobs)

    def finish(
        self, answers: list[dict[str, Any]], entry_ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        self.set_answers(answers)
        return self.unbalanced(entry_ids) if entry_ids else []

    @abstractmethod
    def existing_transfers(self, ids: Sequence[str]) -> set[str]: ...

    @abstractmethod
    def lock_accounts(self, ids: Sequence[str]) -> dict[str, LockedAccount]: ...

    @abstractmethod
    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def insert_jobs(self, rows: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def set_balances(self, rows: list[dict[str, Any]]) -> None: ...

    @abstractmethod
    def unbalanced(self, entry_ids: Sequence[str]) -> list[tuple[str, str]]: ...

    @abstractmethod
    def set_answers(self, rows: list[dict[str, Any]]) -> None: ...


TRANSFERS = cast(Table, Transfer.__table__)
ENTRIES = cast(Table, LedgerEntry.__table__)
POSTINGS = cast(Table, LedgerPosting.__table__)
USER_FLOWS = cast(Table, WalletUserFlow.__table__)
KEYS = cast(Table, WalletIdempotency.__table__)
_keys = KEYS
_accounts = cast(Table, LedgerAccount.__table__)

# Built once per dialect: building a statement costs more than running it.
_CLAIM = {
    name: build(_keys)
    .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
    .returning(_keys.c.user_id, _keys.c.idempotency_key)
    for name, build in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_SCHEDULE = {
    name: build(DUE_JOBS).on_conflict_do_nothing()
    for name, build in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}
_STORED = select(
    _keys.c.user_id, _keys.c.idempotency_key, _keys.c.operation, _keys.c.request_hash,
    _keys.c.outcome, _keys.c.response, _keys.c.created_at,
).where(
    tuple_(_keys.c.user_id, _keys.c.idempotency_key).in_(bindparam("keys", expanding=True))
)  # fmt: skip
_EXISTING = select(TRANSFERS.c.transfer_id).where(
    TRANSFERS.c.transfer_id.in_(bindparam("ids", expanding=True))
)
_LOCK = (
    select(
        _accounts.c.account_id, _accounts.c.balance_minor, _accounts.c.allow_negative,
        _accounts.c.status, _accounts.c.limit_day, _accounts.c.limit_used_minor,
    )
    .where(_accounts.c.account_id.in_(bindparam("ids", expanding=True)))
    .order_by(_accounts.c.account_id)
    .with_for_update()
)  # fmt: skip
_SET_BALANCE = (
    update(_accounts)
    .where(_accounts.c.account_id == bindparam("b_account_id"))
    .values({
        column: bindparam(f"b_{column}", type_=_accounts.c[column].type)
        for column in ("balance_minor", "last_entry_id", "limit_day", "limit_used_minor",
                       "updated_at")
    })
)  # fmt: skip
_UNBALANCED = (
    select(POSTINGS.c.entry_id, POSTINGS.c.currency)
    .where(POSTINGS.c.entry_id.in_(bindparam("ids", expanding=True)))
    .group_by(POSTINGS.c.entry_id, POSTINGS.c.currency)
    .having((func.sum(POSTINGS.c.amount_minor) != 0) | (func.count() < 2))
)
_SET_ANSWER = (
    update(_keys)
    .where(
        _keys.c.user_id == bindparam("b_user_id"),
        _keys.c.idempotency_key == bindparam("b_idempotency_key"),
    )
    .values({
        column: bindparam(f"b_{column}", type_=_keys.c[column].type)
        for column in ("outcome", "response", "flow_id")
    })
)  # fmt: skip


def _prefixed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for an executemany ``UPDATE`` (its parameters may not share column names)."""
    return [{f"b_{name}": value for name, value in row.items()} for row in rows]


class CoreLedgerStore(_StepByStep):
    """SQLAlchemy Core on any connection, with the column types doing the conversions."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    def claim_keys(self, rows: list[dict[str, Any]]) -> set[KeyId]:
        result = self.conn.execute(_CLAIM[self.dialect], rows)
        return {(row[0], row[1]) for row in result}

    def stored_keys(self, keys: Sequence[KeyId]) -> dict[KeyId, StoredKey]:
        rows = self.conn.execute(_STORED, {"keys": list(keys)})
        return {(r[0], r[1]): StoredKey(r[2], r[3], r[4], r[5], r[6]) for r in rows}

    def existing_transfers(self, ids: Sequence[str]) -> set[str]:
        return set(self.conn.scalars(_EXISTING, {"ids": list(ids)}))

    def lock_accounts(self, ids: Sequence[str]) -> dict[str, LockedAccount]:
        rows = self.conn.execute(_LOCK, {"ids": list(ids)})
        return {r[0]: LockedAccount(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(table.insert(), rows)

    def insert_jobs(self, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(_SCHEDULE[self.dialect], rows)

    def set_balances(self, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(_SET_BALANCE, _prefixed(rows))

    def unbalanced(self, entry_ids: Sequence[str]) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.conn.execute(_UNBALANCED, {"ids": list(entry_ids)})]

    def set_answers(self, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(_SET_ANSWER, _prefixed(rows))


class SqliteLedgerStore(_StepByStep):
    """The same statements as plain SQL on the ``sqlite3`` connection (no ``FOR UPDATE``:
    the writer's ``BEGIN IMMEDIATE`` already excludes every other writer)."""

    def __init__(self, dbapi_conn: sqlite3.Connection) -> None:
        self.db = dbapi_conn

    def claim_keys(self, rows: list[dict[str, Any]]) -> set[KeyId]:
        values = [_sqlite_value(row[c]) for row in rows for c in _CLAIM_COLUMNS]
        sql = _with_marks(_SQLITE_CLAIM, len(rows), "(?,?,?,?,?,?)")
        return {(r[0], r[1]) for r in self.db.execute(sql, values).fetchall()}

    def stored_keys(self, keys: Sequence[KeyId]) -> dict[KeyId, StoredKey]:
        sql = _with_marks(_SQLITE_STORED, len(keys), "(?,?)")
        rows = self.db.execute(sql, [part for key in keys for part in key]).fetchall()
        return {
            (r[0], r[1]): StoredKey(
                r[2], r[3], r[4], None if r[5] is None else orjson.loads(r[5]), _read_time(r[6])
            )
            for r in rows
        }

    def existing_transfers(self, ids: Sequence[str]) -> set[str]:
        rows = self.db.execute(_with_marks(_SQLITE_EXISTING, len(ids)), list(ids)).fetchall()
        return {r[0] for r in rows}

    def lock_accounts(self, ids: Sequence[str]) -> dict[str, LockedAccount]:
        rows = self.db.execute(_with_marks(_SQLITE_ACCOUNTS, len(ids)), list(ids)).fetchall()
        return {
            r[0]: LockedAccount(
                r[1], bool(r[2]), r[3], None if r[4] is None else dt.date.fromisoformat(r[4]), r[5]
            )
            for r in rows
        }

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        self._insert(table.name, rows, "")

    def insert_jobs(self, rows: list[dict[str, Any]]) -> None:
        self._insert(DUE_JOBS.name, rows, " ON CONFLICT DO NOTHING")

    def set_balances(self, rows: list[dict[str, Any]]) -> None:
        cursor = self.db.executemany(
            _SQLITE_SET_BALANCE,
            [(*(_sqlite_value(row[c]) for c in _BALANCE_COLUMNS), row["account_id"])
             for row in rows],
        )  # fmt: skip
        if cursor.rowcount != len(rows):
            raise RuntimeError("a ledger account vanished under its lock")

    def unbalanced(self, entry_ids: Sequence[str]) -> list[tuple[str, str]]:
        sql = _with_marks(_SQLITE_UNBALANCED, len(entry_ids))
        return [(r[0], r[1]) for r in self.db.execute(sql, list(entry_ids)).fetchall()]

    def set_answers(self, rows: list[dict[str, Any]]) -> None:
        self.db.executemany(
            _SQLITE_SET_ANSWER,
            [(r["outcome"], json_dumps(r["response"]), r["flow_id"], r["user_id"],
              r["idempotency_key"]) for r in rows],
        )  # fmt: skip

    def _insert(self, table: str, rows: list[dict[str, Any]], tail: str) -> None:
        columns = list(rows[0])
        sql = (
            _SQLITE_INSERT.replace("<table>", table)
            .replace("<columns>", ", ".join(columns))
            .replace("<marks>", ",".join(["?"] * len(columns)))
        )
        self.db.executemany(
            sql + tail, [tuple(_sqlite_value(row[c]) for c in columns) for row in rows]
        )


_CLAIM_COLUMNS = (
    "user_id", "idempotency_key", "operation", "request_hash", "created_at", "expires_at"
)  # fmt: skip
_BALANCE_COLUMNS = ("balance_minor", "last_entry_id", "limit_day", "limit_used_minor", "updated_at")
_SQLITE_CLAIM = (
    "INSERT INTO wallet_idempotency (user_id, idempotency_key, operation, request_hash, "
    "created_at, expires_at) VALUES <marks> ON CONFLICT (user_id, idempotency_key) DO NOTHING "
    "RETURNING user_id, idempotency_key"
)
_SQLITE_STORED = (
    "SELECT user_id, idempotency_key, operation, request_hash, outcome, response, created_at "
    "FROM wallet_idempotency WHERE (user_id, idempotency_key) IN (VALUES <marks>)"
)
_SQLITE_EXISTING = "SELECT transfer_id FROM transfers WHERE transfer_id IN (<marks>)"
_SQLITE_ACCOUNTS = (
    "SELECT account_id, balance_minor, allow_negative, status, limit_day, limit_used_minor "
    "FROM ledger_accounts WHERE account_id IN (<marks>)"
)
_SQLITE_SET_BALANCE = (
    "UPDATE ledger_accounts SET balance_minor = ?, last_entry_id = ?, limit_day = ?, "
    "limit_used_minor = ?, updated_at = ? WHERE account_id = ?"
)
_SQLITE_UNBALANCED = (
    "SELECT entry_id, currency FROM ledger_postings WHERE entry_id IN (<marks>) "
    "GROUP BY entry_id, currency HAVING SUM(amount_minor) <> 0 OR COUNT(*) < 2"
)
_SQLITE_SET_ANSWER = (
    "UPDATE wallet_idempotency SET outcome = ?, response = ?, flow_id = ? "
    "WHERE user_id = ? AND idempotency_key = ?"
)
# Table and column names come from the models, never from input; values are always bound.
_SQLITE_INSERT = "INSERT INTO <table> (<columns>) VALUES (<marks>)"


def _sqlite_value(value: Any) -> Any:
    """A value as its column type stores it on SQLite."""
    if isinstance(value, dt.datetime):
        return sqlite_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return json_dumps(value)
    return value


def _read_time(text: str) -> dt.datetime:
    """What ``UTCDateTime`` reads back from SQLite's text."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _with_marks(sql: str, count: int, mark: str = "?") -> str:
    """``sql`` with ``count`` placeholders for its ``IN`` list (values are always bound)."""
    return sql.replace("<marks>", ",".join([mark] * count))
