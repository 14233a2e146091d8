"""Appending to the audit log inside the caller's transaction, so an action and its record
commit together or not at all."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Tx
from courtyard.domains.audit.leaves import encode_entry, leaf_hash
from courtyard.domains.audit.models import AuditEntry, AuditLogHead

HEAD_ID = 1


async def append_audit_entry(
    tx: Tx,
    clock: Clock,
    *,
    actor: str,
    action: str,
    target: str,
    subject_user_id: str | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one entry and return its position. ``actor`` says who acted
    (``operator:<id>``, ``cli:<login>``, ``system``, ``miniapp:<id>``); ``action`` is a dotted
    verb (``legal.case.approve``); ``target`` names what it touched (``user:<id>``,
    ``case:<id>``); ``subject_user_id`` is the user whose data it concerns, which puts the entry
    in that user's access log. The head row's lock serialises appends until commit."""
    session = tx.session
    size = await _locked_size(tx)
    if detail is not None:
        # Hash what will be read back: JSON has no tuples and only string keys.
        detail = json.loads(json.dumps(detail))
    entry = AuditEntry(
        seq=size,
        entry_id=new_id(),
        at=clock.now(),
        actor=actor[:64],
        action=action[:64],
        target=target[:160],
        subject_user_id=subject_user_id,
        note=note[:500] if note else None,
        detail=detail,
    )
    entry.leaf_hash = leaf_hash(
        encode_entry(
            seq=entry.seq, entry_id=entry.entry_id, at=entry.at, actor=entry.actor,
            action=entry.action, target=entry.target, subject_user_id=subject_user_id,
            note=entry.note, detail=detail,
        )
    )  # fmt: skip
    session.add(entry)
    await session.execute(
        update(AuditLogHead).where(AuditLogHead.head_id == HEAD_ID).values(size=size + 1)
    )
    await session.flush()
    return size


async def _locked_size(tx: Tx) -> int:
    """The next position, with the head row locked until commit. A database emptied by
    TRUNCATE (tests) or restored without the row gets it back, counted from the entries; two
    appends racing to put it back both end up waiting on the one row."""
    session = tx.session
    locked = select(AuditLogHead.size).where(AuditLogHead.head_id == HEAD_ID).with_for_update()
    size = await session.scalar(locked)
    if size is not None:
        return int(size)
    last = await session.scalar(select(func.max(AuditEntry.seq)))
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(AuditLogHead)
        .values(head_id=HEAD_ID, size=0 if last is None else int(last) + 1)
        .on_conflict_do_nothing(index_elements=["head_id"])
    )
    return int(await session.scalar(locked) or 0)
