"""Async engines and transactions; after-commit hooks carry bus notifications.

SQLite gets two engines: a writer whose transactions start with ``BEGIN IMMEDIATE`` (so two
writers queue on the lock instead of failing halfway) and a reader pool (WAL lets reads run
beside the writer). PostgreSQL uses one asyncpg pool for both.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

from courtyard.db.sync_write import SqliteThreadWriter, SyncWrite, run_on_postgresql

log = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 30_000
AfterCommit = Callable[[], Awaitable[None]]


class Tx:
    """One open transaction: its session and the work to run once it has committed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, hook: AfterCommit) -> None:
        """Run ``hook`` only if and after the transaction commits (e.g. publish to the bus)."""
        self._after_commit.append(hook)


def _sqlite_pragmas(immediate: bool) -> Callable[[AsyncEngine], None]:
    def register(engine: AsyncEngine) -> None:
        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        @event.listens_for(engine.sync_engine, "reset")
        def _on_reset(dbapi_conn: Any, _record: Any, _state: Any) -> None:
            # A connection back in the pool must not hold a transaction (on the writer that
            # would lock out every other writer); roll back only if one is open, since each
            # rollback is a trip to aiosqlite's thread (pool_reset_on_return=None below).
            if dbapi_conn.driver_connection.in_transaction:
                dbapi_conn.rollback()

    return register


def prepare_sqlite_path(url: str) -> None:
    """Create the directory a SQLite database file will live in."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson (several times faster than ``json`` on ciphertext
    envelopes), falling back to ``json`` for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


JSON_CODEC: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": orjson.loads}


def create_engine(url: str, *, pool_size: int = 10, writer: bool = True) -> AsyncEngine:
    """Create an async engine with the pragmas and pool the backend needs."""
    parsed = make_url(url)
    codec = JSON_CODEC
    if parsed.get_backend_name() == "sqlite":
        prepare_sqlite_path(url)
        engine = create_async_engine(
            url,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1 if writer else pool_size,
            max_overflow=0,
            pool_reset_on_return=None,  # see _on_reset
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **codec,
        )
        _sqlite_pragmas(immediate=writer)(engine)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, **codec
    )


class Database:
    """The node's database: ``transaction()`` for writes, ``read()`` for reads."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.writer = create_engine(url, pool_size=pool_size, writer=True)
        self.reader = (
            create_engine(url, pool_size=pool_size, writer=False) if self.is_sqlite else self.writer
        )
        self._write_sessions = async_sessionmaker(self.writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.reader, expire_on_commit=False)
        self._sqlite_writer = (
            SqliteThreadWriter(self.writer, JSON_CODEC) if self.is_sqlite else None
        )

    async def write_sync(self, fn: SyncWrite[T]) -> T:
        """Run ``fn(connection)`` as one write transaction, committed when it returns (rolled
        back if it raises). For hot paths whose statements need no awaiting in between: on
        SQLite the whole transaction is one hop to the writer's thread (db/sync_write.py).
        Run after-commit work yourself once this returns."""
        if self._sqlite_writer is not None:
            return await self._sqlite_writer.run(fn)
        return await run_on_postgresql(self.writer, fn)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Open a write transaction; commit on success, then run after-commit hooks."""
        async with self._write_sessions() as session:
            tx = Tx(session)
            async with session.begin():
                yield tx
        for hook in tx._after_commit:
            try:
                await hook()
            except Exception:  # a failed notification must not undo a committed fact
                log.exception("after-commit hook failed")

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """Open a read-only session (a consistent snapshot on PostgreSQL's default level)."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
