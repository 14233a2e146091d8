"""Reading entries: pages for operators (filtered) and a user's access log, as plain
dataclasses; never a model."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.db import Database
from courtyard.domains.audit.models import AuditEntry

MAX_PAGE = 500
MAX_SEQ = 2**62  # a cursor past any real position; larger ones would overflow BIGINT


@dataclass(frozen=True, slots=True)
class AuditEntryView:
    """One entry, as stored at position ``seq``."""

    seq: int
    entry_id: str
    at: dt.datetime
    actor: str
    action: str
    target: str
    subject_user_id: str | None
    note: str | None
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Which entries to list. ``actors``: any of these actors exactly; ``action``: exact, or
    a family ending in ``.`` (``wallet.``); ``target``: exact, or a kind ending in ``:``
    (``account:``); ``subject_user_id``: the user the entries concern."""

    actors: tuple[str, ...] = ()
    action: str | None = None
    target: str | None = None
    subject_user_id: str | None = None


def view_of(entry: AuditEntry) -> AuditEntryView:
    return AuditEntryView(
        seq=entry.seq,
        entry_id=entry.entry_id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        target=entry.target,
        subject_user_id=entry.subject_user_id,
        note=entry.note,
        detail=entry.detail,
    )


def _filtered(query: Select[AuditEntry], filters: EntryFilter) -> Select[AuditEntry]:
    if filters.actors:
        query = query.where(AuditEntry.actor.in_(filters.actors))
    if filters.action:
        query = query.where(
            AuditEntry.action.startswith(filters.action, autoescape=True)
            if filters.action.endswith(".")
            else AuditEntry.action == filters.action
        )
    if filters.target:
        query = query.where(
            AuditEntry.target.startswith(filters.target, autoescape=True)
            if filters.target.endswith(":")
            else AuditEntry.target == filters.target
        )
    if filters.subject_user_id:
        query = query.where(AuditEntry.subject_user_id == filters.subject_user_id)
    return query


async def read_entries(
    session: AsyncSession, filters: EntryFilter, *, before: int | None = None, limit: int = 100
) -> list[AuditEntryView]:
    """Entries matching ``filters``, newest first, below position ``before`` if given, in the
    caller's session (so a view can be recorded in the same transaction)."""
    query = _filtered(select(AuditEntry), filters)
    if before is not None:
        query = query.where(AuditEntry.seq < min(before, MAX_SEQ))
    query = query.order_by(AuditEntry.seq.desc()).limit(max(1, min(limit, MAX_PAGE)))
    return [view_of(entry) for entry in await session.scalars(query)]


async def get_entries(
    db: Database, filters: EntryFilter, *, before: int | None = None, limit: int = 100
) -> list[AuditEntryView]:
    """``read_entries`` in a read session of its own."""
    async with db.read() as session:
        return await read_entries(session, filters, before=before, limit=limit)
