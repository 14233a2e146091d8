"""Two operators in Chromium, on the console of a real server process, take a lawful request
from intake to a downloaded package: a legal reviewer takes it in with the court order as a
PDF and accepts it; a legal approver approves it, makes the signed package and downloads it.
The zip holds only the approved categories, and its manifest's signature verifies against the
key the server publishes."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import zipfile
from pathlib import Path

import httpx

from courtyard.domains.legal import verify_signature
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
ORDER_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def create_operators(database_url: str) -> None:
    """The host's first operator (an admin), who then adds a reviewer and an approver."""
    env = clean_environment({
        "COURTYARD_OPERATOR": "olga", "COURTYARD_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
        "COURTYARD_NEW_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
    })  # fmt: skip
    for username, role in (("olga", "admin"), ("rita", "legal_reviewer"),
                           ("axel", "legal_approver")):  # fmt: skip
        subprocess.run(
            [*courtyard_command(), "admin", "create-operator", username, "--role", role,
             "--db", database_url],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip


async def register_member(server: str, username: str) -> None:
    async with httpx.AsyncClient(base_url=server, trust_env=False, timeout=10) as http:
        registered = await http.post(
            "/v1/accounts",
            json={"username": username, "password": PASSWORD, "display_name": "Alice",
                  "region": "DE", **await policy_consent(http, "DE")},
        )  # fmt: skip
        assert registered.status_code == 201, registered.text


async def published_key(server: str) -> bytes:
    async with httpx.AsyncClient(base_url=server, trust_env=False, timeout=10) as http:
        [key] = (await http.get("/v1/legal/keys")).json()["keys"]
    text: str = key["public_key"]
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_a_reviewer_and_an_approver_take_a_request_to_a_downloaded_package(
    tmp_path: Path,
) -> None:
    from playwright.async_api import (
        ConsoleMessage,
        FilePayload,
        Page,
        Response,
        async_playwright,
        expect,
    )

    ARTIFACTS.mkdir(exist_ok=True)
    with server_process(tmp_path / "server") as server:
        create_operators(server.database_url)
        await register_member(server.url, "alice")
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
            )
            try:
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 900}, accept_downloads=True
                )
                page = await context.new_page()
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

                async def sign_in(who: Page, username: str) -> None:
                    await who.goto(server.url + "/admin/")
                    await who.wait_for_url("**/admin/login?next=*")
                    form = who.locator("#login")
                    await form.locator("input[name=username]").fill(username)
                    await form.locator("input[name=password]").fill(OPERATOR_PASSWORD)
                    await form.get_by_role("button", name="Sign in").click()
                    await who.wait_for_url("**/admin/")
                    await expect(who.locator("#operator-name")).to_have_text(username)

                # The reviewer takes the request in, with the court order as a PDF.
                await sign_in(page, "rita")
                await page.get_by_role("link", name="New lawful request").first.click()
                await page.wait_for_url("**/admin/legal/intake")
                form = page.locator("#intake-form")
                await form.locator("input[name=authority]").fill("Landeskriminalamt Berlin")
                await form.locator("input[name=country]").fill("DE")
                await form.locator("select[name=process_type]").select_option("court_order")
                await form.locator("input[name=authority_reference]").fill("LKA-2026-117")
                await form.locator("textarea[name=targets]").fill("alice")
                await form.locator("input[name=category][value=subscriber]").check()
                await form.locator("input[name=category][value=connection_logs]").check()
                order: FilePayload = {
                    "name": "court-order.pdf", "mimeType": "application/pdf", "buffer": ORDER_PDF,
                }  # fmt: skip
                await form.locator("input[name=documents]").set_input_files(files=[order])
                await form.get_by_role("button", name="Take in the request").click()
                await page.wait_for_url("**/admin/legal/cases/*")
                await expect(page.locator("#case-status")).to_have_text("received")
                alice = page.locator('#targets tr[data-target-no="1"]')
                await expect(alice).to_have_attribute("data-advice", "allowed")
                await expect(page.locator("#documents")).to_contain_text("court-order.pdf")
                case_url = page.url
                await page.screenshot(path=str(ARTIFACTS / "legal-intake.png"), full_page=True)

                await page.locator("#review-form textarea[name=reason]").fill(
                    "A court order from the user's country, for subscriber data and logs."
                )
                await page.get_by_role("button", name="Accept as requested").click()
                await expect(page.locator("#case-status")).to_have_text("reviewed")
                await expect(page.locator("#case-review")).to_contain_text("accepted by rita")
                await expect(page.locator("#approve-form")).to_have_count(0)
                await page.get_by_role("button", name="Sign out").click()
                await page.wait_for_url("**/admin/login")

                # The approver finds the case, approves it, makes and downloads the package.
                await sign_in(page, "axel")
                await page.get_by_role("link", name="Lawful requests").first.click()
                await page.wait_for_url("**/admin/legal/cases")
                row = page.locator('#cases tr[data-status="reviewed"]')
                await expect(row).to_have_count(1)
                await row.get_by_role("link").click()
                await page.wait_for_url(case_url)
                await page.get_by_role("button", name="Approve the reviewed scope").click()
                await expect(page.locator("#case-status")).to_have_text("approved")
                await expect(page.locator("#case-approval")).to_contain_text("by axel")
                await page.get_by_role("button", name="Make the signed package").click()
                await expect(page.locator("#case-status")).to_have_text("produced")
                async with page.expect_download() as downloading:
                    await page.locator("#download-package").click()
                download = await downloading.value
                assert download.suggested_filename.startswith("LR-")
                saved = tmp_path / download.suggested_filename
                await download.save_as(saved)
                await page.screenshot(path=str(ARTIFACTS / "legal-package.png"), full_page=True)
                await page.reload()
                await expect(page.locator("#timeline")).to_contain_text("package download")
                assert errors == []
            finally:
                await browser.close()
        public_key = await published_key(server.url)
    with zipfile.ZipFile(io.BytesIO(saved.read_bytes())) as zipped:
        files = {name: zipped.read(name) for name in zipped.namelist()}
    assert set(files) == {"manifest.json", "manifest.sig", "STATEMENT.txt", "subscriber.json",
                          "connection_logs.json"}  # fmt: skip
    assert verify_signature(public_key, files["manifest.json"], files["manifest.sig"])
    [target] = json.loads(files["subscriber.json"])["targets"]
    assert target["records"]["username"] == "alice"
    assert b"end-to-end encrypted" in files["STATEMENT.txt"]
