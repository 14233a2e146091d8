"""A member in Chromium, on a device app of her own, through a real server process: the
operator publishes a new privacy policy from the command line; the member's next page shows
what changed, she consents and is back where she was, then downloads her export from the
privacy center (docs/privacy-consent.md, docs/data-map.md)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from courtyard.client import Client
from tests.e2e.server_process import clean_environment, courtyard_command, server_process
from tests.e2e.test_admin_console_browser import OPERATOR_PASSWORD, create_operator
from tests.e2e.test_device_app_browser import (
    ARTIFACTS,
    CHROMIUM,
    LAUNCH_ARGS,
    TIMEOUT_MS,
    device_app,
    pytestmark,
    sign_up,
)
from tests.integration.consent_support import NEW_PARAGRAPH, changed_text

__all__ = ["pytestmark"]
CONSENT_WAIT_SECONDS = 20  # the server's cache of versions (5 s) and the app's (5 s), with room


def publish_policy(database_url: str, text: Path) -> str:
    """``courtyard admin policy publish EU FILE``, as an operator would run it on the host."""
    done = subprocess.run(
        [*courtyard_command(), "admin", "policy", "publish", "EU", str(text),
         "--db", database_url],
        env=clean_environment({"COURTYARD_OPERATOR": "olga",
                               "COURTYARD_OPERATOR_PASSWORD": OPERATOR_PASSWORD}),
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return done.stdout


async def test_a_member_consents_to_a_new_policy_and_downloads_her_export_in_chromium(
    tmp_path: Path,
) -> None:
    from playwright.async_api import ConsoleMessage, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    text = tmp_path / "eu-policy.md"
    text.write_text(changed_text("EU"))
    with server_process(tmp_path / "server") as server:
        create_operator(server.database_url, "olga", "admin")
        async with device_app(tmp_path / "alice", server.url) as alice_app, async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
            )
            try:
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 860}, accept_downloads=True
                )
                page = await context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                errors: list[str] = []

                def remember(message: ConsoleMessage) -> None:
                    if message.type == "error":
                        errors.append(message.text)

                page.on("console", remember)
                await sign_up(page, alice_app.url, "alice")
                await page.get_by_role("link", name="Privacy center").click()
                await page.wait_for_url("**/privacy")
                await expect(page.locator("#privacy-policy")).to_contain_text("EU and EEA")

                published = await asyncio.to_thread(publish_policy, server.database_url, text)
                assert "published EU version 2" in published

                # Her next page (within the caches' few seconds) asks for consent first.
                async with asyncio.timeout(CONSENT_WAIT_SECONDS):
                    while "/privacy/consent" not in page.url:
                        await page.goto(alice_app.url.split("/?")[0] + "/devices")
                        if "/privacy/consent" not in page.url:
                            await asyncio.sleep(1)
                added = page.locator("#policy-diff .diff-add", has_text="favourite colour")
                await expect(added).to_be_visible()
                assert await added.inner_text() == f"+{NEW_PARAGRAPH}"  # as text, not markup
                await page.screenshot(path=str(ARTIFACTS / "privacy-consent.png"))
                await page.locator("input[name=accept_policy]").check()
                await page.get_by_role("button", name="Consent").click()
                await page.wait_for_url("**/devices")
                await expect(page.locator("h2", has_text="Your devices")).to_be_visible()

                # Then she downloads everything the server holds about her.
                await page.goto(alice_app.url.split("/?")[0] + "/privacy/data")
                async with page.expect_download() as waiting:
                    await page.locator("#export-json").click()
                download = await waiting.value
                saved = tmp_path / "export.json"
                await download.save_as(str(saved))
            finally:
                await browser.close()

        export = json.loads(saved.read_text())
        stored = alice_app.device.stored()
        assert stored is not None
        async with Client(server.url, stored.access_token) as client:
            state = await client.privacy.consent_state()
    assert (state.consented_version, state.needs_reconsent) == (2, False)
    assert export["manifest"]["user"]["username"] == "alice"
    # Her consent to the new version is in it, with the device that gave it.
    records = export["data"]["privacy"]["consent_records"]
    accepted = [r for r in records if r["kind"] == "policy" and r["policy_version"] == 2]
    assert [r["device_id"] for r in accepted] == [stored.device_id]
    assert not [e for e in errors if "Content Security Policy" in e], errors
