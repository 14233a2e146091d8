"""Alice and Bob in Chromium, each on a device app of their own, through a real server process:
Alice puts a red packet in their chat; Bob sees the card arrive live, opens it and sees what he
got; both wallet pages follow the new balances without a reload. Then a transfer card, which
Bob accepts from the chat."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from courtyard.app import DeviceApp
from tests.e2e.server_process import ServerProcess, server_process
from tests.e2e.test_device_app_browser import (
    ARTIFACTS,
    CHROMIUM,
    LAUNCH_ARGS,
    PASSWORD,
    TIMEOUT_MS,
    device_app,
    pytestmark,
    sign_up,
)

__all__ = ["pytestmark"]  # the same marks and skips as the other browser test
PIN = "246810"
FUNDING = "100.00"
FUNDING_MINOR = 100_00
CHAT_URL = re.compile(r".*/chats/[0-9a-f-]{36}$")


async def top_up(app: DeviceApp) -> None:
    """100.00 CNY through the sandbox provider (in the server's process), once it settles."""
    started = await app.device.use(lambda m: m.client.wallet.topup(FUNDING, "CNY"))
    operation = started
    async with asyncio.timeout(30):
        while operation.state != "succeeded":
            assert operation.state not in ("failed", "cancelled"), operation
            await asyncio.sleep(0.1)
            operation = await app.device.use(
                lambda m: m.client.wallet.operation(started.operation_id)
            )


@contextlib.asynccontextmanager
async def two_apps(tmp_path: Path) -> AsyncIterator[tuple[ServerProcess, DeviceApp, DeviceApp]]:
    with server_process(tmp_path / "server") as server:
        async with (
            device_app(tmp_path / "alice", server.url) as alice_app,
            device_app(tmp_path / "bob", server.url) as bob_app,
        ):
            yield server, alice_app, bob_app


async def test_a_red_packet_and_a_transfer_in_chat_move_money_and_balances_follow_live(
    tmp_path: Path,
) -> None:
    from playwright.async_api import ConsoleMessage, Page, async_playwright, expect

    async def set_pin(page: Page, home: str) -> None:
        await page.goto(home + "/wallet")
        form = page.locator('form[hx-post="/wallet/pin"]')
        await form.locator("input[name=pin]").fill(PIN)
        await form.locator("input[name=password]").fill(PASSWORD)
        await form.get_by_role("button", name="Save PIN").click()
        await expect(page.locator("#pin-title")).to_have_text("Change your payment PIN")

    ARTIFACTS.mkdir(exist_ok=True)
    async with two_apps(tmp_path) as (_server, alice_app, bob_app), async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            alice_ctx = await browser.new_context(viewport={"width": 1280, "height": 760})
            bob_ctx = await browser.new_context(viewport={"width": 1280, "height": 760})
            alice, bob = await alice_ctx.new_page(), await bob_ctx.new_page()
            errors: list[str] = []

            def remember(message: ConsoleMessage) -> None:
                if message.type == "error":
                    errors.append(message.text)

            for page in (alice, bob):
                page.set_default_timeout(TIMEOUT_MS)
                page.on("console", remember)

            await sign_up(alice, alice_app.url, "alice")
            bob_id = await sign_up(bob, bob_app.url, "bob")
            alice_home = f"http://127.0.0.1:{alice_app.sessions.port}"
            bob_home = f"http://127.0.0.1:{bob_app.sessions.port}"
            await top_up(alice_app)
            await set_pin(alice, alice_home)
            await set_pin(bob, bob_home)

            # Each keeps their wallet page open in a second tab: it must follow on its own.
            alice_wallet, bob_wallet = await alice_ctx.new_page(), await bob_ctx.new_page()
            for page in (alice_wallet, bob_wallet):
                page.set_default_timeout(TIMEOUT_MS)
                page.on("console", remember)
            await alice_wallet.goto(alice_home + "/wallet")
            await bob_wallet.goto(bob_home + "/wallet")
            alice_row = alice_wallet.locator('#wallet-balances tr[data-currency="CNY"] .balance')
            bob_row = bob_wallet.locator('#wallet-balances tr[data-currency="CNY"] .balance')
            await expect(alice_row).to_have_text("100.00 CNY")
            await expect(bob_row).to_have_text("0.00 CNY")

            # Alice opens a chat with Bob; Bob opens it from his (live) list.
            await alice.goto(alice_home + "/chats/new")
            await alice.locator("#direct-user-id").fill(bob_id)
            await alice.get_by_role("button", name="Start chat").click()
            await alice.wait_for_url(CHAT_URL)
            await bob.goto(bob_home + "/chats")
            await bob.locator("#conversations a").first.click()
            await bob.wait_for_url(CHAT_URL)
            await expect(alice.locator("#chat-balance")).to_contain_text("100.00 CNY")

            # Alice puts 8.88 CNY in a red packet, with her PIN.
            await alice.locator("#red-packet-panel summary").click()
            await alice.locator("#red-packet-amount").fill("8.88")
            await alice.locator("#red-packet-pin").fill(PIN)
            await alice.locator("#red-packet-send").click()
            await expect(alice.locator(".red-packet-card")).to_contain_text("for Bob")
            await expect(alice.locator(".red-packet-card .open-packet")).to_have_count(0)

            # Bob's chat shows the card live, without the amount; he opens it.
            card = bob.locator(".red-packet-card")
            await expect(card).to_contain_text("from Alice")
            await expect(card).not_to_contain_text("8.88")
            await card.get_by_role("button", name="Open").click()
            await expect(card.locator(".card-result")).to_have_text("You got 8.88 CNY")
            await expect(alice.locator(".red-packet-card")).to_contain_text("1 of 1 opened")

            # Both wallet pages, and the chat headers, follow without a reload.
            await expect(alice_row).to_have_text("91.12 CNY")
            await expect(bob_row).to_have_text("8.88 CNY")
            await expect(bob.locator("#chat-balance")).to_contain_text("8.88 CNY")
            await expect(alice.locator("#chat-balance")).to_contain_text("91.12 CNY")

            await alice.screenshot(path=str(ARTIFACTS / "wallet-alice-chat.png"))
            await bob.screenshot(path=str(ARTIFACTS / "wallet-bob-chat.png"))
            await alice_wallet.screenshot(path=str(ARTIFACTS / "wallet-alice-wallet.png"))
            await bob_wallet.screenshot(path=str(ARTIFACTS / "wallet-bob-wallet.png"))

            # A transfer: a card with Accept / Return for Bob only, then "Accepted" for both.
            await alice.locator("#transfer-panel summary").click()
            await alice.locator("#transfer-amount").fill("10.50")
            await alice.locator("#transfer-pin").fill(PIN)
            await alice.locator("#transfer-send").click()
            await expect(alice.locator("#transfer-panel")).not_to_have_attribute("open", "")
            sent = alice.locator(".transfer-card")
            await expect(sent).to_contain_text("Waiting for Bob to accept")
            await expect(sent.get_by_role("button", name="Accept")).to_have_count(0)
            received = bob.locator(".transfer-card")
            await expect(received.locator(".card-amount")).to_have_text("10.50 CNY")
            await expect(alice_row).to_have_text("80.62 CNY")
            await received.get_by_role("button", name="Accept").click()
            await expect(received).to_contain_text("Accepted")
            await expect(received.get_by_role("button", name="Accept")).to_have_count(0)
            await expect(sent).to_contain_text("Accepted")
            await expect(bob_row).to_have_text("19.38 CNY")
            await expect(bob.locator(".transfer-card")).to_have_count(1)
            await bob.screenshot(path=str(ARTIFACTS / "wallet-bob-transfer.png"))
        finally:
            await browser.close()

    assert not [e for e in errors if "Content Security Policy" in e], errors
