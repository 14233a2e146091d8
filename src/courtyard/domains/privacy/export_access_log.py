"""A user's access log: the audit-log entries whose subject is the user (every operator,
mini-app, legal and own access to their data), newest first, without those of a lawful request
under a non-disclosure order in force (docs/data-map.md, "Access log")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.audit import AuditEntry
from courtyard.domains.privacy.export import iso
from courtyard.domains.privacy.export_sealed import drop_sealed

ACTOR_KINDS = ("operator", "user", "system", "miniapp", "cli")


@dataclass(frozen=True, slots=True)
class AccessLogPage:
    """Entries newest first; ``next_before`` is the cursor for the next (older) page, or None
    at the end."""

    entries: list[dict[str, Any]]
    next_before: int | None


async def get_access_log(
    db: Database, clock: Clock, user_id: str, *, before: int | None = None, limit: int = 50
) -> AccessLogPage:
    """One page of ``user_id``'s access log, older than position ``before`` if given."""
    now = clock.now()
    entries: list[dict[str, Any]] = []
    cursor = before
    async with db.read() as session:
        while len(entries) < limit:
            query = select(AuditEntry).where(AuditEntry.subject_user_id == user_id)
            if cursor is not None:
                query = query.where(AuditEntry.seq < cursor)
            batch = list(await session.scalars(query.order_by(AuditEntry.seq.desc()).limit(limit)))
            if not batch:
                return AccessLogPage(entries, None)
            for entry in await drop_sealed(
                session, now, "audit_log", [entry_json(e) for e in batch]
            ):
                entries.append(entry)
                if len(entries) == limit:
                    return AccessLogPage(entries, entry["seq"])
            cursor = batch[-1].seq
            if len(batch) < limit:
                return AccessLogPage(entries, None)
    return AccessLogPage(entries, cursor)


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as the access log shows it."""
    kind = entry.actor.split(":", 1)[0]
    return {
        "seq": entry.seq,
        "entry_id": entry.entry_id,
        "at": iso(entry.at),
        "actor": entry.actor,
        "actor_kind": kind if kind in ACTOR_KINDS else "other",
        "action": entry.action,
        "target": entry.target,
        "note": entry.note,
        "detail": entry.detail,
    }
