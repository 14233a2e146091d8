"""Report periods (docs/transparency.md, "Periods"): parsing, boundaries, listing."""

from __future__ import annotations

import datetime as dt

import pytest

from courtyard.domains.legal import InvalidPeriod
from courtyard.domains.legal.transparency_periods import (
    parse_period,
    period_containing,
    periods_between,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("2026-H1", (2026, 1, 1), (2026, 7, 1)),
        ("2026-h2", (2026, 7, 1), (2027, 1, 1)),
        ("2026-Q1", (2026, 1, 1), (2026, 4, 1)),
        ("2026-Q3", (2026, 7, 1), (2026, 10, 1)),
        ("2026-q4", (2026, 10, 1), (2027, 1, 1)),
        ("9998-H2", (9998, 7, 1), (9999, 1, 1)),
    ],
)
def test_a_period_is_its_utc_half_year_or_quarter_end_exclusive(
    name: str, start: tuple[int, int, int], end: tuple[int, int, int]
) -> None:
    period = parse_period(name)
    assert period.name == name.upper()
    assert (period.start, period.end) == (
        dt.datetime(*start, tzinfo=UTC),
        dt.datetime(*end, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "name", ["2026-H0", "2026-H3", "2026-Q0", "2026-Q5", "26-H1", "2026H1", "1969-Q4", ""]
)
def test_anything_else_is_not_a_period(name: str) -> None:
    with pytest.raises(InvalidPeriod):
        parse_period(name)


def test_the_last_instant_of_june_and_the_first_of_july_fall_apart() -> None:
    june = dt.datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
    july = june + dt.timedelta(microseconds=1)
    assert period_containing("half_year", june).name == "2026-H1"
    assert period_containing("quarter", june).name == "2026-Q2"
    assert period_containing("half_year", july).name == "2026-H2"
    assert period_containing("quarter", july).name == "2026-Q3"
    assert not parse_period("2026-H1").provisional(july)
    assert parse_period("2026-H2").provisional(july)


def test_periods_are_listed_newest_first_each_half_before_its_last_quarter() -> None:
    first = dt.datetime(2025, 11, 3, tzinfo=UTC)
    now = dt.datetime(2026, 4, 1, tzinfo=UTC)  # the first instant of Q2
    listed = [p.name for p in periods_between(first, now)]
    assert listed == ["2026-H1", "2026-Q2", "2026-Q1", "2025-H2", "2025-Q4"]
