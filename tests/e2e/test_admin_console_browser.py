"""An operator in Chromium, on the console of a real server process: signs in, finds a user
in the ledger browser, opens her account, sees the top-up's posting, freezes the account with
a note, and finds the action in the operator actions trail. The member's own wallet then says
the account is frozen. Then the operator reconciles today with the sandbox provider and
dismisses, with a note, the exception a contradicting callback left."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
from pathlib import Path

import httpx

from courtyard.core.ids import new_id
from tests.conftest import policy_consent
from tests.e2e.server_process import clean_environment, courtyard_command, server_process
from tests.e2e.test_device_app_browser import (
    ARTIFACTS,
    CHROMIUM,
    LAUNCH_ARGS,
    PASSWORD,
    TIMEOUT_MS,
    pytestmark,
)

__all__ = ["pytestmark"]  # the same marks and skips as the other browser tests
OPERATOR_PASSWORD = "a long operator passphrase for the console"
NOTE = "Card fraud report #42: hold payments until the bank calls back"
DISMISSAL = "Provider confirmed 10.00 by phone; the callback's amount was their bug"


def create_operator(database_url: str, username: str, *roles: str) -> None:
    """``courtyard admin create-operator``, as an operator would run it on the host."""
    role_args = [arg for role in roles for arg in ("--role", role)]
    subprocess.run(
        [*courtyard_command(), "admin", "create-operator", username, *role_args,
         "--db", database_url],
        env=clean_environment({"COURTYARD_OPERATOR_PASSWORD": OPERATOR_PASSWORD}),
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


async def funded_member(server: str, username: str) -> dict[str, str]:
    """Register ``username`` and top up 100.00 CNY through the sandbox provider."""
    async with httpx.AsyncClient(base_url=server, trust_env=False, timeout=10) as http:
        registered = await http.post(
            "/v1/accounts",
            json={"username": username, "password": PASSWORD, "display_name": "Alice",
                  "region": "DE", **await policy_consent(http, "DE")},
        )  # fmt: skip
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        started = await http.post(
            "/v1/wallet/topups",
            json={"amount": "100.00", "currency": "CNY"},
            headers={**headers, "Idempotency-Key": new_id()},
        )
        assert started.status_code == 201, started.text
        operation = started.json()
        async with asyncio.timeout(30):
            while operation["state"] != "succeeded":
                assert operation["state"] not in ("failed", "expired"), operation
                await asyncio.sleep(0.1)
                polled = await http.get(
                    f"/v1/wallet/operations/{operation['operation_id']}", headers=headers
                )
                operation = polled.json()
        return headers


async def top_up_in_review(server: str, username: str) -> None:
    """Register ``username`` and start a 10.00 EUR top-up whose callback says another amount:
    the operation goes to ``review``, and the day's reconciliation finds a mismatch."""
    async with httpx.AsyncClient(base_url=server, trust_env=False, timeout=10) as http:
        registered = await http.post(
            "/v1/accounts",
            json={"username": username, "password": PASSWORD, "display_name": "Bob",
                  "region": "DE", **await policy_consent(http, "DE")},
        )  # fmt: skip
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        started = await http.post(
            "/v1/wallet/topups",
            json={"amount": "10.00", "currency": "EUR",
                  "sandbox": {"outcome": "succeed", "wrong_amount": True}},
            headers={**headers, "Idempotency-Key": new_id()},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        operation = started.json()
        path = f"/v1/wallet/operations/{operation['operation_id']}"
        async with asyncio.timeout(30):
            while operation["state"] != "review":
                assert operation["state"] in ("created", "pending"), operation
                await asyncio.sleep(0.1)
                operation = (await http.get(path, headers=headers)).json()


async def wallet_status(server: str, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=server, trust_env=False, timeout=10) as http:
        wallet = (await http.get("/v1/wallet", headers=headers)).json()
    [cny] = [a for a in wallet["accounts"] if a["currency"] == "CNY"]
    status: str = cny["status"]
    return status


async def test_an_operator_finds_a_user_opens_her_account_and_freezes_it_in_chromium(
    tmp_path: Path,
) -> None:
    from playwright.async_api import ConsoleMessage, Response, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    with server_process(tmp_path / "server") as server:
        create_operator(server.database_url, "olga", "admin", "finance")
        alice = await funded_member(server.url, "alice")
        await top_up_in_review(server.url, "bob")
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
            )
            try:
                page = await (
                    await browser.new_context(viewport={"width": 1280, "height": 900})
                ).new_page()
                page.set_default_timeout(TIMEOUT_MS)
                errors: list[str] = []

                def remember(message: ConsoleMessage) -> None:
                    if message.type == "error":  # a CSP violation would show here
                        errors.append(message.text)

                def missing(response: Response) -> None:
                    if response.status == 404:
                        errors.append(f"404 {response.url}")

                page.on("console", remember)
                page.on("response", missing)

                # Signed out, the console sends the browser to sign in, then back.
                await page.goto(server.url + "/admin/")
                await page.wait_for_url("**/admin/login?next=*")
                form = page.locator("#login")
                await form.locator("input[name=username]").fill("olga")
                await form.locator("input[name=password]").fill(OPERATOR_PASSWORD)
                await form.get_by_role("button", name="Sign in").click()
                await page.wait_for_url("**/admin/")
                await expect(page.locator("#operator-name")).to_have_text("olga")

                # Find Alice in the ledger browser and open her CNY account.
                await page.get_by_role("link", name="Ledger browser").first.click()
                await page.locator("#ledger-search input[name=q]").fill("alice")
                await page.get_by_role("button", name="Search").click()
                results = page.locator("#search-results")
                await expect(results).to_contain_text("User alice")
                await results.locator("tbody tr a").first.click()
                await page.wait_for_url("**/admin/ledger/accounts/*")
                await expect(page.locator("#account-owner")).to_contain_text("user · alice")
                await expect(page.locator("#cached-balance")).to_have_text("100.00 CNY")
                await expect(page.locator("#balance-check")).to_have_text("yes: cached = derived")
                postings = page.locator("#postings tbody tr")
                await expect(postings).to_have_count(1)
                await expect(postings.first).to_contain_text("topup")
                await expect(postings.first).to_contain_text("100.00 CNY")
                await page.screenshot(path=str(ARTIFACTS / "admin-account.png"), full_page=True)

                # Freeze it, saying why; the page shows the new status and the action.
                await page.locator("form.freeze textarea[name=note]").fill(NOTE)
                await page.get_by_role("button", name="Freeze account").click()
                await expect(page.locator("#account-status")).to_have_text("frozen")
                history = page.locator("#account-history")
                await expect(history).to_contain_text("wallet.account.freeze")
                await expect(history).to_contain_text(NOTE)
                assert await wallet_status(server.url, alice) == "frozen"

                # The audit log lists it, with who and why.
                await page.get_by_role("link", name="Audit log").first.click()
                await page.wait_for_url("**/admin/actions")
                freeze_row = page.locator(
                    '#operator-actions tr[data-action="wallet.account.freeze"]'
                )
                await expect(freeze_row).to_have_count(1)
                await expect(freeze_row).to_contain_text("olga")
                await expect(freeze_row).to_contain_text(NOTE)
                await page.screenshot(path=str(ARTIFACTS / "admin-actions.png"), full_page=True)

                # Reconcile today and dismiss the mismatch the contradicting callback left.
                await page.get_by_role("link", name="Reconciliation").first.click()
                await page.wait_for_url("**/admin/wallet/reconciliation")
                today = dt.datetime.now(dt.UTC).date().isoformat()
                await page.locator("#reconcile-day input[name=day]").fill(today)
                await page.get_by_role("button", name="Reconcile").click()
                await page.wait_for_url("**/admin/wallet/reconciliation/runs/*")
                mismatch = page.locator('#reconciliation-items tr[data-kind="mismatch"]')
                await expect(mismatch).to_have_attribute("data-resolved", "no")
                await mismatch.locator("select[name=resolution]").select_option("dismissed")
                await mismatch.locator("textarea[name=note]").fill(DISMISSAL)
                await mismatch.get_by_role("button", name="Resolve").click()
                await expect(mismatch).to_have_attribute("data-resolved", "yes")
                await expect(mismatch).to_contain_text(DISMISSAL)
                await expect(mismatch).to_contain_text("by olga")
                await page.screenshot(
                    path=str(ARTIFACTS / "admin-reconciliation.png"), full_page=True
                )

                # Signing out ends the session.
                await page.get_by_role("button", name="Sign out").click()
                await page.wait_for_url("**/admin/login")
                await page.goto(server.url + "/admin/actions")
                await page.wait_for_url("**/admin/login?next=*")
                assert errors == []
            finally:
                await browser.close()
