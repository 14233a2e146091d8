"""NIST 800-63B password rules and argon2id parameters."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from courtyard.domains.accounts import Hasher, WeakPassword, check_password_rules
from courtyard.domains.accounts.passwords import common_passwords


def test_eight_characters_is_the_minimum() -> None:
    with pytest.raises(WeakPassword):
        check_password_rules("7chars!")
    assert check_password_rules("8 chars!") == "8 chars!"


def test_at_least_64_characters_are_accepted() -> None:
    long = "a long passphrase with spaces and no rules " * 5  # 215 characters
    assert len(long) >= 64
    assert check_password_rules(long) == long


def test_no_composition_rules() -> None:
    # All lower case, no digits, no symbols: fine if it is long and not common.
    assert check_password_rules("correcthorsebatterystaple")
    assert check_password_rules("ÜBERMÄẞIG lang und sicher")


@pytest.mark.parametrize("common", ["password", "12345678", "iloveyou", "PassWord", "courtyard"])
def test_common_passwords_are_refused(common: str) -> None:
    with pytest.raises(WeakPassword) as raised:
        check_password_rules(common)
    assert raised.value.extra["rule"] == "common"


def test_the_blocklist_is_shipped_and_substantial() -> None:
    blocklist = common_passwords()
    assert len(blocklist) > 10_000
    assert all(len(word) >= 8 for word in blocklist)


def test_password_equal_to_username_is_refused() -> None:
    with pytest.raises(WeakPassword):
        check_password_rules("alice.smith", username="Alice.Smith")


def test_over_long_passwords_are_refused() -> None:
    with pytest.raises(WeakPassword):
        check_password_rules("x" * 257)


def test_hashes_are_argon2id_with_at_least_owasp_parameters() -> None:
    hasher = Hasher()
    encoded = hasher.hash_now("correct horse battery staple")
    params = extract_parameters(encoded)
    assert encoded.startswith("$argon2id$")
    assert params.memory_cost >= 19 * 1024
    assert params.time_cost >= 2
    assert hasher.verify_now(encoded, "correct horse battery staple")
    assert not hasher.verify_now(encoded, "correct horse battery stapler")


def test_unicode_forms_of_one_password_match() -> None:
    hasher = Hasher()
    composed = "caf\u00e9 au lait please"
    decomposed = "cafe\u0301 au lait please"
    assert hasher.verify_now(hasher.hash_now(composed), decomposed)


def test_verify_without_a_hash_is_false_but_does_the_work() -> None:
    assert Hasher().verify_now(None, "anything at all") is False
