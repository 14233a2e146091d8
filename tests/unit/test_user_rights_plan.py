"""Erasure and the retention purge against the data map (no I/O): every table whose rows
belong to a user has an erasure action, every table with a time-bound retention has a purge
rule, and both name only real tables and columns. Complaint deadlines per policy region."""

from __future__ import annotations

import datetime as dt

import pytest

from courtyard.core.datamap import Retention
from courtyard.domains.privacy.complaints import complaint_due
from courtyard.domains.privacy.datamap_registry import get_data_map
from courtyard.domains.privacy.erasure_steps import KEPT, PSEUDONYMISED, TABLE_ACTIONS
from courtyard.domains.privacy.retention import RULES
from courtyard.migrations.schema import metadata

TIME_BOUND: frozenset[Retention] = frozenset(
    {"30d", "done+90d", "until_delivered", "throttle_window"}
)
KEPT_PAST_ERASURE: frozenset[Retention] = frozenset(
    {"financial_record", "evidence", "legal_record", "audit_log"}
)


def test_every_table_whose_rows_name_a_user_has_an_erasure_action() -> None:
    tables = get_data_map().tables
    personal = {name for name, t in tables.items() if t.subject.columns}
    assert personal - TABLE_ACTIONS.keys() == set()
    assert TABLE_ACTIONS.keys() - metadata.tables.keys() == set()


def test_erasure_keeps_exactly_the_tables_the_data_map_keeps_past_the_account() -> None:
    tables = get_data_map().tables
    for name, action in TABLE_ACTIONS.items():
        retentions = {d.retention for d in tables[name].columns.values()}
        if action in (KEPT, PSEUDONYMISED):
            # conversations stay for the other members (their created_by is signed over).
            assert retentions & KEPT_PAST_ERASURE or name == "conversations", name
        else:
            assert not retentions & KEPT_PAST_ERASURE, name


def test_every_time_bound_retention_has_a_purge_rule_on_real_columns() -> None:
    tables = get_data_map().tables
    bounded = {
        name for name, t in tables.items() if {d.retention for d in t.columns.values()} & TIME_BOUND
    }
    assert {rule.table for rule in RULES} == bounded
    for rule in RULES:
        declared = {d.retention for d in tables[rule.table].columns.values()}
        assert rule.retention in declared, rule.name
        assert set(rule.user_columns) <= set(metadata.tables[rule.table].columns.keys())
        # The rows of held users are skipped by every column the map says names a user.
        assert set(tables[rule.table].subject.columns) <= set(rule.user_columns), rule.name


NEW_YEAR = dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
JAN_31 = dt.datetime(2026, 1, 31, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("region", "created", "due"),
    [
        ("CN", NEW_YEAR, NEW_YEAR + dt.timedelta(days=15)),
        ("DE", NEW_YEAR, NEW_YEAR + dt.timedelta(days=30)),
        ("NO", NEW_YEAR, NEW_YEAR + dt.timedelta(days=30)),  # the EEA, outside the EU
        ("US", NEW_YEAR, NEW_YEAR + dt.timedelta(days=30)),
        (None, NEW_YEAR, NEW_YEAR + dt.timedelta(days=30)),  # no account: the default
        # In February one month is shorter than 30 days: the EU deadline is the month.
        ("FR", JAN_31, dt.datetime(2026, 2, 28, 9, 30, tzinfo=dt.UTC)),
        ("US", JAN_31, JAN_31 + dt.timedelta(days=30)),
        ("FR", dt.datetime(2026, 12, 15, tzinfo=dt.UTC), dt.datetime(2027, 1, 14, tzinfo=dt.UTC)),
    ],
)
def test_complaint_deadlines_follow_the_policy_region(
    region: str | None, created: dt.datetime, due: dt.datetime
) -> None:
    assert complaint_due(region, created) == due
