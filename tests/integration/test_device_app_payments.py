"""The device app's QR pages against the real server app: an owner makes codes (drawn as QR
images on the device) and refunds; a payer pastes or opens a code, sees the merchant, pays
with the PIN; tampered and revoked codes are explained, not paid."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from fastapi import FastAPI

from courtyard.app.security import CSP
from courtyard.domains.wallet import audit_ledger
from tests.conftest import PASSWORD
from tests.integration.merchant_support import forge, register_merchant
from tests.integration.test_device_app import Browser, OpenBrowser, browser
from tests.integration.test_device_app_wallet import signed_up
from tests.integration.wallet_support import fund

__all__ = ["browser"]  # the fixture, shared with the other device-app tests
PIN = "246810"


async def with_pin(page: Browser) -> None:
    response = await page.post("/wallet/pin", data={"pin": PIN, "password": PASSWORD})
    assert response.headers["HX-Redirect"] == "/wallet", response.text


def codes_on(page_html: str) -> list[str]:
    """The codes' texts on the merchant page, newest first."""
    return [html.unescape(c) for c in re.findall(r'class="qr-text">([^<]+)<', page_html)]


async def test_owner_makes_codes_payer_pays_them_and_owner_refunds(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice, alice_id = await signed_up(browser, "alice")
    bob, bob_id = await signed_up(browser, "bob")
    for page in (alice, bob):
        await with_pin(page)
    await fund(app, alice_id, 100_00)
    wallet_home = (await bob.http.get("/wallet")).text
    assert 'href="/wallet/pay"' in wallet_home
    assert 'href="/wallet/merchant"' in wallet_home
    assert "You own no merchants" in (await bob.http.get("/wallet/merchant")).text
    merchant_id = await register_merchant(app, bob_id)

    for amount, label in (("", "door"), ("12.00", "coffee")):
        made = await bob.post(
            f"/wallet/merchant/{merchant_id}/qr",
            data={"amount": amount, "currency": "CNY", "label": label},
        )
        assert made.headers["HX-Redirect"] == "/wallet/merchant", made.text
    shop = await bob.http.get("/wallet/merchant")
    assert shop.headers["content-security-policy"] == CSP
    assert shop.text.count('src="data:image/svg+xml') == 2  # drawn here, as data: images
    fixed, static = codes_on(shop.text)
    assert "12.00 CNY · coffee" in shop.text

    assert "Paste a code" in (await alice.http.get("/wallet/pay")).text
    confirm = await alice.http.get("/wallet/pay", params={"qr": static})
    assert "Pay Noodle Bar" in confirm.text
    assert 'name="amount"' in confirm.text
    paid = await alice.post("/wallet/pay", data={"qr": static, "amount": "25.00", "pin": PIN})
    redirect = paid.headers["HX-Redirect"]
    assert redirect.startswith("/wallet/pay?paid="), paid.text
    done = await alice.http.get(redirect)
    assert "Paid 25.00 CNY to Noodle Bar." in done.text

    # An opened courtyard://pay link: the same query on this page.
    opened = await alice.http.get("/wallet/pay?" + fixed.split("?", 1)[1])
    assert re.search(r'id="pay-amount">12.00 CNY<', opened.text), opened.text
    wrong = await alice.post("/wallet/pay", data={"qr": fixed, "pin": "135790"})
    assert wrong.status_code == 422
    assert "PIN" in wrong.text
    assert (await alice.post("/wallet/pay", data={"qr": fixed, "pin": PIN})).status_code == 204

    tampered = await alice.http.get("/wallet/pay", params={"qr": forge(fixed, a=1)})
    assert 'id="pay-error"' in tampered.text
    assert "altered" in tampered.text
    assert "pay-confirm" not in tampered.text

    owner_page = (await bob.http.get("/wallet/merchant")).text
    payment_ids = re.findall(r'hx-post="/wallet/merchant/payments/([^/"]+)/refund"', owner_page)
    assert len(payment_ids) == 2
    refunded = await bob.post(
        f"/wallet/merchant/payments/{payment_ids[1]}/refund", data={"amount": "5.00", "pin": PIN}
    )
    assert refunded.headers["HX-Redirect"] == "/wallet/merchant", refunded.text
    too_much = await bob.post(
        f"/wallet/merchant/payments/{payment_ids[1]}/refund",
        data={"amount": "20.01", "pin": PIN},
    )
    assert too_much.status_code == 422
    assert "exceed" in too_much.text
    assert "partially_refunded" in (await bob.http.get("/wallet/merchant")).text
    assert "68.00 CNY" in (await alice.http.get("/wallet")).text

    fixed_id = re.findall(rf'/wallet/merchant/{merchant_id}/qr/([^/"]+)/revoke', owner_page)[0]
    revoked = await bob.post(f"/wallet/merchant/{merchant_id}/qr/{fixed_id}/revoke")
    assert revoked.headers["HX-Redirect"] == "/wallet/merchant"
    late = await alice.http.get(f"/wallet/pay?qr={quote(fixed)}")
    assert "withdrawn by the merchant" in late.text
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def test_payment_forms_need_the_csrf_token(app: FastAPI, browser: OpenBrowser) -> None:
    alice, _ = await signed_up(browser, "alice")
    refused = await alice.http.post("/wallet/pay", data={"qr": "courtyard://pay?p=a&s=b"})
    assert refused.status_code == 403
    missing = await alice.post("/wallet/pay", data={"qr": "", "pin": ""})
    assert missing.status_code == 422
    assert "Paste a payment code" in missing.text
