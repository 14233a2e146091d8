"""The desk's rules (docs/legal-desk.md, "Rules"): the shipped defaults per process type and
category, jurisdiction, and what an override file may and may not say."""

from __future__ import annotations

from pathlib import Path

import pytest

from courtyard.core.config import load_settings
from courtyard.core.errors import ConfigError
from courtyard.domains.legal import CATEGORIES, PROCESS_TYPES, Rules, load_rules
from courtyard.domains.legal.roles import (
    APPROVE_ROLES,
    HANDLE_ROLES,
    INTAKE_ROLES,
    REVIEW_ROLES,
    VIEW_ROLES,
)
from courtyard.domains.legal.rules import TargetFacts

# The defaults, spelled out: the process types that may produce each category.
EXPECTED = {
    "subscriber": {"subpoena", "court_order", "search_warrant", "emergency",
                   "mutual_legal_assistance"},
    "connection_logs": {"court_order", "search_warrant", "emergency", "mutual_legal_assistance"},
    "transactions": {"court_order", "search_warrant", "mutual_legal_assistance"},
    "message_metadata": {"court_order", "search_warrant", "mutual_legal_assistance"},
    "content": {"search_warrant", "mutual_legal_assistance"},
}  # fmt: skip


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


@pytest.mark.parametrize("process_type", [p for p in PROCESS_TYPES if p != "preservation_request"])
@pytest.mark.parametrize("category", CATEGORIES)
def test_the_defaults_admit_exactly_the_documented_process_types(
    rules: Rules, process_type: str, category: str
) -> None:
    advice = rules.category_advice(process_type, category)
    if process_type in EXPECTED[category]:
        assert (advice.code, advice.refused) == ("allowed", False)
    else:
        assert (advice.code, advice.refused) == ("insufficient_process", True)
        assert category.replace("_", " ") in advice.reason


def test_emergency_reaches_subscriber_data_and_connection_logs_only(rules: Rules) -> None:
    evaluation = rules.evaluate("DE", "emergency", CATEGORIES, [])
    assert evaluation.refused_categories() == ["transactions", "message_metadata", "content"]


def test_a_preservation_request_preserves_every_category_and_never_produces(rules: Rules) -> None:
    evaluation = rules.evaluate("DE", "preservation_request", CATEGORIES, [])
    assert {a.code for a in evaluation.categories} == {"preserve"}
    assert evaluation.refused_categories() == []
    assert evaluation.production_allowed is False
    assert rules.evaluate("DE", "court_order", CATEGORIES, []).production_allowed is True


def test_jurisdiction_is_the_registration_country_unless_mutual_legal_assistance(
    rules: Rules,
) -> None:
    home, abroad, missing = (
        TargetFacts(1, "alice", "DE"), TargetFacts(2, "jean", "FR"), TargetFacts(3, "ghost", None),
    )  # fmt: skip
    court = rules.evaluate("DE", "court_order", ["subscriber"], [home, abroad, missing])
    assert [(no, a.code) for no, a in court.targets] == [
        (1, "allowed"), (2, "out_of_jurisdiction"), (3, "not_found"),
    ]  # fmt: skip
    assert "registered in FR, not DE" in court.targets[1][1].reason
    assert "mutual legal assistance" in court.targets[1][1].reason
    mla = rules.evaluate("DE", "mutual_legal_assistance", ["subscriber"], [home, abroad])
    assert [a.code for _, a in mla.targets] == ["allowed", "allowed"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return path


PERMISSIVE = """
[production]
subscriber = ["subpoena", "court_order", "search_warrant", "emergency", "mutual_legal_assistance"]
connection_logs = ["subpoena"]
transactions = ["court_order"]
message_metadata = ["court_order"]
content = []
[preservation]
process_types = []
[jurisdiction]
same_country = false
"""


def test_an_override_file_replaces_the_defaults_whole(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, PERMISSIVE))
    assert rules.category_advice("subpoena", "connection_logs").code == "allowed"
    content = rules.category_advice("mutual_legal_assistance", "content")
    assert content.code == "insufficient_process"
    assert "a process the rules do not name" in content.reason
    abroad = rules.target_advice("DE", "subpoena", TargetFacts(1, "jean", "FR"))
    assert abroad.code == "allowed"
    # With no preservation-only types, a preservation request is judged like any other.
    assert rules.category_advice("preservation_request", "subscriber").code == (
        "insufficient_process"
    )
    assert rules.describe()["source"] == str(tmp_path / "rules.toml")


def test_the_settings_name_the_override_file(tmp_path: Path) -> None:
    path = write(tmp_path, PERMISSIVE)
    settings = load_settings(legal_rules_path=path, data_dir=tmp_path)
    assert settings.legal_rules_path == path
    assert load_settings(data_dir=tmp_path).legal_rules_path is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[production]\nsubscriber = ['subpoena']\n", "leaves out"),
        (PERMISSIVE + "\n[extra]\n", "unknown sections"),
        (PERMISSIVE.replace("content = []", "content = []\nfingerprints = []"),
         "unknown categories"),
        (PERMISSIVE.replace('["subpoena"]', '["a_letter"]'), "unknown process types"),
        (PERMISSIVE.replace('["subpoena"]', '"subpoena"'), "must be a list"),
        (PERMISSIVE.replace("same_country = false", "same_country = 'no'"), "true or false"),
        ("[production\n", "legal rules"),
    ],
)  # fmt: skip
def test_an_invalid_rules_file_is_a_configuration_error(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_rules(write(tmp_path, text))


def test_a_missing_rules_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="legal rules"):
        load_rules(tmp_path / "nowhere.toml")


def test_the_cli_declares_the_desks_roles() -> None:
    from courtyard.cli.admin_roles import roles_of

    assert roles_of("legal intake") == INTAKE_ROLES
    assert roles_of("legal review") == REVIEW_ROLES
    assert roles_of("legal approve") == roles_of("legal package") == APPROVE_ROLES
    for command in ("list", "show", "rules"):
        assert set(roles_of(f"legal {command}")) == set(VIEW_ROLES)
    for command in ("hold", "release-holds", "notify", "lift-gag", "close"):
        assert roles_of(f"legal {command}") == HANDLE_ROLES
