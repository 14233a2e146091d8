"""The ledger's statements of a transfer batch for PostgreSQL, each one text whatever the
batch's size (``db/pg_bulk.py``): rows as arrays through ``unnest``, ids as ``= ANY``, so
asyncpg prepares each once per connection and each is one round trip. The same statements
as ``CoreLedgerStore``; ``tests/integration/test_transfer_batching.py`` runs both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from courtyard.db import json_dumps
from courtyard.db.pg_bulk import columns_of, insert_sql, with_parts
from courtyard.domains.jobs import DUE_JOBS
from courtyard.domains.wallet.idempotency import StoredKey
from courtyard.domains.wallet.ledger import LockedAccount
from courtyard.domains.wallet.ledger_batch_store import (
    ENTRIES,
    KEYS,
    POSTINGS,
    TRANSFERS,
    USER_FLOWS,
    KeyId,
    LedgerRows,
)

_CLAIM_COLUMNS = (
    "user_id", "idempotency_key", "operation", "request_hash", "created_at", "expires_at"
)  # fmt: skip
_CLAIM = insert_sql(
    KEYS,
    _CLAIM_COLUMNS,
    " ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING user_id, idempotency_key",
)
_STORED = (
    "SELECT i.user_id, i.idempotency_key, i.operation, i.request_hash, i.outcome, i.response, "
    "i.created_at FROM wallet_idempotency AS i JOIN unnest($1::text[], $2::text[]) AS k(u, k) "
    "ON i.user_id = k.u AND i.idempotency_key = k.k"
)
# The accounts locked in id order, and which transfer ids exist (a transfer committed while
# the locks were awaited is not seen here: its id then fails the insert, and the batch is
# retried transfer by transfer).
_LOCK = (
    "WITH locked AS (SELECT account_id, balance_minor, allow_negative, status, limit_day, "
    "limit_used_minor FROM ledger_accounts WHERE account_id = ANY($1::text[]) "
    "ORDER BY account_id FOR UPDATE) "
    "SELECT account_id, balance_minor, allow_negative, status, limit_day, limit_used_minor "
    "FROM locked UNION ALL SELECT transfer_id, NULL, NULL, NULL, NULL, NULL FROM transfers "
    "WHERE transfer_id = ANY($2::text[])"
)
_ENTRY_COLUMNS = tuple(c.name for c in ENTRIES.columns)
_POSTING_COLUMNS = tuple(c.name for c in POSTINGS.columns)
_TRANSFER_COLUMNS = tuple(c.name for c in TRANSFERS.columns)
_FLOW_COLUMNS = tuple(c.name for c in USER_FLOWS.columns)
_JOB_COLUMNS = ("bucket", "job_id", "kind", "ref_id", "due_at", "state", "attempts", "created_at")
_BALANCE_COLUMNS = (
    "account_id", "balance_minor", "last_entry_id", "limit_day", "limit_used_minor", "updated_at"
)  # fmt: skip


_BALANCES = (
    "UPDATE ledger_accounts AS a SET balance_minor = u.balance, last_entry_id = u.entry, "
    "limit_day = u.day, limit_used_minor = u.used, updated_at = u.at FROM unnest(<0>::text[], "
    "<1>::bigint[], <2>::text[], <3>::date[], <4>::bigint[], <5>::timestamptz[]) "
    "AS u(id, balance, entry, day, used, at) WHERE a.account_id = u.id RETURNING 1"
)


def _write_sql() -> str:
    """Everything a batch writes to the ledger and its flows, in one statement (data-changing
    ``WITH`` parts all run); it answers how many account rows it updated."""
    parts, first = [], 1
    for name, table, columns, tail in (
        ("e", ENTRIES, _ENTRY_COLUMNS, ""),
        ("p", POSTINGS, _POSTING_COLUMNS, ""),
        ("t", TRANSFERS, _TRANSFER_COLUMNS, ""),
        ("f", USER_FLOWS, _FLOW_COLUMNS, ""),
        ("j", DUE_JOBS, _JOB_COLUMNS, " ON CONFLICT DO NOTHING"),
    ):
        parts.append((name, insert_sql(table, columns, tail, first)))
        first += len(columns)
    balances = _BALANCES
    for i in range(len(_BALANCE_COLUMNS)):
        balances = balances.replace(f"<{i}>", f"${first + i}")
    parts.append(("b", balances))
    return with_parts(parts, "SELECT count(*) FROM b")


_WRITE = _write_sql()
_ANSWER_COLUMNS = ("user_id", "idempotency_key", "outcome", "response", "flow_id")
_SET_ANSWERS = (
    "UPDATE wallet_idempotency AS i SET outcome = u.outcome, response = u.response::jsonb, "
    "flow_id = u.flow FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
    "AS u(uid, k, outcome, response, flow) WHERE i.user_id = u.uid AND i.idempotency_key = u.k"
)
# The keys' answers, then the check that every entry written balances (a later statement of
# the transaction sees the postings the earlier ones inserted).
_FINISH = with_parts(
    [("answered", _SET_ANSWERS)],
    "SELECT entry_id, currency FROM ledger_postings WHERE entry_id = ANY($6::text[]) "
    "GROUP BY entry_id, currency HAVING SUM(amount_minor) <> 0 OR COUNT(*) < 2",
)


class PgLedgerStore:
    """The batch's ledger statements as fixed PostgreSQL text on the connection: five round
    trips (keys, their stored answers when some were bound, locks, writes, answers)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim_keys(self, rows: list[dict[str, Any]]) -> set[KeyId]:
        result = self.conn.exec_driver_sql(_CLAIM, columns_of(rows, _CLAIM_COLUMNS))
        return {(row[0], row[1]) for row in result}

    def stored_keys(self, keys: Sequence[KeyId]) -> dict[KeyId, StoredKey]:
        users, names = [k[0] for k in keys], [k[1] for k in keys]
        rows = self.conn.exec_driver_sql(_STORED, (users, names))
        return {(r[0], r[1]): StoredKey(r[2], r[3], r[4], r[5], r[6]) for r in rows}

    def lock(
        self, transfer_ids: Sequence[str], account_ids: Sequence[str]
    ) -> tuple[set[str], dict[str, LockedAccount]]:
        rows = self.conn.exec_driver_sql(_LOCK, (list(account_ids), list(transfer_ids)))
        taken: set[str] = set()
        locked: dict[str, LockedAccount] = {}
        for r in rows:
            if r[1] is None:  # a transfer id (an account always has a cached balance here)
                taken.add(r[0])
            else:
                locked[r[0]] = LockedAccount(r[1], r[2], r[3], r[4], r[5])
        return taken, locked

    def write(self, rows: LedgerRows) -> None:
        params = (
            *columns_of(rows.entries, _ENTRY_COLUMNS),
            *columns_of(rows.postings, _POSTING_COLUMNS),
            *columns_of(rows.transfers, _TRANSFER_COLUMNS),
            *columns_of(rows.flows, _FLOW_COLUMNS),
            *columns_of(rows.jobs, _JOB_COLUMNS),
            *columns_of(rows.balances, _BALANCE_COLUMNS),
        )
        updated = self.conn.exec_driver_sql(_WRITE, params).scalar_one()
        if updated != len(rows.balances):
            raise RuntimeError("a ledger account vanished under its lock")

    def finish(
        self, answers: list[dict[str, Any]], entry_ids: Sequence[str]
    ) -> list[tuple[str, str]]:
        texts = [{**row, "response": json_dumps(row["response"])} for row in answers]
        params = (*columns_of(texts, _ANSWER_COLUMNS), list(entry_ids))
        return [(r[0], r[1]) for r in self.conn.exec_driver_sql(_FINISH, params)]
