"""The nine statements of a send batch (``sending.BatchWrite``), for each backend.

``CoreBatchStore`` runs them as SQLAlchemy Core statements on any connection;
``PgBatchStore`` (batch_store_pg.py) as PostgreSQL text that does not change with the batch's
size.
``SqliteBatchStore`` runs the same SQL directly on the ``sqlite3`` connection inside the
writer's thread (``Database.write_sync``): on SQLite, SQLAlchemy's per-statement execution
machinery costs several times what SQLite itself spends, and a batch's statements are few
and fixed, so the hot path writes its values the way the column types would
(``UTCDateTime`` as SQLite's ``DATETIME`` text in UTC, ``JSONObject`` as JSON text) and
serialises each event's content once for all its stream copies.
``tests/integration/test_send_batching.py`` runs both stores against the same database.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Table, bindparam, select, tuple_, update

from courtyard.db import json_dumps
from courtyard.domains.messaging.batch_store_pg import PgBatchStore
from courtyard.domains.messaging.models import Conversation, Member, MessageTxn, TimelineEvent
from courtyard.streams.events import StreamEvent, StreamHead

TxnKey = tuple[str, str, str]  # conversation id, sending device id, txn id
Replay = tuple[str, str, str, int, str]  # the txn key, its seq and event id
# user id, position, event id, type, content (shared by an event's copies), time
StreamRow = tuple[str, int, str, str, dict[str, Any], dt.datetime]


class BatchStore(Protocol):
    def replays(self, keys: Sequence[TxnKey]) -> list[Replay]: ...

    def lock_conversations(self, ids: Sequence[str]) -> dict[str, int]:
        """``last_seq`` of each existing conversation, its row locked (in id order)."""

    def members(self, ids: Sequence[str]) -> list[tuple[str, str, str]]:
        """(conversation, user, state) of every member of the conversations."""

    def set_last_seq(self, last_seq: dict[str, int]) -> None: ...

    def insert_timeline(self, events: list[dict[str, Any]]) -> None: ...

    def insert_txns(self, rows: list[dict[str, Any]]) -> None: ...

    def lock_heads(self, users: Sequence[str]) -> dict[str, int]:
        """Each user's stream position, the head rows locked (in user-id order)."""

    def set_heads(self, positions: dict[str, int]) -> None: ...

    def insert_stream(self, rows: list[StreamRow]) -> None: ...

    def write_events(self, last_seq: dict[str, int], events: list[dict[str, Any]]) -> None:
        """``set_last_seq`` and ``insert_timeline`` (one round trip where that matters)."""

    def write_stream(self, positions: dict[str, int], rows: list[StreamRow]) -> None:
        """``set_heads`` and ``insert_stream`` (one round trip where that matters)."""


def store_for(conn: Connection) -> BatchStore:
    """The fastest store for ``conn``'s backend (SQLAlchemy Core for any other)."""
    if conn.dialect.name == "sqlite":
        return SqliteBatchStore(cast(sqlite3.Connection, conn.connection.dbapi_connection))
    if conn.dialect.name == "postgresql":
        return PgBatchStore(conn)
    return CoreBatchStore(conn)


_conversations = cast(Table, Conversation.__table__)
_members = cast(Table, Member.__table__)
_timeline = cast(Table, TimelineEvent.__table__)
_txns = cast(Table, MessageTxn.__table__)
_heads = cast(Table, StreamHead.__table__)
_stream = cast(Table, StreamEvent.__table__)

# Built once: building a statement costs more than running it.
_REPLAYS = (
    select(_txns.c.conversation_id, _txns.c.sender_device_id, _txns.c.txn_id, _txns.c.seq,
           _timeline.c.event_id)
    .join(_timeline, (_timeline.c.conversation_id == _txns.c.conversation_id)
          & (_timeline.c.seq == _txns.c.seq))
    .where(tuple_(_txns.c.conversation_id, _txns.c.sender_device_id, _txns.c.txn_id)
           .in_(bindparam("keys", expanding=True)))
)  # fmt: skip
_LOCK_CONVERSATIONS = (
    select(_conversations.c.conversation_id, _conversations.c.last_seq)
    .where(_conversations.c.conversation_id.in_(bindparam("ids", expanding=True)))
    .order_by(_conversations.c.conversation_id)
    .with_for_update()
)
_MEMBERS = select(_members.c.conversation_id, _members.c.user_id, _members.c.state).where(
    _members.c.conversation_id.in_(bindparam("ids", expanding=True))
)
_SET_LAST_SEQ = (
    update(_conversations)
    .where(_conversations.c.conversation_id == bindparam("b_id"))
    .values(last_seq=bindparam("b_seq"))
)
_LOCK_HEADS = (
    select(_heads.c.user_id, _heads.c.position)
    .where(_heads.c.user_id.in_(bindparam("users", expanding=True)))
    .order_by(_heads.c.user_id)
    .with_for_update()
)
_SET_HEAD = (
    update(_heads)
    .where(_heads.c.user_id == bindparam("b_user"))
    .values(position=bindparam("b_position"))
)


class CoreBatchStore:
    """SQLAlchemy Core on any connection, with the column types doing the conversions."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def replays(self, keys: Sequence[TxnKey]) -> list[Replay]:
        rows = self.conn.execute(_REPLAYS, {"keys": list(keys)})
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def lock_conversations(self, ids: Sequence[str]) -> dict[str, int]:
        rows = self.conn.execute(_LOCK_CONVERSATIONS, {"ids": list(ids)})
        return {row.conversation_id: row.last_seq for row in rows}

    def members(self, ids: Sequence[str]) -> list[tuple[str, str, str]]:
        rows = self.conn.execute(_MEMBERS, {"ids": list(ids)})
        return [(r.conversation_id, r.user_id, r.state) for r in rows]

    def set_last_seq(self, last_seq: dict[str, int]) -> None:
        self.conn.execute(_SET_LAST_SEQ, [{"b_id": c, "b_seq": s} for c, s in last_seq.items()])

    def insert_timeline(self, events: list[dict[str, Any]]) -> None:
        self.conn.execute(_timeline.insert(), events)

    def insert_txns(self, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(_txns.insert(), rows)

    def lock_heads(self, users: Sequence[str]) -> dict[str, int]:
        rows = self.conn.execute(_LOCK_HEADS, {"users": list(users)})
        return {row.user_id: row.position for row in rows}

    def set_heads(self, positions: dict[str, int]) -> None:
        self.conn.execute(_SET_HEAD, [{"b_user": u, "b_position": p} for u, p in positions.items()])

    def insert_stream(self, rows: list[StreamRow]) -> None:
        keys = ("user_id", "position", "event_id", "type", "content", "created_at")
        self.conn.execute(_stream.insert(), [dict(zip(keys, row, strict=True)) for row in rows])

    def write_events(self, last_seq: dict[str, int], events: list[dict[str, Any]]) -> None:
        self.set_last_seq(last_seq)
        self.insert_timeline(events)

    def write_stream(self, positions: dict[str, int], rows: list[StreamRow]) -> None:
        self.set_heads(positions)
        self.insert_stream(rows)


class SqliteBatchStore:
    """The same statements as plain SQL on the ``sqlite3`` connection (SQLite has no
    ``FOR UPDATE``: the writer's ``BEGIN IMMEDIATE`` already excludes other writers)."""

    def __init__(self, dbapi_conn: sqlite3.Connection) -> None:
        self.db = dbapi_conn

    def replays(self, keys: Sequence[TxnKey]) -> list[Replay]:
        sql = _with_marks(_SQLITE_REPLAYS, len(keys), "(?,?,?)")
        return self.db.execute(sql, [part for key in keys for part in key]).fetchall()

    def lock_conversations(self, ids: Sequence[str]) -> dict[str, int]:
        sql = _with_marks(_SQLITE_CONVERSATIONS, len(ids))
        return dict(self.db.execute(sql, list(ids)).fetchall())

    def members(self, ids: Sequence[str]) -> list[tuple[str, str, str]]:
        return self.db.execute(_with_marks(_SQLITE_MEMBERS, len(ids)), list(ids)).fetchall()

    def set_last_seq(self, last_seq: dict[str, int]) -> None:
        self.db.executemany(
            "UPDATE conversations SET last_seq = ? WHERE conversation_id = ?",
            [(seq, c) for c, seq in last_seq.items()],
        )

    def insert_timeline(self, events: list[dict[str, Any]]) -> None:
        self.db.executemany(
            "INSERT INTO timeline_events (conversation_id, seq, event_id, type, sender_user_id, "
            "sender_device_id, content, recalled, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [(e["conversation_id"], e["seq"], e["event_id"], e["type"], e["sender_user_id"],
              e["sender_device_id"], json_dumps(e["content"]), int(e["recalled"]),
              sqlite_time(e["created_at"])) for e in events],
        )  # fmt: skip

    def insert_txns(self, rows: list[dict[str, Any]]) -> None:
        self.db.executemany(
            "INSERT INTO message_txns (conversation_id, sender_device_id, txn_id, seq, "
            "created_at) VALUES (?,?,?,?,?)",
            [(r["conversation_id"], r["sender_device_id"], r["txn_id"], r["seq"],
              sqlite_time(r["created_at"])) for r in rows],
        )  # fmt: skip

    def lock_heads(self, users: Sequence[str]) -> dict[str, int]:
        sql = _with_marks(_SQLITE_HEADS, len(users))
        return dict(self.db.execute(sql, list(users)).fetchall())

    def set_heads(self, positions: dict[str, int]) -> None:
        self.db.executemany(
            "UPDATE stream_heads SET position = ? WHERE user_id = ?",
            [(p, u) for u, p in positions.items()],
        )

    def insert_stream(self, rows: list[StreamRow]) -> None:
        texts: dict[int, str] = {}  # each event's content serialised once for all its copies
        values = []
        for user_id, position, event_id, type_, content, created_at in rows:
            text = texts.get(id(content))
            if text is None:
                text = texts[id(content)] = json_dumps(content)
            values.append((user_id, position, event_id, type_, text, sqlite_time(created_at)))
        self.db.executemany(
            "INSERT INTO stream_events (user_id, position, event_id, type, content, created_at) "
            "VALUES (?,?,?,?,?,?)",
            values,
        )

    def write_events(self, last_seq: dict[str, int], events: list[dict[str, Any]]) -> None:
        self.set_last_seq(last_seq)
        self.insert_timeline(events)

    def write_stream(self, positions: dict[str, int], rows: list[StreamRow]) -> None:
        self.set_heads(positions)
        self.insert_stream(rows)


def sqlite_time(value: dt.datetime) -> str:
    """What ``UTCDateTime`` stores on SQLite: naive UTC in SQLAlchemy's DATETIME format."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


_SQLITE_REPLAYS = (
    "SELECT t.conversation_id, t.sender_device_id, t.txn_id, t.seq, e.event_id "
    "FROM message_txns AS t JOIN timeline_events AS e "
    "ON e.conversation_id = t.conversation_id AND e.seq = t.seq "
    "WHERE (t.conversation_id, t.sender_device_id, t.txn_id) IN (VALUES <marks>)"
)
_SQLITE_CONVERSATIONS = (
    "SELECT conversation_id, last_seq FROM conversations WHERE conversation_id IN (<marks>)"
)
_SQLITE_MEMBERS = (
    "SELECT conversation_id, user_id, state FROM conversation_members "
    "WHERE conversation_id IN (<marks>)"
)
_SQLITE_HEADS = "SELECT user_id, position FROM stream_heads WHERE user_id IN (<marks>)"


def _with_marks(sql: str, count: int, mark: str = "?") -> str:
    """``sql`` with ``count`` placeholders for its ``IN`` list (values are always bound)."""
    return sql.replace("<marks>", ",".join([mark] * count))
