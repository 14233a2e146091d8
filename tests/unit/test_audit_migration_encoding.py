"""Migration 0016 hashes the copied ``operator_actions`` rows with its own frozen copy of the
leaf encoding; it must give the same bytes as ``leaves.encode_entry``, or the copied entries
would fail verification."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from courtyard.domains.audit.leaves import encode_entry, leaf_hash
from courtyard.migrations import versions

MIGRATION = Path(versions.__path__[0]) / "2026_11_29_0016_audit_log_takes_over_operator_actions.py"
AT = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)
BEIJING = dt.timezone(dt.timedelta(hours=8))  # the same instant, written in another zone
ENTRIES: list[dict[str, Any]] = [
    {
        "seq": 0, "entry_id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "at": AT,
        "actor": "operator:0190a1b2-0000-7000-8000-000000000001", "action": "wallet.user.view",
        "target": "user:0190a1b2-0000-7000-8000-000000000002",
        "subject_user_id": "0190a1b2-0000-7000-8000-000000000002", "note": None, "detail": None,
    },
    {
        "seq": 12345678901, "entry_id": "e", "at": AT.astimezone(BEIJING),
        "actor": "cli", "action": "wallet.account.freeze", "target": "account:x",
        "subject_user_id": None, "note": "frozen: «fraud» 诈骗 \"quoted\" \\ \n tab\t",
        "detail": {"from": "operator_actions", "nested": {"b": [1, 2.5, None], "a": True}},
    },
]  # fmt: skip


@pytest.fixture(scope="module")
def migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0016", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fields", ENTRIES, ids=["operator view", "cli with unicode"])
def test_the_migrations_frozen_encoding_gives_the_same_bytes_and_hash(
    migration: ModuleType, fields: dict[str, Any]
) -> None:
    frozen = migration.encode_entry_v1(**fields)
    assert frozen == encode_entry(**fields)
    assert migration.leaf_hash_v1(frozen) == leaf_hash(encode_entry(**fields))


@pytest.mark.parametrize("sqlite", [True, False])
def test_a_copied_action_hashes_as_the_audit_log_would_hash_it(
    migration: ModuleType, sqlite: bool
) -> None:
    at = AT.replace(tzinfo=None) if sqlite else AT  # SQLite hands back naive UTC times
    row = SimpleNamespace(
        action_id="a1", operator_id="op-1", action="wallet.user.view", target="user:u-9",
        note="why", at=at,
    )  # fmt: skip
    copied = migration.entry_from_action(row, 7, sqlite)
    fields = {k: v for k, v in copied.items() if k != "leaf_hash"} | {"at": AT}
    assert fields["actor"] == "operator:op-1"
    assert fields["subject_user_id"] == "u-9"
    assert fields["detail"] == {"from": "operator_actions"}
    assert copied["leaf_hash"] == leaf_hash(encode_entry(**fields))
    assert (copied["at"].tzinfo is None) is sqlite
    cli = migration.entry_from_action(
        SimpleNamespace(**{**vars(row), "operator_id": "cli"}), 8, sqlite
    )
    assert (cli["actor"], cli["seq"]) == ("cli", 8)
