"""Notices from the operator to a user: a lawful request about their data, an answered
complaint, a new policy version. Shown in the privacy center."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.db import Tx
from courtyard.domains.privacy.models import UserNotice

NOTICE_KINDS = ("legal_request", "complaint_answered", "policy_changed", "erasure")


async def add_user_notice(
    tx: Tx, clock: Clock, *, user_id: str, kind: str, title: str, body: str
) -> str:
    """Leave a notice for ``user_id`` in the caller's transaction; returns its id."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    notice = UserNotice(
        user_id=user_id,
        notice_id=new_id(),
        kind=kind,
        title=title[:200],
        body=body,
        created_at=clock.now(),
    )
    tx.session.add(notice)
    await tx.session.flush()
    return notice.notice_id


async def get_user_notices(
    session: AsyncSession, user_id: str, limit: int = 100
) -> list[UserNotice]:
    """The user's notices, newest first."""
    rows = await session.scalars(
        select(UserNotice)
        .where(UserNotice.user_id == user_id)
        .order_by(UserNotice.created_at.desc(), UserNotice.notice_id.desc())
        .limit(limit)
    )
    return list(rows)
