"""Legal holds: while a hold on a user is active, neither erasure nor the retention purge
deletes that user's data. Every placement and release is an audit-log entry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.errors import NotFound
from courtyard.core.ids import new_id
from courtyard.db import Tx
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.privacy.models import LegalHold


async def place_hold(
    tx: Tx,
    clock: Clock,
    *,
    user_id: str,
    reason: str,
    placed_by: str,
    case_id: str | None = None,
) -> str:
    """Hold ``user_id``'s data for ``reason`` (a case's preservation, litigation); returns the
    hold's id. ``placed_by`` is the audit actor (``operator:<id>``)."""
    hold = LegalHold(
        hold_id=new_id(),
        user_id=user_id,
        case_id=case_id,
        reason=reason[:500],
        placed_at=clock.now(),
        placed_by=placed_by[:64],
    )
    tx.session.add(hold)
    await append_audit_entry(
        tx, clock, actor=placed_by, action="privacy.hold.place", target=f"hold:{hold.hold_id}",
        subject_user_id=user_id, note=reason, detail={"case_id": case_id},
    )  # fmt: skip
    return hold.hold_id


async def release_hold(
    tx: Tx, clock: Clock, hold_id: str, *, released_by: str, reason: str
) -> LegalHold:
    """Release an active hold with a reason; ``NotFound`` if there is no such active hold."""
    hold = await tx.session.get(LegalHold, hold_id, with_for_update=True)
    if hold is None or hold.released_at is not None:
        raise NotFound("no active legal hold with this id")
    hold.released_at = clock.now()
    hold.released_by = released_by[:64]
    hold.release_reason = reason[:500]
    await append_audit_entry(
        tx, clock, actor=released_by, action="privacy.hold.release", target=f"hold:{hold_id}",
        subject_user_id=hold.user_id, note=reason, detail={"case_id": hold.case_id},
    )  # fmt: skip
    return hold


async def get_active_holds(session: AsyncSession, user_id: str) -> list[LegalHold]:
    """The user's unreleased holds, oldest first."""
    rows = await session.scalars(
        select(LegalHold)
        .where(LegalHold.user_id == user_id, LegalHold.released_at.is_(None))
        .order_by(LegalHold.placed_at)
    )
    return list(rows)
