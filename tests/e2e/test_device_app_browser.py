"""Alice and Bob in Chromium, each on a device app of their own, through a real server process:
Alice starts a chat and sends a message and an image; Bob sees both arrive live."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from courtyard.app import DeviceApp, bind, create_device_app, serve
from courtyard.client.crypto import KdfParams
from tests.e2e.server_process import server_process

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)  # tests only
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is missing (apt-get install chromium; `.ci/run` does this)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="the playwright package is missing (pip install -e '.[dev]')",
    ),
]


def gradient_png(width: int = 96, height: int = 64) -> bytes:
    """An RGB PNG with a colour gradient, big enough to see in a screenshot."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@contextlib.asynccontextmanager
async def device_app(profile: Path, server: str) -> AsyncIterator[DeviceApp]:
    """A device app served by uvicorn in this event loop on a free loopback port."""
    sock = bind(0)
    app = create_device_app(profile, server, sock.getsockname()[1], kdf=FAST_KDF)
    started = asyncio.Event()
    task = asyncio.create_task(serve(app.asgi, sock, started))
    await asyncio.wait_for(started.wait(), 10)
    try:
        yield app
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


async def sign_up(page: object, url: str, username: str) -> str:
    """Open the printed link, fill in the sign-up form, and return the new user id."""
    from playwright.async_api import Page

    assert isinstance(page, Page)
    await page.goto(url)
    await page.wait_for_url("**/welcome")
    form = page.locator("#signup")
    await form.locator("input[name=username]").fill(username)
    await form.locator("input[name=display_name]").fill(username.title())
    await form.locator("input[name=region]").fill("DE")
    # The region's privacy policy appears; accepting it is part of signing up.
    await form.locator("#signup-policy input[name=policy_version_hash]").wait_for(state="attached")
    await form.locator("input[name=accept_policy]").check()
    await form.locator("input[name=password]").fill(PASSWORD)
    await form.locator("input[name=passphrase]").fill(f"{username} device passphrase")
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/chats")
    return (await page.locator("#my-user-id").inner_text()).strip()


async def test_alice_sends_text_and_an_image_and_bob_sees_both_live_in_chromium(
    tmp_path: Path,
) -> None:
    from playwright.async_api import ConsoleMessage, async_playwright, expect

    ARTIFACTS.mkdir(exist_ok=True)
    image = tmp_path / "sunset.png"
    image.write_bytes(gradient_png())
    with server_process(tmp_path / "server") as server:
        async with (
            device_app(tmp_path / "alice", server.url) as alice_app,
            device_app(tmp_path / "bob", server.url) as bob_app,
            async_playwright() as p,
        ):
            browser = await p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
            )
            try:
                alice_ctx = await browser.new_context(viewport={"width": 1280, "height": 760})
                bob_ctx = await browser.new_context(viewport={"width": 1280, "height": 760})
                alice, bob = await alice_ctx.new_page(), await bob_ctx.new_page()
                alice.set_default_timeout(TIMEOUT_MS)
                bob.set_default_timeout(TIMEOUT_MS)
                errors: list[str] = []

                def remember(message: ConsoleMessage) -> None:
                    if message.type == "error":
                        errors.append(message.text)

                alice.on("console", remember)
                bob.on("console", remember)

                await sign_up(alice, alice_app.url, "alice")
                bob_id = await sign_up(bob, bob_app.url, "bob")

                # Alice starts a 1:1 with Bob by his user id.
                await alice.get_by_role("link", name="New chat").click()
                await alice.locator("#direct-user-id").fill(bob_id)
                await alice.get_by_role("button", name="Start chat").click()
                await alice.wait_for_url("**/chats/*")
                await expect(alice.locator("#security-panel")).to_contain_text("encrypted")

                # Bob's list updates live; he opens the chat before anything is sent.
                await bob.locator("#conversations a").first.click()
                await bob.wait_for_url("**/chats/*")

                await alice.locator("#composer-text").fill("Hello Bob, this is end-to-end!")
                await alice.locator("#composer-text").press("Enter")
                await alice.locator("#composer-file").set_input_files(str(image))
                await alice.get_by_role("button", name="Upload").click()

                text = bob.locator(".message .text", has_text="Hello Bob, this is end-to-end!")
                await expect(text).to_be_visible()
                picture = bob.locator("img.inline-image")
                await expect(picture).to_be_visible()
                await bob.wait_for_function(
                    "() => { const i = document.querySelector('img.inline-image');"
                    " return i && i.complete && i.naturalWidth > 0; }"
                )
                width = await picture.evaluate("i => i.naturalWidth")
                await expect(bob.locator("#security-warning")).to_be_visible()

                await alice.screenshot(path=str(ARTIFACTS / "device-app-alice.png"))
                await bob.screenshot(path=str(ARTIFACTS / "device-app-bob.png"))
            finally:
                await browser.close()

    assert width == 96
    assert not [e for e in errors if "Content Security Policy" in e], errors
