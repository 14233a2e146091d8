"""Top up and withdraw on the device app's wallet page against the real server app and its
in-process sandbox provider: the operation's state shown and followed until final, the
balance after it, the provider's pay link, and refusals shown with the server's code."""

from __future__ import annotations

import re

from fastapi import FastAPI

from tests.conftest import PASSWORD
from tests.integration.test_device_app import Browser, OpenBrowser, browser, eventually
from tests.integration.test_device_app_wallet import signed_up

__all__ = ["browser"]  # the fixture, shared with the other device-app tests
PIN = "246810"
BANK = "tok_bank_1"


def operation_id(fragment: str) -> str:
    match = re.search(r"Operation <code>([^<]+)</code>", fragment)
    assert match, fragment
    return match.group(1)


async def reaches(page: Browser, operation_id: str, state: str) -> str:
    """The operation's status fragment once it shows ``state``."""
    shown = ""

    async def there() -> bool:
        nonlocal shown
        response = await page.http.get(f"/wallet/operations/{operation_id}")
        assert response.status_code == 200, response.text
        shown = response.text
        return f'data-state="{state}"' in shown

    await eventually(there)
    return shown


async def balance(page: Browser, currency: str = "CNY") -> str:
    table = (await page.http.get("/wallet/balances")).text
    match = re.search(rf'data-currency="{currency}">\s*<td>{currency}</td>\s*'
                      r'<td class="balance">([^<]+)</td>', table)  # fmt: skip
    assert match, table
    return match.group(1)


async def test_top_up_then_withdraw_from_the_wallet_page(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice, _ = await signed_up(browser, "alice")
    home = (await alice.http.get("/wallet")).text
    assert 'hx-post="/wallet/topups"' in home
    assert 'hx-post="/wallet/withdrawals"' in home
    assert '<input name="pin" type="password" inputmode="numeric" autocomplete="off"' in home
    assert "<option>EUR</option>" in home  # every enabled currency

    started = await alice.post("/wallet/topups", data={"amount": "25.00", "currency": "CNY"})
    assert started.status_code == 200, started.text
    assert "Top-up of 25.00 CNY" in started.text
    topup_id = operation_id(started.text)
    assert f'hx-get="/wallet/operations/{topup_id}"' in started.text  # follows until final
    done = await reaches(alice, topup_id, "succeeded")
    assert "the money is in your balance" in done
    assert "hx-get" not in done  # final: it stops re-fetching
    assert await balance(alice) == "25.00 CNY"

    set_pin = await alice.post("/wallet/pin", data={"pin": PIN, "password": PASSWORD})
    assert set_pin.headers["HX-Redirect"] == "/wallet"
    held = await alice.post("/wallet/withdrawals", data={
        "amount": "10.00", "currency": "CNY", "destination": BANK, "pin": PIN})  # fmt: skip
    assert held.status_code == 200, held.text
    assert 'data-state="held"' in held.text
    assert "Withdrawal of 10.00 CNY" in held.text
    assert PIN not in held.text
    assert await balance(alice) == "15.00 CNY"  # taken at once
    paid = await reaches(alice, operation_id(held.text), "succeeded")
    assert "paid out to your bank account" in paid
    assert await balance(alice) == "15.00 CNY"
    assert "withdrawal_hold" in (await alice.http.get("/wallet")).text  # recent activity


async def test_refusals_show_the_servers_message_and_code_and_move_nothing(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice, _ = await signed_up(browser, "alice")
    started = await alice.post("/wallet/topups", data={"amount": "5.00", "currency": "CNY"})
    await reaches(alice, operation_id(started.text), "succeeded")
    no_pin_yet = await alice.post("/wallet/withdrawals", data={
        "amount": "1.00", "currency": "CNY", "destination": BANK, "pin": PIN})  # fmt: skip
    assert no_pin_yet.status_code == 422
    assert "(pin_not_set)" in no_pin_yet.text
    set_pin = await alice.post("/wallet/pin", data={"pin": PIN, "password": PASSWORD})
    assert set_pin.headers["HX-Redirect"] == "/wallet"

    wrong = await alice.post("/wallet/withdrawals", data={
        "amount": "1.00", "currency": "CNY", "destination": BANK, "pin": "135790"})  # fmt: skip
    assert wrong.status_code == 422
    assert wrong.headers["HX-Retarget"] == "#flash"
    assert "The payment PIN is wrong (wrong_pin)." in wrong.text
    assert "tries left" in wrong.text
    poor = await alice.post("/wallet/withdrawals", data={
        "amount": "5.01", "currency": "CNY", "destination": BANK, "pin": PIN})  # fmt: skip
    assert poor.status_code == 422
    assert "(insufficient_funds)" in poor.text
    bad_amount = await alice.post("/wallet/topups", data={"amount": "1.234", "currency": "CNY"})
    assert (bad_amount.status_code, "(invalid_amount)" in bad_amount.text) == (422, True)
    missing = await alice.post("/wallet/withdrawals", data={"amount": "1.00", "currency": "CNY"})
    assert missing.status_code == 422
    assert "Fill in the amount" in missing.text
    assert await balance(alice) == "5.00 CNY"

    unknown = await alice.http.get("/wallet/operations/01900000-0000-7000-8000-000000000000")
    assert (unknown.status_code, "(operation_not_found)" in unknown.text) == (422, True)
    no_csrf = await alice.http.post("/wallet/topups", data={"amount": "1.00", "currency": "CNY"})
    assert no_csrf.status_code == 403


async def test_a_topup_waiting_for_the_payer_links_to_the_providers_pay_page(
    browser: OpenBrowser,
) -> None:
    alice, _ = await signed_up(browser, "alice")
    started = await alice.app.device.use(
        lambda m: m.client.wallet.topup("8.00", "CNY", sandbox={"outcome": "wait_for_payer"})
    )
    pending = await reaches(alice, started.operation_id, "pending")
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener noreferrer">', pending)
    assert link, pending
    assert link.group(1).endswith(f"/pay/{started.operation_id}")
    assert link.group(1).startswith("http")
    assert f'hx-get="/wallet/operations/{started.operation_id}"' in pending
