"""The transparency report: per period, country and process type, what the lawful-request desk
received and did, counted from its tables (docs/transparency.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.db import Database
from courtyard.domains.legal.models import LegalCase, LegalCaseTarget
from courtyard.domains.legal.transparency_periods import (
    Period,
    ReportNotFound,
    parse_period,
    period_containing,
    periods_between,
)
from courtyard.domains.privacy import case_holds_active_at

CONTENT_CATEGORY = "content"  # message and attachment content (end-to-end encrypted)
Cell = tuple[str, str]  # (country, process type)


@dataclass(slots=True)
class Counts:
    """The counts of one row, or of the totals (docs/transparency.md, "What is counted")."""

    received: int = 0
    rejected: int = 0
    narrowed: int = 0
    produced_content: int = 0
    produced_non_content: int = 0
    accounts_specified: int = 0
    accounts_affected: int = 0
    users_notified: int = 0
    holds_active: int = 0

    def add(self, other: Counts) -> None:
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_NAMES}


COUNT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Counts))


@dataclass(frozen=True, slots=True)
class ReportRow:
    country: str
    process_type: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class ListedPeriod:
    """A period a report is available for, and whether it is still provisional."""

    period: Period
    provisional: bool


@dataclass(frozen=True, slots=True)
class TransparencyReport:
    """One period's report; ``holds_counted_at`` is the instant holds were counted at (the
    period's end, or ``generated_at`` while it is provisional)."""

    period: Period
    provisional: bool
    generated_at: dt.datetime
    holds_counted_at: dt.datetime
    rows: tuple[ReportRow, ...]
    totals: Counts

    def by_country(self) -> list[tuple[str, Counts]]:
        """Counts summed per country, most requests first."""
        return _summed((row.country, row.counts) for row in self.rows)

    def by_process_type(self) -> list[tuple[str, Counts]]:
        """Counts summed per process type, most requests first."""
        return _summed((row.process_type, row.counts) for row in self.rows)


class TransparencyReports:
    """Reads the desk's tables into reports; public data, so nothing here is audited."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def get_periods(self) -> list[ListedPeriod]:
        """The periods with a report, newest first (docs/transparency.md, "Periods")."""
        now = self.clock.now()
        async with self.db.read() as session:
            first = await _first_received(session)
        return [ListedPeriod(p, p.provisional(now)) for p in periods_between(first or now, now)]

    async def get_default_period(self) -> Period:
        """The newest half-year that has ended, else the current one."""
        listed = [p for p in await self.get_periods() if p.period.kind == "half_year"]
        ended = [p.period for p in listed if not p.provisional]
        return ended[0] if ended else listed[0].period

    async def get_report(self, name: str) -> TransparencyReport:
        """The report of the period ``name``; ``InvalidPeriod`` or ``ReportNotFound``."""
        period = parse_period(name)
        now = self.clock.now()
        if period.start > now:
            raise ReportNotFound(f"{period.name} has not begun yet.")
        async with self.db.read() as session:
            first = await _first_received(session) or now
            if period.start < period_containing(period.kind, first).start:
                raise ReportNotFound(f"The desk's records begin after {period.name}.")
            at = min(period.end, now)
            cells = await _count(session, period, at)
        rows = tuple(ReportRow(c, p, counts) for (c, p), counts in sorted(cells.items()))
        totals = Counts()
        for row in rows:
            totals.add(row.counts)
        return TransparencyReport(period, period.provisional(now), now, at, rows, totals)


async def _first_received(session: AsyncSession) -> dt.datetime | None:
    first: dt.datetime | None = await session.scalar(select(func.min(LegalCase.received_at)))
    return first


def _received_in(period: Period) -> tuple[ColumnElement[bool], ...]:
    return (LegalCase.received_at >= period.start, LegalCase.received_at < period.end)


async def _count(session: AsyncSession, period: Period, at: dt.datetime) -> dict[Cell, Counts]:
    """Three GROUP BY queries: cases, their targets, their holds active at ``at``."""
    cells: dict[Cell, Counts] = {}
    await _count_cases(session, period, cells)
    await _count_targets(session, period, cells)
    await _count_holds(session, period, at, cells)
    return cells


async def _count_cases(session: AsyncSession, period: Period, cells: dict[Cell, Counts]) -> None:
    # Approved categories are a JSON list (text on SQLite, jsonb on PostgreSQL): group by the
    # list itself, a handful of distinct values, and look for "content" in Python.
    produced = LegalCase.produced_at.is_not(None)
    cases = (
        select(
            LegalCase.country, LegalCase.process_type, LegalCase.review_outcome, produced,
            LegalCase.approved_categories, func.count(),
        )
        .where(*_received_in(period))
        .group_by(
            LegalCase.country, LegalCase.process_type, LegalCase.review_outcome, produced,
            LegalCase.approved_categories,
        )
    )  # fmt: skip
    for country, process, review, was_produced, categories, n in await session.execute(cases):
        counts = cells.setdefault((country, process), Counts())
        _tally_case(counts, review, was_produced, categories, n)


async def _count_targets(session: AsyncSession, period: Period, cells: dict[Cell, Counts]) -> None:
    produced = LegalCase.produced_at.is_not(None)
    notified = LegalCaseTarget.notified_at.is_not(None)
    targets = (
        select(
            LegalCase.country, LegalCase.process_type, LegalCaseTarget.decision, produced,
            notified, func.count(),
        )
        .join_from(LegalCaseTarget, LegalCase, LegalCaseTarget.case_id == LegalCase.case_id)
        .where(*_received_in(period))
        .group_by(
            LegalCase.country, LegalCase.process_type, LegalCaseTarget.decision, produced,
            notified,
        )
    )  # fmt: skip
    for country, process, chosen, was_produced, was_notified, n in await session.execute(targets):
        counts = cells.setdefault((country, process), Counts())
        counts.accounts_specified += n
        counts.accounts_affected += n if chosen == "included" and was_produced else 0
        counts.users_notified += n if was_notified else 0


async def _count_holds(
    session: AsyncSession, period: Period, at: dt.datetime, cells: dict[Cell, Counts]
) -> None:
    held = case_holds_active_at(at)
    holds = (
        select(LegalCase.country, LegalCase.process_type, func.count())
        .join_from(held, LegalCase, held.c.case_id == LegalCase.case_id)
        .where(*_received_in(period))
        .group_by(LegalCase.country, LegalCase.process_type)
    )
    for country, process, n in await session.execute(holds):
        cells.setdefault((country, process), Counts()).holds_active += n


def _tally_case(
    counts: Counts, review: str | None, produced: bool, categories: Any, n: int
) -> None:
    counts.received += n
    counts.rejected += n if review == "rejected" else 0
    counts.narrowed += n if review == "narrowed" else 0
    if produced:
        if isinstance(categories, list) and CONTENT_CATEGORY in categories:
            counts.produced_content += n
        else:
            counts.produced_non_content += n


def _summed(pairs: Iterable[tuple[str, Counts]]) -> list[tuple[str, Counts]]:
    summed: dict[str, Counts] = {}
    for key, counts in pairs:
        summed.setdefault(key, Counts()).add(counts)
    return sorted(summed.items(), key=lambda item: (-item[1].received, item[0]))
