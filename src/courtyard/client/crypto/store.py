"""The device's local crypto store: one SQLite file whose every pickle is encrypted.

The API is synchronous on purpose. Each call is a few small local writes, and a crypto
operation (ratchet step plus persisting it) must not interleave with another, so callers in
async code run a whole ``DeviceCrypto`` operation in ``asyncio.to_thread`` rather than each
query separately. The connection may be used from any thread; an ``RLock`` held by
``transaction()`` serialises operations.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from argon2.low_level import Type, hash_secret_raw
from vodozemac import Account, GroupSession, InboundGroupSession, PickleException, Session

from courtyard.client.crypto.errors import StoreError, WrongPassphrase
from courtyard.client.crypto.records import (
    InboundRecord,
    KdfParams,
    OutboundRecord,
    PeerDevice,
)

SCHEMA_VERSION = "1"
KEY_BYTES = 32
SALT_BYTES = 16
_CHECK_LABEL = b"courtyard crypto store passphrase check v1"
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), pickle TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS olm_sessions (
    session_id TEXT PRIMARY KEY, peer_curve25519 TEXT NOT NULL, pickle TEXT NOT NULL,
    created_at TEXT NOT NULL, touched INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS olm_sessions_peer ON olm_sessions (peer_curve25519, touched);
CREATE TABLE IF NOT EXISTS outbound_group_sessions (
    conversation_id TEXT PRIMARY KEY, session_id TEXT NOT NULL, pickle TEXT NOT NULL,
    created_at TEXT NOT NULL, message_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbound_shared (
    session_id TEXT NOT NULL, user_id TEXT NOT NULL, device_id TEXT NOT NULL,
    PRIMARY KEY (session_id, user_id, device_id));
CREATE TABLE IF NOT EXISTS inbound_group_sessions (
    sender_key TEXT NOT NULL, session_id TEXT NOT NULL, conversation_id TEXT NOT NULL,
    sender_user_id TEXT NOT NULL, sender_device_id TEXT NOT NULL,
    sender_ed25519 TEXT NOT NULL, forwarded INTEGER NOT NULL, first_known_index INTEGER NOT NULL,
    pickle TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (sender_key, session_id));
CREATE TABLE IF NOT EXISTS seen_megolm (
    session_id TEXT NOT NULL, message_index INTEGER NOT NULL, event_id TEXT NOT NULL,
    PRIMARY KEY (session_id, message_index));
CREATE TABLE IF NOT EXISTS peer_devices (
    user_id TEXT NOT NULL, device_id TEXT NOT NULL, curve25519 TEXT NOT NULL UNIQUE,
    ed25519 TEXT NOT NULL, verified INTEGER NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id));
CREATE TABLE IF NOT EXISTS key_requests (
    sender_key TEXT NOT NULL, session_id TEXT NOT NULL, conversation_id TEXT NOT NULL,
    requested_at TEXT NOT NULL, PRIMARY KEY (sender_key, session_id));
"""


def derive_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    """The 32-byte pickle key: argon2id over the passphrase."""
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_cost_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def _check_value(key: bytes) -> str:
    # A keyed hash of a fixed label: proves the key without revealing it (or the pickles).
    return hashlib.blake2b(_CHECK_LABEL, key=key, digest_size=32).hexdigest()


class CryptoStore:
    """Open with ``CryptoStore.create`` (new file) or ``CryptoStore.open`` (existing file)."""

    def __init__(self, connection: sqlite3.Connection, key: bytes, path: Path) -> None:
        self._db = connection
        self._key = key
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], passphrase: str, *, kdf: KdfParams | None = None
    ) -> CryptoStore:
        """Initialise a new store at ``path`` (refused if one already exists there)."""
        params = kdf or KdfParams()
        target = Path(path)
        if target.exists() and target.stat().st_size > 0:
            raise StoreError(f"{target} already exists")
        connection = _connect(target)
        salt = os.urandom(SALT_BYTES)
        key = derive_key(passphrase, salt, params)
        meta = {
            "schema": SCHEMA_VERSION,
            "kdf": "argon2id",
            "salt": salt.hex(),
            "time_cost": str(params.time_cost),
            "memory_cost_kib": str(params.memory_cost_kib),
            "parallelism": str(params.parallelism),
            "check": _check_value(key),
        }
        connection.executescript(_SCHEMA)
        store = cls(connection, key, target)
        with store.transaction():
            for name, value in meta.items():
                store.set_meta(name, value)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str], passphrase: str) -> CryptoStore:
        """Open an existing store; ``WrongPassphrase`` if the passphrase does not fit."""
        target = Path(path)
        if not target.exists():
            raise StoreError(f"{target} does not exist")
        connection = _connect(target)
        try:
            meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
            params = KdfParams(
                int(meta["time_cost"]), int(meta["memory_cost_kib"]), int(meta["parallelism"])
            )
            salt, check = bytes.fromhex(meta["salt"]), meta["check"]
        except (sqlite3.Error, KeyError, ValueError):
            connection.close()
            raise StoreError(f"{target} is not a Courtyard crypto store") from None
        key = derive_key(passphrase, salt, params)
        if not hmac.compare_digest(_check_value(key), check):
            connection.close()
            raise WrongPassphrase("the passphrase does not open this crypto store")
        return cls(connection, key, target)

    @property
    def lock(self) -> threading.RLock:
        """Held by ``transaction()``; hold it longer to make several transactions one unit."""
        return self._lock

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store for one operation; nested uses join the outermost transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    # Meta --------------------------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE name = ?", name)
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        self._exec("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", name, value)

    # Account -----------------------------------------------------------------------------

    def load_account(self) -> Account | None:
        row = self._one("SELECT pickle FROM account WHERE id = 1")
        return None if row is None else self._unpickle(Account.from_pickle, row[0])

    def save_account(self, account: Account) -> None:
        self._exec(
            "INSERT OR REPLACE INTO account (id, pickle) VALUES (1, ?)", account.pickle(self._key)
        )

    # Olm sessions ------------------------------------------------------------------------

    def save_olm_session(self, peer_curve25519: str, session: Session, now: datetime) -> None:
        """Insert or update a session and make it the peer's newest (tried and used first)."""
        touched = self._next_touch()
        self._exec(
            "INSERT INTO olm_sessions (session_id, peer_curve25519, pickle, created_at, touched)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET"
            " pickle = excluded.pickle, touched = excluded.touched",
            session.session_id,
            peer_curve25519,
            session.pickle(self._key),
            now.isoformat(),
            touched,
        )

    def olm_sessions(self, peer_curve25519: str) -> list[Session]:
        """The peer's sessions, most recently used or created first."""
        rows = self._all(
            "SELECT pickle FROM olm_sessions WHERE peer_curve25519 = ? ORDER BY touched DESC",
            peer_curve25519,
        )
        return [self._unpickle(Session.from_pickle, row[0]) for row in rows]

    def _next_touch(self) -> int:
        row = self._one("SELECT COALESCE(MAX(touched), 0) + 1 FROM olm_sessions")
        assert row is not None
        return int(row[0])

    # Megolm outbound ---------------------------------------------------------------------

    def get_outbound(self, conversation_id: str) -> OutboundRecord | None:
        row = self._one(
            "SELECT pickle, created_at, message_count FROM outbound_group_sessions"
            " WHERE conversation_id = ?",
            conversation_id,
        )
        if row is None:
            return None
        session = self._unpickle(GroupSession.from_pickle, row[0])
        return OutboundRecord(conversation_id, session, datetime.fromisoformat(row[1]), int(row[2]))

    def save_outbound(self, record: OutboundRecord) -> None:
        self._exec(
            "INSERT OR REPLACE INTO outbound_group_sessions"
            " (conversation_id, session_id, pickle, created_at, message_count)"
            " VALUES (?, ?, ?, ?, ?)",
            record.conversation_id,
            record.session.session_id,
            record.session.pickle(self._key),
            record.created_at.isoformat(),
            record.message_count,
        )

    def mark_shared(self, session_id: str, devices: list[tuple[str, str]]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO outbound_shared (session_id, user_id, device_id)"
                " VALUES (?, ?, ?)",
                [(session_id, user, device) for user, device in devices],
            )

    def shared_with(self, session_id: str) -> set[tuple[str, str]]:
        rows = self._all(
            "SELECT user_id, device_id FROM outbound_shared WHERE session_id = ?", session_id
        )
        return {(str(user), str(device)) for user, device in rows}

    # Megolm inbound ----------------------------------------------------------------------

    def get_inbound(self, sender_key: str, session_id: str) -> InboundRecord | None:
        row = self._one(
            "SELECT conversation_id, sender_user_id, sender_device_id, sender_ed25519,"
            " forwarded, pickle FROM inbound_group_sessions"
            " WHERE sender_key = ? AND session_id = ?",
            sender_key,
            session_id,
        )
        if row is None:
            return None
        session = self._unpickle(InboundGroupSession.from_pickle, row[5])
        return InboundRecord(
            sender_key, session_id, row[0], row[1], row[2], row[3], bool(row[4]), session
        )

    def save_inbound(self, record: InboundRecord, now: datetime) -> None:
        self._exec(
            "INSERT OR REPLACE INTO inbound_group_sessions (sender_key, session_id,"
            " conversation_id, sender_user_id, sender_device_id, sender_ed25519, forwarded,"
            " first_known_index, pickle, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record.sender_key,
            record.session_id,
            record.conversation_id,
            record.sender_user_id,
            record.sender_device_id,
            record.sender_ed25519,
            int(record.forwarded),
            record.session.first_known_index,
            record.session.pickle(self._key),
            now.isoformat(),
        )

    def seen_event(self, session_id: str, message_index: int) -> str | None:
        row = self._one(
            "SELECT event_id FROM seen_megolm WHERE session_id = ? AND message_index = ?",
            session_id,
            message_index,
        )
        return None if row is None else str(row[0])

    def mark_seen(self, session_id: str, message_index: int, event_id: str) -> None:
        self._exec(
            "INSERT OR IGNORE INTO seen_megolm (session_id, message_index, event_id)"
            " VALUES (?, ?, ?)",
            session_id,
            message_index,
            event_id,
        )

    # Key requests ------------------------------------------------------------------------

    def add_key_request(
        self, sender_key: str, session_id: str, conversation_id: str, now: datetime
    ) -> None:
        self._exec(
            "INSERT OR REPLACE INTO key_requests"
            " (sender_key, session_id, conversation_id, requested_at) VALUES (?, ?, ?, ?)",
            sender_key,
            session_id,
            conversation_id,
            now.isoformat(),
        )

    def get_key_request(self, sender_key: str, session_id: str) -> str | None:
        """The conversation a pending request was made for, or None if there is none."""
        row = self._one(
            "SELECT conversation_id FROM key_requests WHERE sender_key = ? AND session_id = ?",
            sender_key,
            session_id,
        )
        return None if row is None else str(row[0])

    def remove_key_request(self, sender_key: str, session_id: str) -> None:
        self._exec(
            "DELETE FROM key_requests WHERE sender_key = ? AND session_id = ?",
            sender_key,
            session_id,
        )

    # Peer devices ------------------------------------------------------------------------

    def get_peer(self, user_id: str, device_id: str) -> PeerDevice | None:
        return _peer(self._one(_PEER + " WHERE user_id = ? AND device_id = ?", user_id, device_id))

    def peer_by_curve(self, curve25519: str) -> PeerDevice | None:
        return _peer(self._one(_PEER + " WHERE curve25519 = ?", curve25519))

    def add_peer(self, peer: PeerDevice) -> None:
        self._exec(
            "INSERT INTO peer_devices"
            " (user_id, device_id, curve25519, ed25519, verified, first_seen)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            peer.user_id,
            peer.device_id,
            peer.curve25519,
            peer.ed25519,
            int(peer.verified),
            peer.first_seen.isoformat(),
        )

    def set_verified(self, user_id: str, device_id: str, verified: bool) -> None:
        self._exec(
            "UPDATE peer_devices SET verified = ? WHERE user_id = ? AND device_id = ?",
            int(verified),
            user_id,
            device_id,
        )

    # Plumbing ----------------------------------------------------------------------------

    def _unpickle(self, loader: Callable[[str, bytes], T], pickle: str) -> T:
        try:
            return loader(pickle, self._key)
        except PickleException:
            raise StoreError("a pickle in the crypto store does not decrypt") from None

    def _exec(self, sql: str, *args: Any) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def _one(self, sql: str, *args: Any) -> Any:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, *args: Any) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()


_PEER = "SELECT user_id, device_id, curve25519, ed25519, verified, first_seen FROM peer_devices"


def _peer(row: Any) -> PeerDevice | None:
    if row is None:
        return None
    return PeerDevice(row[0], row[1], row[2], row[3], bool(row[4]), datetime.fromisoformat(row[5]))


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: ``transaction()`` issues BEGIN/COMMIT itself.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("PRAGMA secure_delete = ON")
    return connection
