"""The nine statements of a send batch (and the card and stream statements a wallet batch
borrows) for PostgreSQL, each one text whatever the batch's size (``db/pg_bulk.py``): rows as
arrays through ``unnest``, ids as ``= ANY``, so asyncpg prepares each once per connection and
each is one round trip. The same statements as ``CoreBatchStore``, whose tests it shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table

from courtyard.db import json_dumps
from courtyard.db.pg_bulk import columns_of, insert_sql, with_parts
from courtyard.domains.messaging.models import MessageTxn, TimelineEvent
from courtyard.streams.events import StreamEvent

if TYPE_CHECKING:
    from courtyard.domains.messaging.batch_store import Replay, StreamRow, TxnKey

_TIMELINE_COLUMNS = tuple(c.name for c in cast(Table, TimelineEvent.__table__).columns)
_TXN_COLUMNS = tuple(c.name for c in cast(Table, MessageTxn.__table__).columns)
_STREAM_COLUMNS = ("user_id", "position", "event_id", "type", "content", "created_at")
_INSERT_TIMELINE = insert_sql(cast(Table, TimelineEvent.__table__), _TIMELINE_COLUMNS)
_INSERT_TXNS = insert_sql(cast(Table, MessageTxn.__table__), _TXN_COLUMNS)
_INSERT_STREAM = insert_sql(cast(Table, StreamEvent.__table__), _STREAM_COLUMNS)
_REPLAYS = (
    "SELECT t.conversation_id, t.sender_device_id, t.txn_id, t.seq, e.event_id "
    "FROM message_txns AS t "
    "JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(c, d, x) "
    "ON t.conversation_id = k.c AND t.sender_device_id = k.d AND t.txn_id = k.x "
    "JOIN timeline_events AS e ON e.conversation_id = t.conversation_id AND e.seq = t.seq"
)
_LOCK_CONVERSATIONS = (
    "SELECT conversation_id, last_seq FROM conversations WHERE conversation_id = ANY($1::text[]) "
    "ORDER BY conversation_id FOR UPDATE"
)
_MEMBERS = (
    "SELECT conversation_id, user_id, state FROM conversation_members "
    "WHERE conversation_id = ANY($1::text[])"
)
_SET_LAST_SEQ = (
    "UPDATE conversations AS c SET last_seq = u.seq FROM unnest($1::text[], $2::bigint[]) "
    "AS u(id, seq) WHERE c.conversation_id = u.id"
)
_LOCK_HEADS = (
    "SELECT user_id, position FROM stream_heads WHERE user_id = ANY($1::text[]) "
    "ORDER BY user_id FOR UPDATE"
)
_SET_HEADS = (
    "UPDATE stream_heads AS h SET position = u.p FROM unnest($1::text[], $2::bigint[]) "
    "AS u(id, p) WHERE h.user_id = u.id"
)


# The conversations' new last seq and their events, in one statement; the same for the
# stream heads and their rows.
_WRITE_EVENTS = with_parts(
    [("s", _SET_LAST_SEQ)],
    insert_sql(cast(Table, TimelineEvent.__table__), _TIMELINE_COLUMNS, "", 3),
)
_WRITE_STREAM = with_parts(
    [("h", _SET_HEADS)], insert_sql(cast(Table, StreamEvent.__table__), _STREAM_COLUMNS, "", 3)
)


class PgBatchStore:
    """The batch statements as fixed PostgreSQL text on the connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def replays(self, keys: Sequence[TxnKey]) -> list[Replay]:
        arrays = tuple([key[i] for key in keys] for i in range(3))
        rows = self.conn.exec_driver_sql(_REPLAYS, arrays)
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def lock_conversations(self, ids: Sequence[str]) -> dict[str, int]:
        rows = self.conn.exec_driver_sql(_LOCK_CONVERSATIONS, (list(ids),))
        return {row[0]: row[1] for row in rows}

    def members(self, ids: Sequence[str]) -> list[tuple[str, str, str]]:
        rows = self.conn.exec_driver_sql(_MEMBERS, (list(ids),))
        return [(r[0], r[1], r[2]) for r in rows]

    def set_last_seq(self, last_seq: dict[str, int]) -> None:
        self.conn.exec_driver_sql(_SET_LAST_SEQ, (list(last_seq), list(last_seq.values())))

    def insert_timeline(self, events: list[dict[str, Any]]) -> None:
        texts = [{**e, "content": json_dumps(e["content"])} for e in events]
        self.conn.exec_driver_sql(_INSERT_TIMELINE, columns_of(texts, _TIMELINE_COLUMNS))

    def insert_txns(self, rows: list[dict[str, Any]]) -> None:
        self.conn.exec_driver_sql(_INSERT_TXNS, columns_of(rows, _TXN_COLUMNS))

    def lock_heads(self, users: Sequence[str]) -> dict[str, int]:
        rows = self.conn.exec_driver_sql(_LOCK_HEADS, (list(users),))
        return {row[0]: row[1] for row in rows}

    def set_heads(self, positions: dict[str, int]) -> None:
        self.conn.exec_driver_sql(_SET_HEADS, (list(positions), list(positions.values())))

    def insert_stream(self, rows: list[StreamRow]) -> None:
        self.conn.exec_driver_sql(_INSERT_STREAM, _stream_arrays(rows))

    def write_events(self, last_seq: dict[str, int], events: list[dict[str, Any]]) -> None:
        texts = [{**e, "content": json_dumps(e["content"])} for e in events]
        params = (list(last_seq), list(last_seq.values()))
        self.conn.exec_driver_sql(_WRITE_EVENTS, params + columns_of(texts, _TIMELINE_COLUMNS))

    def write_stream(self, positions: dict[str, int], rows: list[StreamRow]) -> None:
        params = (list(positions), list(positions.values()))
        self.conn.exec_driver_sql(_WRITE_STREAM, params + _stream_arrays(rows))


def _stream_arrays(rows: list[StreamRow]) -> tuple[list[Any], ...]:
    """Stream rows as one list per column, each event's content serialised once for all its
    copies."""
    texts: dict[int, str] = {}
    arrays: tuple[list[Any], ...] = ([], [], [], [], [], [])
    for user_id, position, event_id, type_, content, created_at in rows:
        text = texts.get(id(content))
        if text is None:
            text = texts[id(content)] = json_dumps(content)
        for column, value in zip(
            arrays, (user_id, position, event_id, type_, text, created_at), strict=True
        ):
            column.append(value)
    return arrays
