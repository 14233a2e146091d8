"""The device app against the real server app: its guard (launch token, session cookie, Host
check, CSRF, CSP) and its pages, with two device apps chatting through the server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from courtyard.app import DeviceApp, create_device_app
from courtyard.app.security import CSP
from courtyard.client.crypto import KdfParams
from tests.conftest import PASSWORD

FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)  # tests only
PASSPHRASE = "a device passphrase"
_ports = itertools.count(18601)


@dataclass
class Browser:
    """An HTTP client standing in for a browser on one device app (with its cookie jar)."""

    app: DeviceApp
    http: httpx.AsyncClient
    csrf: str = ""

    async def open(self) -> httpx.Response:
        """Follow the printed link: exchange the launch token for the session cookie."""
        response = await self.http.get(self.app.url.removeprefix(str(self.http.base_url)))
        page = await self.http.get("/welcome", follow_redirects=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
        assert match, page.text
        self.csrf = match.group(1)
        return response

    async def post(self, path: str, **kwargs: object) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, "HX-Request": "true"}
        return await self.http.post(path, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def sign_up(self, username: str, region: str = "de") -> str:
        """Sign up through the page, accepting the region's policy as shown; return the new
        user's id as the layout shows it."""
        shown = await self.http.get("/signup/policy", params={"region": region})
        version_hash = re.search(r'name="policy_version_hash" value="([0-9a-f]{64})"', shown.text)
        assert version_hash, shown.text
        required = re.findall(r'name="purpose" value="([a-z_]+)" checked required', shown.text)
        form: dict[str, Any] = {
            "username": username, "display_name": username.title(), "region": region,
            "password": PASSWORD, "passphrase": PASSPHRASE, "accept_policy": "on",
            "policy_version_hash": version_hash.group(1), "purpose": required,
        }  # fmt: skip
        response = await self.post("/signup", data=form)
        assert response.status_code == 204, response.text
        assert response.headers["HX-Redirect"] == "/chats"
        page = await self.http.get("/chats")
        match = re.search(r'id="my-user-id"[^>]*>([^<]+)<', page.text)
        assert match, page.text
        return match.group(1)


OpenBrowser = Callable[[str], Awaitable[Browser]]


@pytest.fixture
async def browser(app: FastAPI, tmp_path: Path) -> AsyncIterator[OpenBrowser]:
    """``await browser("alice")``: a device app on its own profile, and a browser on it."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(name: str) -> Browser:
            port = next(_ports)
            device_app = create_device_app(
                tmp_path / name, "http://courtyard.test", port,
                transport=httpx.ASGITransport(app=app), kdf=FAST_KDF,
            )  # fmt: skip
            stack.push_async_callback(device_app.aclose)
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=device_app.asgi),
                base_url=f"http://127.0.0.1:{port}",
            )
            stack.push_async_callback(http.aclose)
            return Browser(device_app, http)

        yield make


def tiny_png() -> bytes:
    """A valid 2x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the other app's sync runs in the background
            await asyncio.sleep(0.05)


async def test_the_launch_token_becomes_an_httponly_strict_cookie_and_leaves_the_url(
    browser: OpenBrowser,
) -> None:
    alice = await browser("alice")
    response = await alice.open()

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"courtyard_app_{alice.app.sessions.port}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert alice.app.sessions.launch_token not in cookie
    assert (await alice.http.get("/welcome")).status_code == 200


async def test_the_token_exchange_never_redirects_off_the_app(browser: OpenBrowser) -> None:
    alice = await browser("alice")
    port = alice.app.sessions.port
    scope = {
        "type": "http", "method": "GET",
        "path": "//evil.example/x", "raw_path": b"//evil.example/x",
        "query_string": f"t={alice.app.sessions.launch_token}".encode(),
        "headers": [(b"host", f"127.0.0.1:{port}".encode())], "scheme": "http",
        "server": ("127.0.0.1", port), "client": ("127.0.0.1", 5), "http_version": "1.1",
        "root_path": "",
    }  # fmt: skip
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await alice.app.asgi(scope, receive, send)
    start = sent[0]
    location = dict(start["headers"])[b"location"].decode()
    assert start["status"] == 303
    assert location == "/evil.example/x"  # stays on this app


async def test_requests_without_the_session_cookie_get_401(browser: OpenBrowser) -> None:
    alice = await browser("alice")

    page = await alice.http.get("/chats")
    static = await alice.http.get("/static/htmx.min.js")
    wrong = await alice.http.get("/?t=not-the-token")

    assert page.status_code == 401
    assert "Not signed in" in page.text
    assert static.status_code == 401
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers


async def test_a_foreign_host_header_is_refused_with_400(browser: OpenBrowser) -> None:
    alice = await browser("alice")
    await alice.open()

    rebound = await alice.http.get("/welcome", headers={"Host": "evil.example:80"})
    other_port = await alice.http.get("/welcome", headers={"Host": "127.0.0.1:1"})
    with_token = await alice.http.get(alice.app.url, headers={"Host": "evil.example"})
    localhost = await alice.http.get(
        "/welcome", headers={"Host": f"localhost:{alice.app.sessions.port}"}
    )

    assert rebound.status_code == other_port.status_code == with_token.status_code == 400
    assert localhost.status_code == 200


async def test_posts_without_a_valid_csrf_token_are_refused_with_403(
    browser: OpenBrowser,
) -> None:
    alice = await browser("alice")
    await alice.open()
    form = {"username": "alice", "password": PASSWORD, "passphrase": PASSPHRASE}

    missing = await alice.http.post("/signin", data=form)
    wrong = await alice.http.post("/signin", data=form, headers={"X-CSRF-Token": "guess"})

    assert missing.status_code == wrong.status_code == 403
    assert alice.app.device.stored() is None  # nothing happened


async def test_every_page_carries_a_strict_csp_and_the_other_security_headers(
    browser: OpenBrowser,
) -> None:
    alice = await browser("alice")
    refused = await alice.http.get("/welcome")
    await alice.open()
    page = await alice.http.get("/welcome")
    script = await alice.http.get("/static/app.js")

    for response in (refused, page, script):
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    assert "script-src 'self';" in CSP
    assert "<script>" not in page.text  # scripts come from /static only
    assert "style=" not in page.text


async def test_signing_up_leads_to_the_conversation_list_with_room_for_every_section(
    browser: OpenBrowser,
) -> None:
    alice = await browser("alice")
    await alice.open()

    user_id = await alice.sign_up("alice")
    page = await alice.http.get("/chats")

    assert page.status_code == 200
    assert user_id.strip()
    assert "No conversations yet." in page.text
    for section in ("Contacts", "Moments", "Channels", "Mini-apps"):
        assert re.search(rf"{section} <span class=\"badge\">coming soon</span>", page.text)
    assert '<a href="/privacy" class="">Privacy center</a>' in page.text
    assert PASSPHRASE not in page.text
    assert alice.app.device.profile.path.exists()


async def test_a_message_and_an_image_sent_in_one_app_show_decrypted_in_the_other(
    browser: OpenBrowser,
) -> None:
    alice, bob = await browser("alice"), await browser("bob")
    await alice.open()
    await bob.open()
    await alice.sign_up("alice")
    bob_id = await bob.sign_up("bob")

    created = await alice.post("/chats/new/direct", data={"user_id": bob_id})
    cid = created.headers["HX-Redirect"].removeprefix("/chats/")
    sent = await alice.post(f"/chats/{cid}/send", data={"text": "hello <b>bob</b>"})
    image = await alice.post(
        f"/chats/{cid}/file", files={"file": ("dot.png", tiny_png(), "image/png")}
    )

    async def bob_sees_both() -> bool:
        fragment = await bob.http.get(f"/chats/{cid}/messages")
        return "hello &lt;b&gt;bob&lt;/b&gt;" in fragment.text and "inline-image" in fragment.text

    await eventually(bob_sees_both)
    fragment = (await bob.http.get(f"/chats/{cid}/messages")).text
    event_id = re.findall(r'src="/media/([^"]+)"', fragment)[0]
    picture = await bob.http.get(f"/media/{event_id}")
    conversations = await bob.http.get("/fragments/conversations")

    assert created.status_code == 204
    assert sent.status_code == image.status_code == 200
    assert "<b>bob</b>" not in fragment  # escaped, not rendered
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png"
    assert picture.content == tiny_png()
    assert f"/chats/{cid}" in conversations.text


async def test_the_encryption_panel_warns_about_devices_nobody_verified(
    browser: OpenBrowser,
) -> None:
    alice, bob = await browser("alice"), await browser("bob")
    await alice.open()
    await bob.open()
    await alice.sign_up("alice")
    bob_id = await bob.sign_up("bob")
    created = await alice.post("/chats/new/direct", data={"user_id": bob_id})
    cid = created.headers["HX-Redirect"].removeprefix("/chats/")

    panel = await alice.http.get(f"/chats/{cid}/security")
    chat = await alice.http.get(f"/chats/{cid}")

    assert "end-to-end encrypted" in panel.text
    assert 'id="security-warning"' in panel.text
    assert re.search(r'class="badge (unverified|new)"', panel.text)
    assert bob_id in panel.text
    assert "End-to-end encrypted" in chat.text


async def test_a_device_is_verified_by_its_fingerprint(browser: OpenBrowser) -> None:
    alice, bob = await browser("alice"), await browser("bob")
    await alice.open()
    await bob.open()
    await alice.sign_up("alice")
    bob_id = await bob.sign_up("bob")
    cid = (
        (await alice.post("/chats/new/direct", data={"user_id": "bob"}))
        .headers["HX-Redirect"]
        .removeprefix("/chats/")
    )
    # Bob reads his fingerprint from his own panel (here: his app's page) ...
    bob_cid = cid
    bob_panel = (await bob.http.get(f"/chats/{bob_cid}/security")).text
    match = re.search(r'id="my-fingerprint">([^<]+)<', bob_panel)
    assert match is not None
    bob_fingerprint = match.group(1)
    panel = (await alice.http.get(f"/chats/{cid}/security")).text
    device = re.search(r'name="device_id" value="([^"]+)"', panel)
    assert device is not None
    form = {"user_id": bob_id, "device_id": device.group(1)}

    # ... a wrong one is refused and changes nothing ...
    wrong = await alice.post(f"/chats/{cid}/verify", data={**form, "fingerprint": "AAAA BBBB"})
    assert wrong.status_code == 422
    assert "not this device" in wrong.text
    # ... the right one (spacing does not matter) verifies the device and clears the warning.
    right = await alice.post(
        f"/chats/{cid}/verify", data={**form, "fingerprint": bob_fingerprint.replace(" ", "")}
    )
    assert right.status_code == 200
    assert 'class="badge verified"' in right.text
    assert 'id="security-warning"' not in right.text


async def test_a_wrong_passphrase_does_not_unlock_a_stored_profile(browser: OpenBrowser) -> None:
    alice = await browser("alice")
    await alice.open()
    await alice.sign_up("alice")
    await alice.app.device.lock()

    welcome = await alice.http.get("/welcome")
    wrong = await alice.post("/unlock", data={"passphrase": "not it"})
    right = await alice.post("/unlock", data={"passphrase": PASSPHRASE})

    assert "Unlock alice" in welcome.text
    assert wrong.status_code == 422
    assert "does not open" in wrong.text
    assert right.status_code == 204
    assert alice.app.device.unlocked
