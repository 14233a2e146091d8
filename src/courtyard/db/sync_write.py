"""One write transaction as a plain synchronous function, for hot paths.

``Database.transaction()`` awaits every statement. On SQLite each await is several hops to
aiosqlite's thread and back (cursor, execute, fetch, close): a ten-statement transaction costs
~40 thread switches and most of its CPU in that machinery (docs/fast-path.md). A hot path
that knows all its statements up front can instead hand a synchronous function to
``Database.write_sync``:

- on SQLite it runs on the writer connection's own aiosqlite thread, in one hop, with a
  synchronous SQLAlchemy ``Connection`` over the same ``sqlite3`` connection (``BEGIN
  IMMEDIATE`` … ``COMMIT`` issued there). The async writer connection stays checked out for
  the duration, so no other writer can use the connection meanwhile;
- on PostgreSQL it runs through ``AsyncConnection.run_sync`` (SQLAlchemy's greenlet bridge).

Both run the same SQLAlchemy Core statements with the same column types. Reaching the
``sqlite3`` connection and the thread uses aiosqlite internals (``Connection._execute`` and
``Connection._conn``, stable across the versions ``pyproject.toml`` admits);
``tests/integration/test_sync_write.py`` fails if they change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

T = TypeVar("T")
SyncWrite = Callable[[Connection], T]


class SqliteThreadWriter:
    """Runs synchronous write transactions on the SQLite writer connection's own thread."""

    def __init__(self, writer: AsyncEngine, codec: dict[str, Any]) -> None:
        self.writer = writer
        self.codec = codec
        self._engine: tuple[sqlite3.Connection, Engine] | None = None

    async def run(self, fn: SyncWrite[T]) -> T:
        async with self.writer.connect() as conn:  # the one writer connection, held
            raw = await conn.get_raw_connection()
            aio: Any = raw.driver_connection  # aiosqlite.Connection
            result: T = await aio._execute(self._in_thread, aio._conn, fn)
            return result

    def _in_thread(self, dbapi_conn: sqlite3.Connection, fn: SyncWrite[T]) -> T:
        with self._engine_for(dbapi_conn).connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return result

    def _engine_for(self, dbapi_conn: sqlite3.Connection) -> Engine:
        """A synchronous engine whose one connection is ``dbapi_conn`` (made once per
        connection; the writer pool replaces its connection only after an error)."""
        if self._engine is None or self._engine[0] is not dbapi_conn:
            engine = create_sync_engine(
                "sqlite://",
                creator=lambda: dbapi_conn,
                poolclass=StaticPool,
                pool_reset_on_return=None,  # the transaction is ended explicitly above
                **self.codec,
            )
            self._engine = (dbapi_conn, engine)
        return self._engine[1]


async def run_on_postgresql(writer: AsyncEngine, fn: SyncWrite[T]) -> T:
    async with writer.begin() as conn:
        return await conn.run_sync(fn)
