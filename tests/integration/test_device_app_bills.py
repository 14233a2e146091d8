"""The device app's bills and statement pages against the real server app: paying a biller
with clear refusals, and a month's statement with downloads and its spending chart (inline
SVG: one bar per category, with the right amounts, and no script)."""

from __future__ import annotations

import json
import re

import httpx
from fastapi import FastAPI

from courtyard.app.security import CSP
from tests.conftest import PASSWORD
from tests.integration.bill_support import MOBILE, POWER_METER, register_biller
from tests.integration.test_device_app import Browser, OpenBrowser, browser
from tests.integration.test_device_app_wallet import PIN, signed_up
from tests.integration.wallet_support import fund

__all__ = ["browser"]  # the fixture, shared with the other device-app tests
JANUARY = "month=2026-01&currency=CNY"  # the test server's clock is frozen at 2026-01-01


async def alice_with_billers(app: FastAPI, browser: OpenBrowser) -> tuple[Browser, str, str]:
    """Alice signed up in her device app, with a PIN and 100.00 CNY; two billers to pay."""
    alice, alice_id = await signed_up(browser, "alice")
    await fund(app, alice_id, 100_00)
    set_pin = await alice.post("/wallet/pin", data={"pin": PIN, "password": PASSWORD})
    assert set_pin.headers["HX-Redirect"] == "/wallet"
    power = await register_biller(app)
    mobile = await register_biller(app, "Courtyard Mobile", "phone", pattern="^1[3-9][0-9]{9}$",
                                   hint="your 11-digit mobile number")  # fmt: skip
    return alice, power, mobile


async def pay(
    alice: Browser, biller_id: str, reference: str, amount: str, pin: str = PIN
) -> httpx.Response:
    form = {"biller_id": biller_id, "reference": reference, "amount": amount, "pin": pin}
    return await alice.post("/wallet/bills", data=form)


async def test_paying_a_bill_from_the_bills_page(app: FastAPI, browser: OpenBrowser) -> None:
    alice, power, mobile = await alice_with_billers(app, browser)
    home = (await alice.http.get("/wallet")).text
    assert 'href="/wallet/bills"' in home
    assert 'href="/wallet/statement"' in home

    page = await alice.http.get("/wallet/bills")
    assert page.status_code == 200, page.text
    assert f'<option value="{power}" selected>City Power (utilities, CNY)</option>' in page.text
    assert f'<option value="{mobile}">Courtyard Mobile (phone, CNY)</option>' in page.text
    assert "Reference: the 10-digit meter number." in page.text
    assert "No bills paid yet." in page.text
    hint = await alice.http.get(f"/wallet/bills/hint?biller_id={mobile}")
    assert "Reference: your 11-digit mobile number." in hint.text
    assert "takes bills of 1.00 CNY to 5000.00 CNY" in hint.text

    refusals = [
        (await pay(alice, power, "12", "10.00"), "City Power expects the 10-digit meter number"),
        (await pay(alice, power, POWER_METER, "0.50"), "from 1.00 CNY to 5000.00 CNY"),
        (await pay(alice, power, POWER_METER, "1.5.0"), "amount"),
        (await pay(alice, power, POWER_METER, "10.00", pin="135790"), "PIN"),
        (await pay(alice, power, "", "10.00"), "fill in the reference"),
        (await pay(alice, "01900000-0000-7000-8000-000000000000", POWER_METER, "1.00"),
         "takes no payments now"),
    ]  # fmt: skip
    for refused, message in refusals:
        assert refused.status_code == 422, refused.text
        assert message in refused.text
        assert refused.headers["HX-Retarget"] == "#flash"

    paid = await pay(alice, power, f" {POWER_METER} ", "42.50")
    assert paid.status_code == 204, paid.text
    redirect = paid.headers["HX-Redirect"]
    assert redirect.startswith("/wallet/bills?paid=")
    after = (await alice.http.get(redirect)).text
    assert f"Paid 42.50 CNY to City Power for {POWER_METER}." in after
    assert f"<code>{POWER_METER}</code>" in after
    assert "57.50 CNY" in (await alice.http.get("/wallet")).text


def bars(page: str) -> list[tuple[str, int, int, str]]:
    """Each bar of the spending chart: (category, amount_minor, width, amount text)."""
    return [
        (category, int(minor), int(width), text)
        for category, width, minor, text in re.findall(
            r'<g class="spending-bar" data-category="([a-z_]+)">.*?'
            r'<rect class="bar"[^>]* width="(\d+)"[^>]* data-amount-minor="(\d+)"></rect>\s*'
            r'<text class="amount"[^>]*>([^<]+)</text>',
            page,
            re.S,
        )
    ]


async def test_the_statement_page_charts_spending_by_category_in_svg(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice, power, mobile = await alice_with_billers(app, browser)
    await signed_up(browser, "bob")
    await alice.app.device.use(lambda m: m.create_conversation(["bob"]))
    for biller_id, reference, amount in (
        (power, POWER_METER, "42.50"), (power, POWER_METER, "10.00"), (mobile, MOBILE, "20.00"),
    ):  # fmt: skip
        assert (await pay(alice, biller_id, reference, amount)).status_code == 204
    sent = await alice.post("/wallet/transfers", data={
        "to": "bob", "amount": "5.00", "currency": "CNY", "pin": PIN})  # fmt: skip
    assert sent.headers["HX-Redirect"] == "/wallet", sent.text

    page = await alice.http.get(f"/wallet/statement?{JANUARY}")
    assert page.status_code == 200, page.text
    assert page.headers["content-security-policy"] == CSP
    assert "<script" not in page.text.split("</head>", 1)[1]  # no script in the body
    assert bars(page.text) == [
        ("utilities", 5250, 300, "52.50 CNY"),
        ("phone", 2000, 300 * 2000 // 5250, "20.00 CNY"),
        ("transfers", 500, 300 * 500 // 5250, "5.00 CNY"),
    ]
    assert page.text.count('<rect class="bar"') == 3
    assert '<title id="spending-title">Spending by category, January 2026 (CNY)</title>' in (
        page.text
    )
    assert "Utilities: 52.50 CNY; Phone: 20.00 CNY; Transfers: 5.00 CNY</desc>" in page.text
    assert "Received in January 2026: 0.00 CNY." in page.text
    assert page.text.count("<td>bill_payment</td>") == 3
    assert "<td>City Power</td>" in page.text
    assert 'href="/wallet/statement.csv?month=2026-01&amp;currency=CNY"' in page.text

    december = await alice.http.get("/wallet/statement?month=2025-12&currency=CNY")
    assert "Nothing spent in December 2025." in december.text
    assert "<svg" not in december.text
    assert "No movements in December 2025." in december.text
    bad = await alice.http.get("/wallet/statement?month=2026-13")
    assert bad.status_code == 422
    assert "YYYY-MM" in bad.text


async def test_the_month_downloads_as_csv_and_json(app: FastAPI, browser: OpenBrowser) -> None:
    alice, power, _ = await alice_with_billers(app, browser)
    assert (await pay(alice, power, POWER_METER, "42.50")).status_code == 204

    csv = await alice.http.get(f"/wallet/statement.csv?{JANUARY}")
    assert csv.status_code == 200, csv.text
    assert csv.headers["content-type"].startswith("text/csv")
    assert 'filename="statement-2026-01-CNY.csv"' in csv.headers["content-disposition"]
    rows = csv.text.strip().split("\r\n")
    assert rows[0].startswith("posted_at,entry_id,kind")
    assert ",bill_payment,utilities,City Power,-42.50,CNY,57.50,bill," in rows[1]

    data = await alice.http.get(f"/wallet/statement.json?{JANUARY}")
    assert 'filename="statement-2026-01-CNY.json"' in data.headers["content-disposition"]
    body = json.loads(data.text)
    assert [line["kind"] for line in body["lines"]] == ["bill_payment", "topup"]
    assert body["lines"][0]["counterparty"] == {"kind": "biller", "id": power, "name": "City Power"}
    assert body["lines"][0]["amount"] == {
        "amount_minor": -4250,
        "currency": "CNY",
        "amount": "-42.50",
    }
    assert (
        await alice.http.get("/wallet/statement.xml?month=2026-01&currency=CNY")
    ).status_code == 400
    assert (await alice.http.get("/wallet/statement.csv?month=2026-01")).status_code == 400
