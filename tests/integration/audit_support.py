"""Helpers for the audit-log tests: a log on the test database with its own signing key,
entries appended as the domains append them, and a way past the append-only triggers for
the tests that play an attacker with write access to the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import FrozenClock
from courtyard.db import Database
from courtyard.domains.audit import (
    AuditEntry,
    AuditKeyring,
    AuditLog,
    append_audit_entry,
    encode_entry,
    leaf_hash,
)

USERS = ("u-alice", "u-bob", None)
TRIGGERS = {
    "audit_log": ("audit_log_no_update", "audit_log_no_delete"),
    "audit_tree_heads": ("audit_tree_heads_no_update", "audit_tree_heads_no_delete"),
}


@dataclass
class Audit:
    """A log on the test database, as one server node holds it."""

    db: Database
    clock: FrozenClock
    log: AuditLog
    data_dir: Path

    async def append(self, count: int, **fields: Any) -> list[int]:
        """Append ``count`` varied entries (one transaction each); returns their positions."""
        positions = []
        for i in range(count):
            self.clock.advance(seconds=1)
            async with self.db.transaction() as tx:
                positions.append(
                    await append_audit_entry(
                        tx, self.clock,
                        actor=fields.get("actor", f"operator:op-{i % 3}"),
                        action=fields.get("action", "wallet.user.view"),
                        target=fields.get("target", f"user:{USERS[i % 3] or 'none'}"),
                        subject_user_id=fields.get("subject_user_id", USERS[i % 3]),
                        note=fields.get("note", f"looked «{i}»" if i % 2 else None),
                        detail=fields.get("detail", {"n": i, "why": ["audit", i]}),
                    )
                )  # fmt: skip
        return positions

    def node(self) -> AuditLog:
        """Another node on the same database and key (a fresh cache)."""
        return AuditLog(self.db, self.clock, AuditKeyring.from_data_dir(self.data_dir))


@asynccontextmanager
async def make_audit(database_url: str, data_dir: Path) -> AsyncIterator[Audit]:
    db = Database(database_url)
    clock = FrozenClock(dt.datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=dt.UTC))
    try:
        yield Audit(db, clock, AuditLog(db, clock, AuditKeyring.from_data_dir(data_dir)), data_dir)
    finally:
        await db.dispose()


@asynccontextmanager
async def tampering(db: Database) -> AsyncIterator[AsyncSession]:
    """A transaction that may UPDATE and DELETE the append-only audit tables, as someone with
    the database's owner rights could: SQLite's triggers are dropped (this test's copy of the
    database only); PostgreSQL's user triggers are off for this transaction."""
    async with db.transaction() as tx:
        if db.is_sqlite:
            for names in TRIGGERS.values():
                for name in names:
                    await tx.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            await tx.session.execute(text("SET LOCAL session_replication_role = replica"))
        yield tx.session


def rehash(row: AuditEntry, seq: int | None = None) -> bytes:
    """The leaf hash ``row`` would have at ``seq`` (default: its own)."""
    return leaf_hash(
        encode_entry(
            seq=row.seq if seq is None else seq, entry_id=row.entry_id, at=row.at,
            actor=row.actor, action=row.action, target=row.target,
            subject_user_id=row.subject_user_id, note=row.note, detail=row.detail,
        )
    )  # fmt: skip


async def entry_at(session: AsyncSession, seq: int) -> AuditEntry:
    row = await session.scalar(select(AuditEntry).where(AuditEntry.seq == seq))
    assert row is not None, seq
    return row


async def renumber(session: AsyncSession, from_seq: int, by: int) -> None:
    """Move every entry at ``seq >= from_seq`` by ``by`` positions, leaving each row's leaf
    hash as it was (two steps, so no two rows ever share a position)."""
    await session.execute(
        text("UPDATE audit_log SET seq = -seq - 1000 WHERE seq >= :s"), {"s": from_seq}
    )
    await session.execute(
        text("UPDATE audit_log SET seq = -seq - 1000 + :by WHERE seq < 0"), {"by": by}
    )
