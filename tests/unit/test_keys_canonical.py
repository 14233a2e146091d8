"""Canonical JSON is the exact byte string docs/messaging.md defines, and signatures over it
verify with the signer's Ed25519 key and nothing else."""

from __future__ import annotations

import pytest
import vodozemac

from courtyard.domains.keys.canonical import (
    canonical_json,
    check_signature,
    ed25519_key,
    signed_bytes,
)
from courtyard.domains.keys.errors import BadSignature, InvalidKey


def test_keys_are_sorted_at_every_level_without_spaces() -> None:
    obj = {"b": 1, "a": {"z": [3, {"y": True, "x": None}], "c": "d"}}
    assert canonical_json(obj) == b'{"a":{"c":"d","z":[3,{"x":null,"y":true}]},"b":1}'


def test_unicode_is_utf8_not_escaped() -> None:
    assert canonical_json({"name": "Zoë 😀"}) == '{"name":"Zoë 😀"}'.encode()


def test_the_same_object_in_any_order_gives_the_same_bytes() -> None:
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


def test_signed_bytes_leave_out_only_the_signature() -> None:
    assert signed_bytes({"signature": "s", "key": "k", "fallback": False}) == (
        b'{"fallback":false,"key":"k"}'
    )


def _signed(account: vodozemac.Account, obj: dict[str, object]) -> dict[str, object]:
    return {**obj, "signature": account.sign(signed_bytes(obj)).to_base64()}


def test_a_vodozemac_signature_verifies() -> None:
    account = vodozemac.Account()
    obj = _signed(account, {"key_id": "AAAAAAAAAAA", "key": "k", "fallback": False})
    check_signature(obj, ed25519_key(account.ed25519_key.to_base64()))


@pytest.mark.parametrize(
    "change",
    [
        {"key": "K"},  # the content was changed after signing
        {"extra": "field"},  # a field was added after signing
        {"signature": "A" * 86},  # a well-formed but wrong signature
        {"signature": "not base64!"},
    ],
)
def test_a_changed_object_or_signature_is_refused(change: dict[str, str]) -> None:
    account = vodozemac.Account()
    obj = {**_signed(account, {"key_id": "AAAAAAAAAAA", "key": "k"}), **change}
    with pytest.raises(BadSignature):
        check_signature(obj, ed25519_key(account.ed25519_key.to_base64()))


def test_a_signature_by_another_key_is_refused() -> None:
    obj = _signed(vodozemac.Account(), {"key": "k"})
    with pytest.raises(BadSignature):
        check_signature(obj, ed25519_key(vodozemac.Account().ed25519_key.to_base64()))


def test_a_missing_signature_is_refused() -> None:
    with pytest.raises(BadSignature):
        check_signature({"key": "k"}, ed25519_key(vodozemac.Account().ed25519_key.to_base64()))


@pytest.mark.parametrize("value", ["", "A" * 42, "A" * 44, "A" * 43 + "="])
def test_malformed_ed25519_keys_are_invalid(value: str) -> None:
    with pytest.raises(InvalidKey):
        ed25519_key(value)
