"""What an export and the access log leave out while a lawful request's non-disclosure order
is in force: the audit entries and legal holds of a case whose order has not ended
(docs/data-map.md, "What the export leaves out")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.db import Base

# For each table whose rows may belong to a case: the case id of a row, if any.
CASE_OF: dict[str, Callable[[Mapping[str, Any]], object]] = {
    "audit_log": lambda row: (row.get("detail") or {}).get("case_id"),
    "legal_holds": lambda row: row.get("case_id"),
}


def case_of(table: str, row: Mapping[str, Any]) -> str | None:
    """The case a row of ``table`` belongs to, or None."""
    pick = CASE_OF.get(table)
    value = pick(row) if pick is not None else None
    return value if isinstance(value, str) and value else None


async def get_sealed_cases(
    session: AsyncSession, now: dt.datetime, case_ids: Iterable[str]
) -> set[str]:
    """Those of ``case_ids`` under a non-disclosure order still in force: ``gag`` set, with no
    end date or one still to come."""
    wanted = sorted(set(case_ids))
    if not wanted:
        return set()
    cases = Base.metadata.tables["legal_cases"]
    rows = await session.scalars(
        select(cases.c.case_id).where(
            cases.c.case_id.in_(wanted),
            cases.c.gag.is_(True),
            or_(cases.c.gag_until.is_(None), cases.c.gag_until > now),
        )
    )
    return set(rows)


async def drop_sealed(
    session: AsyncSession, now: dt.datetime, table: str, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``rows`` of ``table`` without those of a case under a non-disclosure order in force."""
    if table not in CASE_OF:
        return rows
    sealed = await get_sealed_cases(session, now, filter(None, (case_of(table, r) for r in rows)))
    return [row for row in rows if case_of(table, row) not in sealed]
