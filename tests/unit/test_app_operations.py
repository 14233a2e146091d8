"""The device app's top-up status: a provider's pay link becomes a link only while it can
matter and only when it is a web address; refusals carry the server's code."""

from __future__ import annotations

from typing import Any

import pytest

from courtyard.app.views_operations import pay_url, refusal
from courtyard.client import ApiError, Unreachable
from courtyard.client.wallet import Operation
from courtyard.core.money import Money


def topup(state: str, next_action: dict[str, Any] | None) -> Operation:
    return Operation(
        operation_id="op-1", kind="topup", state=state, amount=Money(800, "CNY"), fee=None,
        next_action=next_action, failure_code=None, created_at=None, updated_at=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("state", "next_action", "link"),
    [
        ("pending", {"pay_url": "https://pay.example/p/1"}, "https://pay.example/p/1"),
        ("created", {"pay_url": "http://127.0.0.1:8900/pay/1"}, "http://127.0.0.1:8900/pay/1"),
        ("succeeded", {"pay_url": "https://pay.example/p/1"}, None),
        ("pending", {"pay_url": "javascript:alert(1)"}, None),
        ("pending", {"pay_url": "JAVASCRIPT:alert(1)"}, None),
        ("pending", {"pay_url": 42}, None),
        ("pending", {}, None),
        ("pending", None, None),
    ],
)
def test_the_pay_link_is_a_web_address_while_the_topup_waits(
    state: str, next_action: dict[str, Any] | None, link: str | None
) -> None:
    assert pay_url(topup(state, next_action)) == link


def test_refusals_name_the_code_and_the_tries_left() -> None:
    wrong = ApiError(403, "wrong_pin", "The payment PIN is wrong", attempts_left=2)
    assert refusal(wrong) == "The payment PIN is wrong (wrong_pin). 2 tries left."
    poor = ApiError(409, "insufficient_funds", "Too low", "The balance is 1.00 CNY")
    assert refusal(poor) == "The balance is 1.00 CNY (insufficient_funds)."
    assert refusal(Unreachable("http://x", "refused")) == "cannot reach http://x: refused"
