"""The transparency report's periods: half-years (``2026-H1``) and quarters (``2026-Q3``) of
UTC time, end exclusive (docs/transparency.md, "Periods")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from courtyard.core.errors import InvalidInput, NotFound

PeriodKind = Literal["half_year", "quarter"]
FIRST_YEAR = 1970
LAST_YEAR = 9998  # the end of 9999-H2 would be in year 10000, which datetime cannot hold
MONTHS: dict[PeriodKind, int] = {"half_year": 6, "quarter": 3}
LETTER: dict[PeriodKind, str] = {"half_year": "H", "quarter": "Q"}
PERIOD_PATTERN = re.compile(r"(\d{4})-([HQ])([1-4])", re.ASCII | re.IGNORECASE)


class InvalidPeriod(InvalidInput):
    code = "invalid_period"
    title = "Not a report period"


class ReportNotFound(NotFound):
    code = "report_not_found"
    title = "No report for this period"


@dataclass(frozen=True, slots=True)
class Period:
    """One report period: ``name`` like ``2026-H1``, ``[start, end)`` in UTC."""

    name: str
    kind: PeriodKind
    start: dt.datetime
    end: dt.datetime

    def provisional(self, now: dt.datetime) -> bool:
        """True while the period has not ended: more cases may still arrive in it."""
        return now < self.end


def parse_period(text: str) -> Period:
    """The period ``text`` names (``2026-H2``, ``2026-q3``); ``InvalidPeriod`` if none."""
    found = PERIOD_PATTERN.fullmatch(text)
    if found is None:
        raise InvalidPeriod("A period is YYYY-H1, YYYY-H2 or YYYY-Q1 to YYYY-Q4, e.g. 2026-H1.")
    year, letter, number = int(found[1]), found[2].upper(), int(found[3])
    kind: PeriodKind = "half_year" if letter == "H" else "quarter"
    if kind == "half_year" and number > 2:
        raise InvalidPeriod("A year has two halves: H1 and H2.")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidPeriod(f"The year must be from {FIRST_YEAR} to {LAST_YEAR}.")
    return _period(kind, year, number)


def period_containing(kind: PeriodKind, moment: dt.datetime) -> Period:
    """The half-year or quarter that ``moment`` (UTC) falls in."""
    utc = moment.astimezone(dt.UTC)
    return _period(kind, utc.year, (utc.month - 1) // MONTHS[kind] + 1)


def periods_between(first: dt.datetime, now: dt.datetime) -> list[Period]:
    """Every half-year and quarter from those holding ``first`` to those holding ``now``;
    newest first by end, a half-year before the quarter that ends with it."""
    found: list[Period] = []
    for kind in MONTHS:
        period = period_containing(kind, min(first, now))
        while period.start <= now:
            found.append(period)
            period = _following(period)
    return sorted(found, key=lambda p: (-p.end.timestamp(), p.start))


def _following(period: Period) -> Period:
    return period_containing(period.kind, period.end)


def _period(kind: PeriodKind, year: int, number: int) -> Period:
    months = MONTHS[kind]
    start = dt.datetime(year, (number - 1) * months + 1, 1, tzinfo=dt.UTC)
    end_month = number * months + 1
    end = (
        dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
        if end_month > 12
        else dt.datetime(year, end_month, 1, tzinfo=dt.UTC)
    )
    return Period(f"{year}-{LETTER[kind]}{number}", kind, start, end)
