"""Bills and spending in the SDK against the real app through ``httpx.ASGITransport``:
billers, paying a bill once under retries, refusals, listing bills, and spending."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client
from courtyard.client.wallet import Wallet, WalletUnsure
from courtyard.core.money import Money
from tests.conftest import PASSWORD
from tests.integration.bill_support import MOBILE, POWER_METER, register_biller
from tests.integration.test_client_wallet import BASE_URL, PIN, Flaky, Party, party
from tests.integration.wallet_support import fund


@pytest.fixture
async def alice(app: FastAPI) -> AsyncIterator[Party]:
    """Alice with a PIN and 100.00 CNY, and two billers to pay."""
    who = await party(app, "alice", httpx.ASGITransport(app=app))
    await fund(app, who.user_id, 100_00)
    await register_biller(app)
    await register_biller(app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$",
                          hint="your mobile number")  # fmt: skip
    try:
        yield who
    finally:
        await who.client.aclose()


async def test_billers_are_listed_and_a_bill_is_paid_once_per_key(alice: Party) -> None:
    wallet = alice.client.wallet
    power, mobile = await wallet.billers()
    assert (power.name, power.category, power.currency) == ("City Power", "utilities", "CNY")
    assert (power.min_amount, power.max_amount) == (Money(100, "CNY"), Money(500_000, "CNY"))
    assert mobile.reference_hint == "your mobile number"

    bill = await wallet.pay_bill(power, POWER_METER, "42.50", "CNY", idempotency_key="b-1")
    assert (bill.biller_id, bill.biller_name, bill.category) == (
        power.biller_id,
        "City Power",
        "utilities",
    )
    assert (bill.reference, bill.amount, bill.state) == (
        POWER_METER,
        Money(4250, "CNY"),
        "completed",
    )
    assert bill.replayed is False
    again = await wallet.pay_bill(power, POWER_METER, "42.50", "CNY", idempotency_key="b-1")
    assert (again.bill_id, again.replayed) == (bill.bill_id, True)
    with pytest.raises(ApiError) as reused:
        await wallet.pay_bill(power, POWER_METER, "42.51", "CNY", idempotency_key="b-1")
    assert reused.value.code == "idempotency_key_reused"
    by_id = await wallet.pay_bill(mobile.biller_id, MOBILE, Money(2000, "CNY"), "CNY")
    assert await wallet.balance("CNY") == Money(100_00 - 4250 - 2000, "CNY")

    page = await wallet.bills(limit=1)
    assert [b.bill_id for b in page.bills] == [by_id.bill_id]
    assert page.has_more is True
    rest = await wallet.bills(before=by_id.bill_id)
    assert ([b.bill_id for b in rest.bills], rest.has_more) == ([bill.bill_id], False)
    assert (await wallet.get_bill(bill.bill_id)).amount == Money(4250, "CNY")
    with pytest.raises(ApiError) as missing:
        await wallet.get_bill("01900000-0000-7000-8000-000000000000")
    assert missing.value.code == "bill_not_found"


async def test_refusals_come_back_as_api_errors_and_numbers_never_leave(alice: Party) -> None:
    wallet = alice.client.wallet
    power = (await wallet.billers())[0]
    with pytest.raises(ApiError) as wrong:
        await wallet.pay_bill(power, "12", "10.00", "CNY")
    assert (wrong.value.code, wrong.value.extra["reference_hint"]) == (
        "invalid_reference",
        "the 10-digit meter number",
    )
    with pytest.raises(ApiError) as bounds:
        await wallet.pay_bill(power, POWER_METER, "0.50", "CNY")
    assert bounds.value.code == "amount_out_of_bounds"
    with pytest.raises(TypeError, match="decimal string"):
        await wallet.pay_bill(power, POWER_METER, 10.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in EUR, not CNY"):
        await wallet.pay_bill(power, POWER_METER, Money(100, "EUR"), "CNY")
    with pytest.raises(ValueError, match="needs the payment PIN"):
        await Wallet(alice.client).pay_bill(power, POWER_METER, "1.00", "CNY")
    assert await wallet.balance("CNY") == Money(100_00, "CNY")


async def test_5xx_answers_are_retried_with_the_same_key_and_body_and_pay_once(
    app: FastAPI, alice: Party
) -> None:
    flaky = Flaky(app, failures=2, status=503)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=5)
        power = (await wallet.billers())[0]
        bill = await wallet.pay_bill(power, POWER_METER, "3.00", "CNY")
        assert bill.replayed is False
        assert len(flaky.money_calls) == 3
        assert len(set(flaky.money_calls)) == 1
        assert json.loads(flaky.money_calls[0][1])["reference"] == POWER_METER
        assert await wallet.balance("CNY") == Money(100_00 - 300, "CNY")
        assert len((await wallet.bills()).bills) == 1


async def test_no_answer_in_time_is_wallet_unsure_and_the_key_pays_later(
    app: FastAPI, alice: Party
) -> None:
    flaky = Flaky(app, failures=1_000, status=None)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN, retry_for=0.3)
        power = (await wallet.billers())[0]
        with pytest.raises(WalletUnsure) as unsure:
            await wallet.pay_bill(power, POWER_METER, "3.00", "CNY", idempotency_key="bill-k")
        assert unsure.value.idempotency_key == "bill-k"
        assert {key for key, _ in flaky.money_calls} == {"bill-k"}
        flaky.failures = 0
        later = await wallet.pay_bill(power, POWER_METER, "3.00", "CNY", idempotency_key="bill-k")
        assert later.replayed is False
        assert await wallet.balance("CNY") == Money(100_00 - 300, "CNY")


async def test_4xx_answers_are_not_retried(app: FastAPI, alice: Party) -> None:
    flaky = Flaky(app, failures=0)
    async with Client(BASE_URL, transport=flaky) as client:
        await client.login("alice", PASSWORD)
        wallet = Wallet(client, pin=PIN)
        with pytest.raises(ApiError) as unknown:
            await wallet.pay_bill(
                "01900000-0000-7000-8000-000000000000", POWER_METER, "1.00", "CNY"
            )
        assert unknown.value.code == "biller_not_found"
        assert len(flaky.money_calls) == 1


async def test_spending_groups_bills_by_category_within_the_range(alice: Party) -> None:
    wallet = alice.client.wallet
    power, mobile = await wallet.billers()
    await wallet.pay_bill(power, POWER_METER, "30.00", "CNY")
    await wallet.pay_bill(power, POWER_METER, "12.50", "CNY")
    await wallet.pay_bill(mobile, MOBILE, "50.00", "CNY")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    spending = await wallet.spending(start, start + dt.timedelta(days=31), "CNY")
    assert [(c.category, c.spent) for c in spending.categories] == [
        ("phone", Money(5000, "CNY")),
        ("utilities", Money(4250, "CNY")),
    ]
    assert spending.spent("utilities") == Money(4250, "CNY")
    assert spending.spent("food") == Money(0, "CNY")
    assert (spending.start, spending.income) == (start, Money(0, "CNY"))
    earlier = await wallet.spending(start - dt.timedelta(days=31), start, "CNY")
    assert earlier.categories == ()
    default = await wallet.spending(None, None, "CNY")
    assert default.spent("phone") == Money(5000, "CNY")
    with pytest.raises(ApiError) as too_long:
        await wallet.spending(start, start + dt.timedelta(days=367), "CNY")
    assert too_long.value.code == "range_too_long"
