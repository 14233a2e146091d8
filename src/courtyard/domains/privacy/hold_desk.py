"""Legal holds for operators, by username: list the active ones, place one, release one
(docs/user-rights.md, "Legal holds"). The legal desk places its case holds itself; this is
the same ``place_hold``/``release_hold``, with reasons required and, on release, the user's
held erasure re-armed at once when no other hold remains."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from courtyard.core.clock import Clock
from courtyard.core.ids import is_id
from courtyard.db import Database
from courtyard.domains.accounts import UserNotFound, get_profiles, get_user_id_by_username
from courtyard.domains.privacy.erasure import rearm_held_erasure
from courtyard.domains.privacy.holds import place_hold, release_hold
from courtyard.domains.privacy.models import LegalHold
from courtyard.domains.privacy.rights_errors import HoldNotFound, ReasonRequired

MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class HoldView:
    """An active hold as operators see it (``username`` None once the account is gone)."""

    hold_id: str
    user_id: str
    username: str | None
    reason: str
    case_id: str | None
    placed_at: dt.datetime
    placed_by: str


class HoldDesk:
    """Operators' hold management."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def list_active(self, limit: int = 500) -> list[HoldView]:
        """Active holds, oldest first."""
        async with self.db.read() as session:
            rows = list(
                await session.scalars(
                    select(LegalHold)
                    .where(LegalHold.released_at.is_(None))
                    .order_by(LegalHold.placed_at, LegalHold.hold_id)
                    .limit(limit)
                )
            )
            names = await get_profiles(session, {row.user_id for row in rows})
        return [
            HoldView(
                row.hold_id,
                row.user_id,
                (names.get(row.user_id) or (None,))[0],
                row.reason,
                row.case_id,
                row.placed_at,
                row.placed_by,
            )
            for row in rows
        ]

    async def do_place(self, username: str, reason: str, *, actor: str) -> str:
        """Hold ``username``'s data for ``reason``; returns the hold's id."""
        reason = _reason(reason)
        async with self.db.transaction() as tx:
            user_id = await get_user_id_by_username(tx.session, username)
            if user_id is None:
                raise UserNotFound()
            return await place_hold(tx, self.clock, user_id=user_id, reason=reason, placed_by=actor)

    async def do_release(self, hold_id: str, reason: str, *, actor: str) -> bool:
        """Release an active hold with a reason; returns whether the user's held erasure was
        re-armed (it runs at once)."""
        reason = _reason(reason)
        async with self.db.transaction() as tx:
            row = await tx.session.get(LegalHold, hold_id) if is_id(hold_id) else None
            if row is None or row.released_at is not None:
                raise HoldNotFound()
            hold = await release_hold(tx, self.clock, hold_id, released_by=actor, reason=reason)
            return await rearm_held_erasure(tx, self.clock, hold.user_id)


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ReasonRequired()
    return reason
