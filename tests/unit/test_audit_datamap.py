"""The audit log's tables are declared column for column, its entries belong to the user they
concern, and nothing in it is ever deleted."""

from __future__ import annotations

from courtyard.domains.audit.datamap import AUDIT_DATA_MAP
from courtyard.migrations.schema import metadata

AUDIT_TABLES = {"audit_log", "audit_log_head", "audit_tree_heads"}


def test_every_audit_column_is_declared_and_every_declaration_exists() -> None:
    audit_tables = {name for name in metadata.tables if name.startswith("audit_")}
    assert set(AUDIT_DATA_MAP) == AUDIT_TABLES == audit_tables
    for table, declared in AUDIT_DATA_MAP.items():
        columns = {column.name for column in metadata.tables[table].columns}
        assert set(declared.columns) == columns, table


def test_entries_belong_to_their_subject_and_are_kept_for_good() -> None:
    assert AUDIT_DATA_MAP["audit_log"].subject.columns == ("subject_user_id",)
    for table in AUDIT_DATA_MAP.values():
        assert {d.retention for d in table.columns.values()} == {"audit_log"}
        assert all("legal_obligation" in d.basis for d in table.columns.values())
