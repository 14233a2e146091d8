"""The device app's consent pages and privacy center against the real server app: sign-up
shows the region's policy and needs "I accept"; a new version leads every page to the consent
page with an escaped diff, and accepting returns you where you were; purposes toggle."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from tests.conftest import PASSWORD
from tests.integration.consent_support import NEW_PARAGRAPH, publish_version
from tests.integration.test_device_app import PASSPHRASE, Browser, OpenBrowser, browser

__all__ = ["browser"]  # the fixture, shared with the other device-app tests
HASH = re.compile(r'name="version_hash" value="([0-9a-f]{64})"')


async def signed_up(browser: OpenBrowser, username: str, region: str = "de") -> Browser:
    page = await browser(username)
    await page.open()
    await page.sign_up(username, region)
    return page


async def test_the_sign_up_form_shows_the_policy_of_the_region_typed(
    browser: OpenBrowser,
) -> None:
    alice = await browser("alice")
    await alice.open()
    welcome = await alice.http.get("/welcome")
    assert 'hx-get="/signup/policy"' in welcome.text
    assert 'name="accept_policy" required' in welcome.text

    cn = await alice.http.get("/signup/policy", params={"region": "cn"})
    assert "Personal Information Protection Policy" in cn.text
    assert 'href="/privacy/policy?country=CN"' in cn.text
    assert 'name="purpose" value="cross_border" checked required' in cn.text
    assert 'name="purpose" value="sensitive_data">' in cn.text  # optional: not ticked for you
    assert 'name="policy_version_hash"' in cn.text
    nowhere = await alice.http.get("/signup/policy", params={"region": "x"})
    assert "two-letter country code" in nowhere.text
    assert "policy_version_hash" not in nowhere.text
    text = await alice.http.get("/privacy/policy", params={"country": "DE"})
    assert text.status_code == 200
    assert "Courtyard Privacy Policy (EU and EEA)" in text.text
    assert "What we store and why" in text.text


async def test_signing_up_needs_the_policy_accepted(browser: OpenBrowser) -> None:
    alice = await browser("alice")
    await alice.open()
    form: dict[str, Any] = {
        "username": "alice", "display_name": "Alice", "region": "de", "password": PASSWORD,
        "passphrase": PASSPHRASE,
    }  # fmt: skip
    unseen = await alice.post("/signup", data=form)
    assert unseen.status_code == 422
    assert "see its privacy policy" in unseen.text
    shown = await alice.http.get("/signup/policy", params={"region": "de"})
    version_hash = re.search(r'name="policy_version_hash" value="([0-9a-f]{64})"', shown.text)
    assert version_hash
    not_ticked = await alice.post(
        "/signup", data={**form, "policy_version_hash": version_hash.group(1)}
    )
    assert not_ticked.status_code == 422
    assert "I accept" in not_ticked.text
    assert alice.app.device.stored() is None


async def test_a_new_version_leads_to_the_consent_page_with_the_diff_and_back(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice = await signed_up(browser, "alice")
    assert (await alice.http.get("/chats")).status_code == 200
    version, version_hash = await publish_version(app, "EU")

    chats = await alice.http.get("/devices?x=1")
    assert chats.status_code == 303
    assert chats.headers["location"] == "/privacy/consent?next=%2Fdevices%3Fx%3D1"
    fragment = await alice.http.get("/fragments/conversations", headers={
        "HX-Request": "true", "HX-Current-URL": "http://127.0.0.1/chats"})  # fmt: skip
    assert fragment.headers["HX-Redirect"] == "/privacy/consent?next=%2Fchats"

    page = await alice.http.get(chats.headers["location"])
    assert page.status_code == 200
    assert "changed from version" in page.text
    escaped = "We now also keep your &lt;b&gt;favourite colour&lt;/b&gt; &amp; mood."
    assert re.search(r'<div class="diff-add"><span class="diff-mark">\+</span>' + re.escape(
        escaped), page.text)  # fmt: skip
    assert NEW_PARAGRAPH not in page.text  # never as markup
    assert "<script" not in page.text.split("</head>")[1]
    found = HASH.search(page.text)
    assert found
    assert found.group(1) == version_hash

    refused = await alice.post("/privacy/consent", data={
        "version_hash": version_hash, "next": "/devices?x=1"})  # fmt: skip
    assert refused.status_code == 422
    accepted = await alice.post("/privacy/consent", data={
        "version_hash": version_hash, "next": "/devices?x=1", "accept_policy": "on"})  # fmt: skip
    assert accepted.status_code == 204
    assert accepted.headers["HX-Redirect"] == "/devices?x=1"
    assert (await alice.http.get("/devices")).status_code == 200
    async with alice.app.device.account_client() as client:
        state = await client.privacy.consent_state()
    assert (state.consented_version, state.needs_reconsent) == (version, False)


async def test_the_consent_page_never_sends_you_to_another_site(
    app: FastAPI, browser: OpenBrowser
) -> None:
    alice = await signed_up(browser, "alice")
    _version, version_hash = await publish_version(app, "EU")
    page = await alice.http.get("/privacy/consent", params={"next": "//evil.example/x"})
    assert 'name="next" value="/chats"' in page.text
    accepted = await alice.post("/privacy/consent", data={"version_hash": version_hash,
        "next": "https://evil.example", "accept_policy": "on"})  # fmt: skip
    assert accepted.headers["HX-Redirect"] == "/chats"


async def test_a_cn_user_without_the_wallet_purpose_is_asked_for_it_on_the_wallet_page(
    browser: OpenBrowser,
) -> None:
    meili = await signed_up(browser, "meili", region="cn")  # ticks only what is required
    assert (await meili.http.get("/chats")).status_code == 200
    wallet = await meili.http.get("/wallet")
    assert wallet.status_code == 303
    assert wallet.headers["location"] == "/privacy/consent?next=%2Fwallet&purpose=sensitive_data"
    page = await meili.http.get(wallet.headers["location"])
    assert re.search(r'value="sensitive_data"\s+checked', page.text)
    found = HASH.search(page.text)
    assert found
    accepted = await meili.post("/privacy/consent", data={
        "version_hash": found.group(1), "next": "/wallet", "accept_policy": "on",
        "purpose": ["cross_border", "sensitive_data"]})  # fmt: skip
    assert accepted.headers["HX-Redirect"] == "/wallet"
    assert (await meili.http.get("/wallet")).status_code == 200


async def test_the_privacy_center_shows_the_policy_and_toggles_each_purpose(
    browser: OpenBrowser,
) -> None:
    alice = await signed_up(browser, "alice")
    chats = await alice.http.get("/chats")
    assert '<a href="/privacy" class="">Privacy center</a>' in chats.text
    center = await alice.http.get("/privacy")
    assert center.status_code == 200
    assert "Courtyard Privacy Policy (EU and EEA)" in center.text
    assert 'href="/privacy/policy?region=EU"' in center.text
    for link in ("data", "access-log", "encryption", "erasure", "complaints", "notices"):
        assert f'href="/privacy/{link}"' in center.text
    assert 'hx-post="/privacy/purposes/marketing"' in center.text
    assert 'name="granted" value="1"' in center.text

    given = await alice.post("/privacy/purposes/marketing", data={"granted": "1"})
    assert given.headers["HX-Redirect"] == "/privacy"
    center = await alice.http.get("/privacy")
    assert 'name="granted" value="0"' in center.text
    assert "Withdraw" in center.text
    await alice.post("/privacy/purposes/marketing", data={"granted": "0"})
    records = await alice.http.get("/privacy/consent-records")
    assert records.status_code == 200
    assert records.text.count("withdrew <strong>marketing</strong>") == 2  # sign-up, just now
    assert records.text.count("gave <strong>marketing</strong>") == 1


async def test_signing_in_while_consent_is_needed_asks_for_it_then_unlocks(
    app: FastAPI, browser: OpenBrowser
) -> None:
    await signed_up(browser, "alice")
    _version, version_hash = await publish_version(app, "EU")
    laptop = await browser("alice-laptop")
    await laptop.open()
    form = {"username": "alice", "password": PASSWORD, "passphrase": PASSPHRASE}
    signed_in = await laptop.post("/signin", data=form)
    assert signed_in.headers["HX-Redirect"] == "/privacy/consent?next=%2Fchats"
    assert laptop.app.device.stored() is not None  # signed in; its keys wait for consent
    assert not laptop.app.device.unlocked
    page = await laptop.http.get("/privacy/consent", params={"next": "/chats"})
    assert "Then unlock this device" in page.text
    accepted = await laptop.post("/privacy/consent", data={
        "version_hash": version_hash, "next": "/chats", "accept_policy": "on"})  # fmt: skip
    assert accepted.headers["HX-Redirect"] == "/welcome"
    unlocked = await laptop.post("/unlock", data={"passphrase": PASSPHRASE})
    assert unlocked.headers["HX-Redirect"] == "/chats"
    assert (await laptop.http.get("/chats")).status_code == 200
