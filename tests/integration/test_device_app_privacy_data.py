"""The device app's data pages against the real server app: the export downloads (JSON and
HTML, as files that cannot run anything), the access log they leave, and each conversation's
encryption status with its Megolm session and the member devices' verification."""

from __future__ import annotations

import asyncio
import json

from courtyard.app.security import CSP
from courtyard.client.verification import fingerprint
from tests.integration.test_device_app import OpenBrowser, browser
from tests.integration.test_device_app_wallet import signed_up

__all__ = ["browser"]  # the fixture, shared with the other device-app tests


async def test_downloads_are_files_and_each_is_in_the_access_log(browser: OpenBrowser) -> None:
    alice, alice_id = await signed_up(browser, "alice")
    page = await alice.http.get("/privacy/data")
    assert page.status_code == 200, page.text
    assert 'href="/privacy/data/export.json"' in page.text
    assert 'href="/privacy/data/export.html"' in page.text
    assert "No one has accessed your data." in (await alice.http.get("/privacy/access-log")).text

    as_json = await alice.http.get("/privacy/data/export.json")
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-disposition"].startswith("attachment; filename=")
    assert as_json.headers["content-type"].startswith("application/json")
    assert json.loads(as_json.text)["manifest"]["user"]["user_id"] == alice_id
    as_html = await alice.http.get("/privacy/data/export.html")
    assert as_html.headers["content-disposition"].endswith('.html"')
    assert as_html.headers["content-security-policy"] == CSP  # no inline script could run
    assert as_html.headers["x-content-type-options"] == "nosniff"
    assert as_html.text.startswith("<!doctype html>")
    assert "<script" not in as_html.text
    assert (await alice.http.get("/privacy/data/export.xml")).status_code == 422

    log = (await alice.http.get("/privacy/access-log")).text
    assert log.count("privacy.export") == 2
    assert f"user:{alice_id}" in log
    assert 'id="older"' not in log


async def test_encryption_shows_the_session_and_who_is_verified(browser: OpenBrowser) -> None:
    alice, _ = await signed_up(browser, "alice")
    _, bob_id = await signed_up(browser, "bob")
    empty = await alice.http.get("/privacy/encryption")
    assert 'id="no-conversations"' in empty.text

    conversation = await alice.app.device.use(lambda m: m.create_conversation([bob_id]))
    cid = conversation.conversation_id
    before = (await alice.http.get("/privacy/encryption")).text
    assert f'id="enc-{cid}"' in before
    assert "This device has not sent here yet" in before
    assert "0 of 1 member device verified." in before

    await alice.app.device.use(lambda m: m.send_text(cid, "hello"))
    messenger = alice.app.device.messenger
    assert messenger is not None
    record = await asyncio.to_thread(messenger.crypto.store.get_outbound, cid)
    assert record is not None
    after = (await alice.http.get("/privacy/encryption")).text
    assert f'<code class="session-id">{record.session.session_id}</code>' in after
    assert "1 message so far" in after
    assert '<span class="badge unverified">unverified</span>' in after
    assert "Unverified devices get the keys too" in after

    (bob_device,) = [d for d in await messenger.conversation_security(cid) if d.user_id == bob_id]
    assert bob_device.ed25519 is not None
    await messenger.verify_device(bob_id, bob_device.device_id, fingerprint(bob_device.ed25519))
    verified = (await alice.http.get("/privacy/encryption")).text
    assert "1 of 1 member device verified." in verified
    assert '<span class="badge verified">verified</span>' in verified
    assert "Unverified devices get the keys too" not in verified


async def test_the_pages_need_an_unlocked_device(browser: OpenBrowser) -> None:
    stranger = await browser("stranger")
    await stranger.open()
    for path in ("/privacy/data", "/privacy/data/export.json", "/privacy/access-log",
                 "/privacy/encryption"):  # fmt: skip
        response = await stranger.http.get(path)
        assert (response.status_code, response.headers.get("location")) == (303, "/welcome"), path
