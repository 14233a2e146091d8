"""The device's local, decrypted history: messages, edits, reactions, wallet cards, and
full-text search.

It is a SQLite file in the profile directory next to the crypto store. **Its bodies are
plaintext**: this file is protected by the operating-system account (file mode 0600 and
full-disk encryption), not by the profile passphrase, exactly like the message databases of
Signal Desktop or WeChat. Search uses FTS5 with the ``trigram`` tokenizer (any script, no
word segmentation needed for Chinese); queries of one or two characters, which trigrams
cannot match, fall back to ``LIKE``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HISTORY_FILE = "history.db"
MIN_TRIGRAM_CHARS = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    event_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
    sender_user_id TEXT NOT NULL, sender_device_id TEXT, type TEXT NOT NULL, body TEXT,
    reply_to TEXT, attachment TEXT, recalled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_seq ON messages (conversation_id, seq);
CREATE TABLE IF NOT EXISTS edits (
    event_id TEXT PRIMARY KEY, target TEXT NOT NULL, seq INTEGER NOT NULL,
    sender_user_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS edits_by_target ON edits (target, seq);
CREATE TABLE IF NOT EXISTS reactions (
    event_id TEXT PRIMARY KEY, target TEXT NOT NULL, sender_user_id TEXT NOT NULL,
    key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reactions_by_target ON reactions (target);
CREATE TABLE IF NOT EXISTS recalls (event_id TEXT PRIMARY KEY, by_user_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    event_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
    sender_key TEXT NOT NULL, session_id TEXT NOT NULL, event TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbound_members (
    conversation_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, members TEXT NOT NULL,
    rotate INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS cards (
    card_key TEXT PRIMARY KEY, event_id TEXT NOT NULL, conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL, sender_user_id TEXT NOT NULL, sender_device_id TEXT,
    type TEXT NOT NULL, summary TEXT NOT NULL, content TEXT NOT NULL,
    content_seq INTEGER NOT NULL, notes TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cards_by_seq ON cards (conversation_id, seq);
CREATE INDEX IF NOT EXISTS cards_by_event ON cards (event_id);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    body, event_id UNINDEXED, conversation_id UNINDEXED, tokenize = 'trigram');
"""


@dataclass(frozen=True)
class Card:
    """A wallet card the server wrote in the chat (plaintext, not end-to-end encrypted).

    ``content`` is the newest event's (a transfer's state changes arrive as new events);
    ``notes`` are what this device learnt about it, such as what it got from a red packet.
    """

    key: str
    content: dict[str, Any] = field(hash=False)
    notes: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Message:
    """A decrypted message as this device shows it (edits applied, recalls blanked), or a
    wallet card (``card`` set, ``body`` a one-line summary)."""

    event_id: str
    conversation_id: str
    seq: int
    sender_user_id: str
    sender_device_id: str | None
    type: str
    body: str | None
    reply_to: str | None
    attachment: dict[str, Any] | None = field(hash=False)
    edits: int
    reactions: dict[str, list[str]] = field(hash=False)
    recalled: bool
    created_at: str
    card: Card | None = None


@dataclass(frozen=True)
class PendingEvent:
    event_id: str
    conversation_id: str
    seq: int
    event: dict[str, Any] = field(hash=False)


class History:
    """Open with ``History.open(profile_dir)``; every method is one short local transaction."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._lock = threading.RLock()

    @classmethod
    def open(cls, directory: str | os.PathLike[str], name: str = HISTORY_FILE) -> History:
        path = Path(directory) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        return cls(connection, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # Events ------------------------------------------------------------------------------

    def is_processed(self, event_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM processed WHERE event_id = ?", (event_id,))
            return row.fetchone() is not None

    def mark_processed(self, event_id: str, outcome: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO processed (event_id, outcome) VALUES (?, ?)",
                (event_id, outcome),
            )
            db.execute("DELETE FROM pending WHERE event_id = ?", (event_id,))

    def add_message(self, event: dict[str, Any], content: dict[str, Any]) -> None:
        """Store a decrypted ``m.text``/``m.file``/``m.image``/``m.voice``; a no-op if known."""
        event_id = str(event["event_id"])
        reply_to, attachment = content.get("reply_to"), content.get("attachment")
        body = content.get("body")
        with self._tx() as db:
            if _recalled(db, event_id):
                body, attachment = None, None
            cursor = db.execute(
                "INSERT OR IGNORE INTO messages (event_id, conversation_id, seq, sender_user_id,"
                " sender_device_id, type, body, reply_to, attachment, recalled, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event_id, event["conversation_id"], int(event["seq"]),
                    event["sender_user_id"], event.get("sender_device_id"), content["type"],
                    body if isinstance(body, str) else None,
                    reply_to if isinstance(reply_to, str) else None,
                    json.dumps(attachment) if isinstance(attachment, dict) else None,
                    int(_recalled(db, event_id)), str(event["created_at"]),
                ),
            )  # fmt: skip
            if cursor.rowcount:
                _reindex(db, event_id)
            _done(db, event_id, "message")

    def add_edit(self, event: dict[str, Any], target: str, body: str) -> None:
        event_id = str(event["event_id"])
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO edits (event_id, target, seq, sender_user_id, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (event_id, target, int(event["seq"]), event["sender_user_id"], body),
            )
            _reindex(db, target)
            _done(db, event_id, "edit")

    def add_reaction(self, event: dict[str, Any], target: str, key: str) -> None:
        event_id = str(event["event_id"])
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO reactions (event_id, target, sender_user_id, key)"
                " VALUES (?, ?, ?, ?)",
                (event_id, target, event["sender_user_id"], key),
            )
            _done(db, event_id, "reaction")

    def recall(self, event_id: str, by_user_id: str) -> None:
        """Blank a recalled message here (body, attachment, edits, search index)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO recalls (event_id, by_user_id) VALUES (?, ?)",
                (event_id, by_user_id),
            )
            db.execute(
                "UPDATE messages SET body = NULL, attachment = NULL, recalled = 1"
                " WHERE event_id = ? AND sender_user_id = ?",
                (event_id, by_user_id),
            )
            db.execute("DELETE FROM edits WHERE target = ?", (event_id,))
            db.execute("DELETE FROM messages_fts WHERE event_id = ?", (event_id,))
            db.execute("DELETE FROM pending WHERE event_id = ?", (event_id,))

    # Wallet cards ------------------------------------------------------------------------

    def add_card(
        self, event: dict[str, Any], key: str, content: dict[str, Any], summary: str
    ) -> str:
        """Store a card event: the first one for ``key`` places the card in the timeline, a
        later one (by seq) replaces what it shows. Returns the card's event id."""
        event_id, seq = str(event["event_id"]), int(event["seq"])
        with self._tx() as db:
            row = db.execute(
                "SELECT event_id, seq, content_seq FROM cards WHERE card_key = ?", (key,)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO cards (card_key, event_id, conversation_id, seq, sender_user_id,"
                    " sender_device_id, type, summary, content, content_seq, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        key, event_id, event["conversation_id"], seq, event["sender_user_id"],
                        event.get("sender_device_id"), event["type"], summary,
                        json.dumps(content), seq, str(event["created_at"]),
                    ),
                )  # fmt: skip
                shown = event_id
            else:
                shown = row[0]
                if seq > int(row[2]):
                    db.execute(
                        "UPDATE cards SET summary = ?, content = ?, content_seq = ?"
                        " WHERE card_key = ?",
                        (summary, json.dumps(content), seq, key),
                    )
                if seq < int(row[1]):  # an earlier event of the card: it belongs there
                    db.execute(
                        "UPDATE cards SET event_id = ?, seq = ?, sender_user_id = ?,"
                        " sender_device_id = ?, created_at = ? WHERE card_key = ?",
                        (
                            event_id, seq, event["sender_user_id"],
                            event.get("sender_device_id"), str(event["created_at"]), key,
                        ),
                    )  # fmt: skip
                    shown = event_id
            _done(db, event_id, "card")
        return str(shown)

    def note_card(self, key: str, **notes: Any) -> str | None:
        """Remember facts about a card on this device (merged into its ``notes``); the
        card's event id, or None if no such card is held here."""
        with self._tx() as db:
            row = db.execute(
                "SELECT event_id, notes FROM cards WHERE card_key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            merged = {**json.loads(row[1]), **notes}
            db.execute("UPDATE cards SET notes = ? WHERE card_key = ?", (json.dumps(merged), key))
            return str(row[0])

    # Pending (no room key yet) -----------------------------------------------------------

    def add_pending(self, event: dict[str, Any], sender_key: str, session_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO pending (event_id, conversation_id, seq, sender_key,"
                " session_id, event) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    event["event_id"], event["conversation_id"], int(event["seq"]), sender_key,
                    session_id, json.dumps(event),
                ),
            )  # fmt: skip

    def pending(self, session_id: str | None = None) -> list[PendingEvent]:
        """Events still waiting for a room key (of ``session_id`` if given), in seq order."""
        query = "SELECT event_id, conversation_id, seq, event FROM pending"
        args: tuple[str, ...] = ()
        if session_id is not None:
            query, args = query + " WHERE session_id = ?", (session_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY conversation_id, seq", args).fetchall()
        return [PendingEvent(r[0], r[1], int(r[2]), json.loads(r[3])) for r in rows]

    # Outbound session bookkeeping ---------------------------------------------------------

    def outbound_members(self, conversation_id: str) -> tuple[str, list[str], bool] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT session_id, members, rotate FROM outbound_members"
                " WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
        return None if row is None else (row[0], json.loads(row[1]), bool(row[2]))

    def set_outbound_members(
        self, conversation_id: str, session_id: str, members: list[str]
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO outbound_members (conversation_id, session_id, members,"
                " rotate) VALUES (?, ?, ?, 0)",
                (conversation_id, session_id, json.dumps(sorted(members))),
            )

    def request_rotation(self, conversation_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbound_members SET rotate = 1 WHERE conversation_id = ?",
                (conversation_id,),
            )

    # Reading -----------------------------------------------------------------------------

    def get(self, event_id: str) -> Message | None:
        """A message, or a card by the event id it shows at."""
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE event_id = ?", (event_id,)).fetchone()
            if row is None:
                row = self._db.execute(
                    _SELECT_CARDS + " WHERE event_id = ?", (event_id,)
                ).fetchone()
            return None if row is None else self._message(row)

    def messages(self, conversation_id: str, limit: int = 50) -> list[Message]:
        """The newest ``limit`` messages and cards of the conversation, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM ({_SELECT} WHERE conversation_id = ?"  # noqa: S608
                f" UNION ALL {_SELECT_CARDS} WHERE conversation_id = ?)"
                " ORDER BY seq DESC LIMIT ?",
                (conversation_id, conversation_id, limit),
            ).fetchall()
            return [self._message(row) for row in reversed(rows)]

    def search(self, text: str, conversation_id: str | None = None) -> list[Message]:
        """Messages whose current body contains ``text`` (case-insensitive), newest first."""
        text = text.strip()
        if not text:
            return []
        where = " AND conversation_id = ?" if conversation_id else ""
        args: tuple[str, ...] = (conversation_id,) if conversation_id else ()
        with self._lock:
            if len(text) >= MIN_TRIGRAM_CHARS:
                phrase = '"' + text.replace('"', '""') + '"'
                ids = self._db.execute(
                    "SELECT event_id FROM messages_fts WHERE messages_fts MATCH ?" + where,  # noqa: S608
                    (phrase, *args),
                ).fetchall()
            else:
                pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                ids = self._db.execute(
                    "SELECT event_id FROM messages_fts WHERE body LIKE ? ESCAPE '\\'" + where,  # noqa: S608
                    (pattern + "%", *args),
                ).fetchall()
            found = [self.get(row[0]) for row in ids]
        return sorted(
            (m for m in found if m is not None), key=lambda m: (m.created_at, m.seq), reverse=True
        )

    def _message(self, row: Any) -> Message:
        event_id, sender = row[0], row[3]
        # Cards are the server's, not their sender's: nobody can edit them.
        body = row[6]
        edits = _edits(self._db, event_id, sender) if row[11] is None else []
        if edits and not row[9]:
            body = edits[-1]
        reactions: dict[str, list[str]] = {}
        for key, user in self._db.execute(
            "SELECT key, sender_user_id FROM reactions WHERE target = ? ORDER BY rowid",
            (event_id,),
        ):
            if not row[9]:
                reactions.setdefault(key, []).append(user)
        card = None
        if row[11] is not None:
            card = Card(row[11], json.loads(row[12]), json.loads(row[13]))
        return Message(
            event_id=event_id, conversation_id=row[1], seq=int(row[2]), sender_user_id=sender,
            sender_device_id=row[4], type=row[5], body=body, reply_to=row[7],
            attachment=json.loads(row[8]) if row[8] else None, edits=len(edits),
            reactions=reactions, recalled=bool(row[9]), created_at=row[10], card=card,
        )  # fmt: skip


_SELECT = (
    "SELECT event_id, conversation_id, seq, sender_user_id, sender_device_id, type, body,"
    " reply_to, attachment, recalled, created_at, NULL, NULL, NULL FROM messages"
)
# The same columns for cards: the summary as the body, then the key, content and notes.
_SELECT_CARDS = (
    "SELECT event_id, conversation_id, seq, sender_user_id, sender_device_id, type, summary,"
    " NULL, NULL, 0, created_at, card_key, content, notes FROM cards"
)


def _recalled(db: sqlite3.Connection, event_id: str) -> bool:
    row = db.execute("SELECT 1 FROM recalls WHERE event_id = ?", (event_id,)).fetchone()
    return row is not None


def _edits(db: sqlite3.Connection, target: str, sender: str) -> list[str]:
    """Bodies of the target's edits by its own sender, in timeline order."""
    rows = db.execute(
        "SELECT body FROM edits WHERE target = ? AND sender_user_id = ? ORDER BY seq",
        (target, sender),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _reindex(db: sqlite3.Connection, event_id: str) -> None:
    """Point the search index at the message's current body (edits applied)."""
    db.execute("DELETE FROM messages_fts WHERE event_id = ?", (event_id,))
    row = db.execute(
        "SELECT body, sender_user_id, conversation_id, recalled FROM messages WHERE event_id = ?",
        (event_id,),
    ).fetchone()
    if row is None or row[3]:
        return
    edits = _edits(db, event_id, row[1])
    body = edits[-1] if edits else row[0]
    if body:
        db.execute(
            "INSERT INTO messages_fts (body, event_id, conversation_id) VALUES (?, ?, ?)",
            (body, event_id, row[2]),
        )


def _done(db: sqlite3.Connection, event_id: str, outcome: str) -> None:
    db.execute(
        "INSERT OR REPLACE INTO processed (event_id, outcome) VALUES (?, ?)", (event_id, outcome)
    )
    db.execute("DELETE FROM pending WHERE event_id = ?", (event_id,))
