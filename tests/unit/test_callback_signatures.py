"""The callback signature: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``,
refused when tampered, signed with another secret, stale, from the future or malformed."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from courtyard.core.callback_signatures import BadSignature, sign, verify
from courtyard.core.errors import InvalidInput

SECRET = b"whsec-test-secret"
BODY = b'{"event_id":"e1","status":"succeeded","amount_minor":1250}'
T = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_sign_produces_the_documented_header() -> None:
    expected = hmac.new(SECRET, f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"


def test_a_signed_body_verifies() -> None:
    verify(SECRET, sign(SECRET, BODY, T), BODY, now=T)


def test_bad_signature_is_invalid_input_with_a_stable_code() -> None:
    assert issubclass(BadSignature, InvalidInput)
    assert BadSignature.code == "bad_signature"


def test_a_tampered_body_is_refused() -> None:
    header = sign(SECRET, BODY, T)
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET, header, BODY.replace(b"1250", b"1251"), now=T)


def test_another_secret_is_refused() -> None:
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET, sign(b"another secret", BODY, T), BODY, now=T)


def test_a_changed_timestamp_is_refused() -> None:
    digest = sign(SECRET, BODY, T).split("v1=")[1]
    with pytest.raises(BadSignature, match="does not match"):
        verify(SECRET, f"t={T + 1},v1={digest}", BODY, now=T)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_within_the_tolerance_verify(skew: int) -> None:
    verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + skew)


@pytest.mark.parametrize("skew", [301, 86_400])
def test_a_stale_timestamp_is_refused(skew: int) -> None:
    with pytest.raises(BadSignature, match="tolerance"):
        verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + skew)


@pytest.mark.parametrize("skew", [301, 86_400])
def test_a_timestamp_from_the_future_is_refused(skew: int) -> None:
    with pytest.raises(BadSignature, match="tolerance"):
        verify(SECRET, sign(SECRET, BODY, T), BODY, now=T - skew)


def test_the_tolerance_can_be_narrowed() -> None:
    with pytest.raises(BadSignature, match="tolerance"):
        verify(SECRET, sign(SECRET, BODY, T), BODY, now=T + 11, tolerance=10)


def test_any_matching_v1_verifies_during_a_secret_rotation() -> None:
    old = sign(b"old secret", BODY, T).split("v1=")[1]
    new = sign(SECRET, BODY, T).split("v1=")[1]
    verify(SECRET, f"t={T},v1={old},v1={new}", BODY, now=T)


def test_unknown_schemes_are_ignored() -> None:
    verify(SECRET, sign(SECRET, BODY, T) + ",v0=abc", BODY, now=T)


GOOD_V1 = "0" * 64


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        f"v1={GOOD_V1}",  # no t
        f"t={T}",  # no v1
        f"t=,v1={GOOD_V1}",
        f"t=-5,v1={GOOD_V1}",
        f"t=1e9,v1={GOOD_V1}",
        f"t={T},t={T},v1={GOOD_V1}",  # two timestamps
        f"t={T},v1=xyz",
        f"t={T},v1={GOOD_V1[:-1]}",  # 63 digits
        f"t={T},v1={GOOD_V1.upper().replace('0', 'A')}",  # uppercase hex
        f"t={T},v1={GOOD_V1},junk",
        f"t={T},v1=" + "0" * 2000,  # too long
    ],
)
def test_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(BadSignature):
        verify(SECRET, header, BODY, now=T)
