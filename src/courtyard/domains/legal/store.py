"""Finding a case by id or reference (locked for a step, or not), its targets, and the
constants of its life: statuses, the notice job, the reference format."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.ids import is_id
from courtyard.domains.legal.errors import CaseNotFound, CaseState
from courtyard.domains.legal.models import LegalCase, LegalCaseEvent, LegalCaseTarget

STATUSES = ("received", "reviewed", "rejected", "approved", "produced", "closed")
# Once a case is rejected, produced or closed, its targets are to be told (docs/legal-desk.md).
DECIDED = frozenset({"rejected", "produced", "closed"})
NOTICE_JOB = "legal.notice"
REFERENCE = re.compile(r"^LR-\d{4}-\d{4,}$")


async def find_case(session: AsyncSession, key: str, *, lock: bool = False) -> LegalCase:
    """The case whose id or reference (``LR-2026-0001``) is ``key``; ``CaseNotFound`` if none.
    ``lock`` takes its row lock, which serialises the steps on one case."""
    key = key.strip()
    if is_id(key):
        statement = select(LegalCase).where(LegalCase.case_id == key)
    elif REFERENCE.fullmatch(key.upper()):
        statement = select(LegalCase).where(LegalCase.reference == key.upper())
    else:
        raise CaseNotFound()
    if lock:
        statement = statement.with_for_update()
    case = await session.scalar(statement.execution_options(populate_existing=True))
    if case is None:
        raise CaseNotFound()
    return case


async def get_targets(session: AsyncSession, case_id: str) -> list[LegalCaseTarget]:
    rows = await session.scalars(
        select(LegalCaseTarget)
        .where(LegalCaseTarget.case_id == case_id)
        .order_by(LegalCaseTarget.target_no)
    )
    return list(rows)


async def next_reference(session: AsyncSession, received_at: dt.datetime) -> str:
    """``LR-<year>-<n>``: the next number of the year of receipt, at least four digits."""
    prefix = f"LR-{received_at.year:04d}-"
    taken = await session.scalars(
        select(LegalCase.reference).where(LegalCase.reference.like(prefix + "%"))
    )
    highest = max((int(ref[len(prefix) :]) for ref in taken), default=0)
    return f"{prefix}{highest + 1:04d}"


async def next_event_no(session: AsyncSession, case_id: str) -> int:
    """The next timeline position (the caller holds the case's row lock)."""
    highest = await session.scalar(
        select(func.max(LegalCaseEvent.event_no)).where(LegalCaseEvent.case_id == case_id)
    )
    return int(highest or 0) + 1


def require_status(case: LegalCase, *allowed: str, step: str) -> None:
    """``CaseState`` unless the case is in one of ``allowed``."""
    if case.status not in allowed:
        raise CaseState(
            f"{case.reference} is {case.status}; {step} needs a case that is "
            + " or ".join(allowed),
            status=case.status,
        )


def is_decided(case: LegalCase) -> bool:
    return case.status in DECIDED


def gag_allows_notice(case: LegalCase, now: dt.datetime) -> bool:
    """Whether the non-disclosure order (if any) lets the targets be told now."""
    return not case.gag or (case.gag_until is not None and case.gag_until <= now)
