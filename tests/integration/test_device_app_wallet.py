"""The device app's wallet page against the real server app: set a PIN, send, accept and
return transfers, and see balances and recent lines."""

from __future__ import annotations

import re

from fastapi import FastAPI

from tests.conftest import PASSWORD
from tests.integration.test_device_app import Browser, OpenBrowser, browser
from tests.integration.wallet_support import fund

__all__ = ["browser"]  # the fixture, shared with the other device-app tests
PIN = "246810"


async def signed_up(browser: OpenBrowser, username: str) -> tuple[Browser, str]:
    page = await browser(username)
    await page.open()
    return page, await page.sign_up(username)


async def test_send_accept_and_return_from_the_wallet_page(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice, alice_id = await signed_up(browser, "alice")
    bob, _ = await signed_up(browser, "bob")
    await fund(app, alice_id, 10_000)
    await alice.app.device.use(lambda m: m.create_conversation(["bob"]))

    home = await alice.http.get("/wallet")
    assert home.status_code == 200, home.text
    assert 'href="/wallet"' in home.text
    assert "100.00 CNY" in home.text
    assert "Set your payment PIN" in home.text

    no_pin = await alice.post("/wallet/transfers", data={
        "to": "bob", "amount": "10.50", "currency": "CNY", "pin": PIN})  # fmt: skip
    assert no_pin.status_code == 422
    assert "PIN" in no_pin.text
    set_pin = await alice.post("/wallet/pin", data={"pin": PIN, "password": PASSWORD})
    assert set_pin.headers["HX-Redirect"] == "/wallet"
    assert "Change your payment PIN" in (await alice.http.get("/wallet")).text

    for amount in ("10.50", "2.00"):
        sent = await alice.post("/wallet/transfers", data={
            "to": "bob", "amount": amount, "currency": "CNY", "pin": PIN})  # fmt: skip
        assert sent.headers["HX-Redirect"] == "/wallet", sent.text
    after = (await alice.http.get("/wallet")).text
    assert "87.50 CNY" in after
    assert "-10.50 CNY" in after  # the statement line

    waiting = (await bob.http.get("/wallet")).text
    ids = re.findall(r'hx-post="/wallet/transfers/([^/"]+)/accept"', waiting)
    assert len(ids) == 2
    # Newest first: ids[0] is the 2.00 transfer, ids[1] the 10.50 one.
    accepted = await bob.post(f"/wallet/transfers/{ids[1]}/accept")
    assert accepted.headers["HX-Redirect"] == "/wallet"
    returned = await bob.post(f"/wallet/transfers/{ids[0]}/return")
    assert returned.headers["HX-Redirect"] == "/wallet"
    bob_home = (await bob.http.get("/wallet")).text
    assert "10.50 CNY" in bob_home
    assert "Nothing waiting for you." in bob_home
    assert "89.50 CNY" in (await alice.http.get("/wallet")).text

    again = await bob.post(f"/wallet/transfers/{ids[0]}/accept")
    assert again.status_code == 422
    assert (await bob.post(f"/wallet/transfers/{ids[0]}/steal")).status_code == 404


async def test_wallet_forms_need_the_csrf_token(browser: OpenBrowser) -> None:
    alice, _ = await signed_up(browser, "alice")
    refused = await alice.http.post("/wallet/pin", data={"pin": PIN, "password": PASSWORD})
    assert refused.status_code == 403
    assert "Set your payment PIN" in (await alice.http.get("/wallet")).text
