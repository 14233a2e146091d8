"""Every column of the operator tables is declared in the accounts data map, and nothing
declared is missing from the models."""

from __future__ import annotations

from courtyard.domains.accounts.datamap import OPERATOR_DATA_MAP
from courtyard.migrations.schema import metadata

OPERATOR_TABLES = {"operators", "operator_actions", "operator_sessions"}


def test_every_operator_column_is_declared_and_every_declaration_exists() -> None:
    for table, declared in OPERATOR_DATA_MAP.items():
        columns = {column.name for column in metadata.tables[table].columns}
        assert set(declared) == columns, table


def test_the_operator_data_map_covers_every_operator_table() -> None:
    operator_tables = {name for name in metadata.tables if name.startswith("operator")}
    assert operator_tables == OPERATOR_TABLES == set(OPERATOR_DATA_MAP)


def test_operator_records_are_kept_as_long_as_the_financial_records_they_explain() -> None:
    actions = OPERATOR_DATA_MAP["operator_actions"]
    assert {d.retention for d in actions.values()} == {"financial_record"}
    assert all("legal_obligation" in d.basis for d in actions.values())
