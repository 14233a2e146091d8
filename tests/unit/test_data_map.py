"""The data map declares every column of every model and nothing else, and its subjects,
links and wording hold together (docs/data-map.md)."""

from __future__ import annotations

import typing

import pytest

from courtyard.core.datamap import (
    Category,
    DataMap,
    Retention,
    by_user,
    declare,
    no_subject,
    table,
    through,
)
from courtyard.core.datamap_terms import CATEGORY_LABELS, RETENTION_TERMS, retention_term
from courtyard.core.regions import POLICY_REGIONS
from courtyard.domains.privacy.datamap_registry import data_map_json, get_data_map, register
from courtyard.migrations.schema import metadata


def test_every_column_of_every_model_is_declared() -> None:
    tables = get_data_map().tables
    undeclared = {
        f"{name}.{column.name}"
        for name, model_table in metadata.tables.items()
        for column in model_table.columns
        if column.name not in (tables[name].columns if name in tables else {})
    }
    assert undeclared == set()


def test_every_declared_table_and_column_exists() -> None:
    stale = {
        f"{name}.{column}"
        for name, table_map in get_data_map().tables.items()
        for column in table_map.columns
        if name not in metadata.tables or column not in metadata.tables[name].columns
    }
    assert stale == set()


def test_personal_tables_name_the_user_through_a_column_or_a_link() -> None:
    for name, table_map in get_data_map().tables.items():
        subject = table_map.subject
        assert subject.personal or subject.note, f"{name}: say why no user owns its rows"
        for column in subject.columns:
            assert metadata.tables[name].columns[column].type.python_type is str, name


def test_ledger_rows_reach_their_owner_through_the_account() -> None:
    tables = get_data_map().tables
    assert tables["ledger_accounts"].subject.columns == ("owner_id",)
    assert tables["ledger_postings"].subject.links == (
        through("account_id", "ledger_accounts", "account_id"),
    )
    assert tables["ledger_entries"].subject.links[0].table == "ledger_postings"


def test_secrets_are_credentials_and_ciphertext_is_labelled() -> None:
    tables = get_data_map().tables
    for name, column in [
        ("users", "password_hash"),
        ("wallet_pins", "pin_hash"),
        ("access_tokens", "token_hash"),
        ("operators", "password_hash"),
    ]:
        assert tables[name].columns[column].category == "credential"
    assert tables["timeline_events"].columns["content"].category == "e2ee_content"
    assert tables["to_device_inbox"].columns["content"].category == "e2ee_content"


def test_financial_records_keep_their_meaning_and_outlive_the_account() -> None:
    tables = get_data_map().tables
    for name in ("ledger_entries", "ledger_postings", "transfers", "payments"):
        for declaration in tables[name].columns.values():
            if declaration.category == "e2ee_reference":  # the memo goes with the account
                continue
            assert declaration.retention == "financial_record", name
            assert "legal_obligation" in declaration.basis, name
    assert tables["transfers"].columns["memo_seq"].category == "e2ee_reference"


def test_the_lawful_request_target_list_is_withheld_from_the_export() -> None:
    subject = get_data_map().tables["legal_case_targets"].subject
    assert subject.columns == ("user_id",)
    assert subject.withheld


def test_every_category_and_retention_has_words_in_every_region() -> None:
    assert set(CATEGORY_LABELS) == set(typing.get_args(Category))
    assert set(RETENTION_TERMS) == set(typing.get_args(Retention))
    for retention in typing.get_args(Retention):
        for region in POLICY_REGIONS:
            assert retention_term(retention, region).text
    assert (
        retention_term("financial_record", "CN").period
        != retention_term("financial_record", "EU").period
    )


def test_the_version_changes_with_any_declaration() -> None:
    one: DataMap = {"t": table(by_user("u"), declare("u", "identifier", "x", ("contract",), "30d"))}
    two: DataMap = {"t": table(by_user("u"), declare("u", "identifier", "y", ("contract",), "30d"))}
    assert register({"d": one}).version != register({"d": two}).version
    assert register({"d": one}).version == register({"d": dict(one)}).version


def test_broken_maps_are_refused() -> None:
    column = declare("a", "technical", "x", ("contract",), "30d")
    with pytest.raises(ValueError, match="declared twice"):
        table(no_subject("n"), column, column)
    dangling: DataMap = {"t": table(by_user(links=(through("a", "nowhere"),)), column)}
    with pytest.raises(ValueError, match="undeclared nowhere"):
        register({"d": dangling})
    with pytest.raises(ValueError, match="declared by d and e"):
        register({"d": {"t": table(no_subject("n"))}, "e": {"t": table(no_subject("n"))}})


def test_the_json_form_names_domain_subject_and_columns() -> None:
    body = data_map_json(get_data_map(), only="media")
    assert body["version"] == get_data_map().version
    media = body["tables"]["media"]
    assert media["domain"] == "media"
    assert media["subject"]["columns"] == ["user_id"]
    assert media["columns"]["sha256"]["category"] == "e2ee_reference"
    assert set(data_map_json(get_data_map())["tables"]) == set(metadata.tables)


def test_each_domain_declares_its_own_tables() -> None:
    domains = get_data_map().domains
    wallet_prefixes = ("ledger_", "wallet_", "provider_", "red_packet", "reconciliation_")
    for name in metadata.tables:
        if name.startswith(wallet_prefixes) or name in ("transfers", "payments", "billers"):
            assert domains[name] == "wallet", name
    assert domains["due_jobs"] == "jobs"
    assert {domains[n] for n in ("operators", "operator_sessions", "users")} == {"accounts"}
    assert {domains[n] for n in metadata.tables if n.startswith("legal_c")} == {"legal"}
    assert domains["audit_log"] == "audit"
