"""Migration 0016 on SQLite and PostgreSQL: a database whose ``operator_actions`` hold rows
(and whose audit log already has entries) comes out with those rows at the end of the audit
log, oldest first, the table gone, and a log that verifies clean and can be signed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from courtyard.core.clock import FrozenClock
from courtyard.db import Database
from courtyard.db.migrate import downgrade, upgrade
from courtyard.domains.audit import AuditKeyring, AuditLog, EntryFilter, append_audit_entry
from tests.conftest import PG_URL, drop_pg_database, recreate_pg_database

T0 = dt.datetime(2026, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
ACTIONS = [  # (action_id, operator_id, action, target, note, minutes after T0), not in order
    ("a3", "op-2", "wallet.account.freeze", "account:acc-1", "fraud «suspected»", 5),
    ("a1", "op-1", "console.sign_in", "operator:op-1", None, 0),
    ("a2", "op-1", "wallet.user.view", "user:u-alice", None, 1),
    ("a4", "cli", "wallet.merchant.create", "merchant:m-1", None, 7),
]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.pg,
                pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: COURTYARD_TEST_PG"),
            ],
        ),
    ]
)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'courtyard.db'}"
        return
    name = f"courtyard_audit_migration_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    url = asyncio.run(recreate_pg_database(name))
    try:
        yield url
    finally:
        asyncio.run(drop_pg_database(name))


async def _execute(url: str, statement: str, rows: list[dict[str, Any]] | None = None) -> Any:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(statement), rows or {})
            return result.all() if result.returns_rows else None
    finally:
        await engine.dispose()


async def _prepare(url: str) -> None:
    """At 0015: two entries already in the audit log, and the old table's rows."""
    db = Database(url)
    try:
        async with db.transaction() as tx:
            for i in range(2):
                await append_audit_entry(
                    tx, FrozenClock(T0), actor="system", action="privacy.policy.publish",
                    target=f"policy:EU/{i + 1}",
                )  # fmt: skip
    finally:
        await db.dispose()
    rows = [
        {"i": i, "o": o, "a": a, "t": t, "n": n, "at": T0 + dt.timedelta(minutes=m)}
        for i, o, a, t, n, m in ACTIONS
    ]
    await _execute(
        url,
        "INSERT INTO operator_actions (action_id, operator_id, action, target, note, at) "
        "VALUES (:i, :o, :a, :t, :n, :at)",
        rows,
    )


async def _check(url: str, data_dir: Path) -> None:
    db = Database(url)
    try:
        log = AuditLog(db, FrozenClock(T0), AuditKeyring.from_data_dir(data_dir))
        entries = list(reversed(await log.get_entries(EntryFilter())))
        assert [(e.seq, e.entry_id, e.actor, e.action, e.target) for e in entries[2:]] == [
            (2, "a1", "operator:op-1", "console.sign_in", "operator:op-1"),
            (3, "a2", "operator:op-1", "wallet.user.view", "user:u-alice"),
            (4, "a3", "operator:op-2", "wallet.account.freeze", "account:acc-1"),
            (5, "a4", "cli", "wallet.merchant.create", "merchant:m-1"),
        ]
        assert entries[4].note == "fraud «suspected»"
        assert entries[4].at == T0 + dt.timedelta(minutes=5)
        assert [e.subject_user_id for e in entries[2:]] == [None, "u-alice", None, None]
        assert {str(e.detail) for e in entries[2:]} == {"{'from': 'operator_actions'}"}
        assert (await log.verify()).ok
        head = await log.sign_tree_head()
        assert head is not None
        assert head.tree_size == 6
        report = await log.verify()
        assert report.ok
        assert report.latest == head
        async with db.transaction() as tx:  # the append path carries on after them
            assert (
                await append_audit_entry(tx, log.clock, actor="system", action="a", target="b") == 6
            )
    finally:
        await db.dispose()


def test_operator_actions_move_into_the_audit_log_which_verifies_clean(
    empty_database: str, tmp_path: Path
) -> None:
    upgrade(empty_database, "0015")
    asyncio.run(_prepare(empty_database))

    upgrade(empty_database, "0016")

    tables = asyncio.run(
        _execute(empty_database, "SELECT * FROM audit_log_head")
    )  # the counter followed the copied rows
    assert [tuple(row) for row in tables] == [(1, 6)]
    with pytest.raises(sa.exc.DBAPIError):
        asyncio.run(_execute(empty_database, "SELECT count(*) FROM operator_actions"))
    asyncio.run(_check(empty_database, tmp_path / "data"))


def test_the_downgrade_brings_back_an_empty_append_only_table(empty_database: str) -> None:
    upgrade(empty_database, "0016")

    downgrade(empty_database, "0015")

    assert asyncio.run(_execute(empty_database, "SELECT count(*) FROM operator_actions")) == [(0,)]
    asyncio.run(
        _execute(
            empty_database,
            "INSERT INTO operator_actions (action_id, operator_id, action, target, at) "
            "VALUES ('x', 'o', 'a', 't', :at)",
            [{"at": T0}],
        )
    )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        asyncio.run(_execute(empty_database, "DELETE FROM operator_actions"))
    upgrade(empty_database, "head")  # and up again, copying that row
    assert asyncio.run(_execute(empty_database, "SELECT actor FROM audit_log")) == [("operator:o",)]
