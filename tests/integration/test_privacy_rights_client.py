"""The user's side of their rights against the real server app: the SDK's ``client.privacy``
erasure, complaint and notice calls, ``courtyard privacy erase|erasure|cancel-erasure|
complain|complaints|notices`` on a loopback server, and the device app's erasure, complaints
and notices pages."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.client import ApiError, Client, Profile
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.test_device_app import OpenBrowser, browser
from tests.integration.test_device_app_wallet import signed_up
from tests.integration.test_wallet_cli import signed_in
from tests.integration.wallet_support import fund

__all__ = ["browser"]  # the fixture, shared with the other device-app tests
pytestmark = pytest.mark.usefixtures("fast_password_hashing")


async def answer_all(app: FastAPI, text: str) -> None:
    """An operator answers every open complaint."""
    desk = app.state.runtime.rights.complaints
    for complaint in await desk.list_for_operators():
        if complaint.status == "open":
            await desk.do_answer(complaint.complaint_id, text, actor="operator:t", operator_id="t")


async def test_the_sdk_requests_and_cancels_erasure_and_files_complaints(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with Client("http://courtyard.test", transport=transport) as client:
        session = await client.register(
            "alice", PASSWORD, "Alice", "CN", **await consent_for(client, "CN")
        )
        with pytest.raises(ApiError) as none:
            await client.privacy.erasure()
        assert none.value.code == "erasure_not_found"
        await fund(app, session.user_id, 1_00)
        with pytest.raises(ApiError) as money:
            await client.privacy.request_erasure(PASSWORD)
        assert money.value.code == "wallet_not_empty"
        assert money.value.extra["balances"][0]["amount"] == "1.00"

    async with Client("http://courtyard.test", transport=transport) as client:
        bob = await client.register("bob", PASSWORD, "Bob", "CN", **await consent_for(client, "CN"))
        with pytest.raises(ApiError) as wrong:
            await client.privacy.request_erasure("not it")
        assert wrong.value.code == "wrong_password"
        asked = await client.privacy.request_erasure(PASSWORD)
        assert (asked.status, asked.cancellable) == ("pending", True)
        assert (asked.due_at - asked.requested_at).days == 30
        assert (await client.privacy.erasure()).due_at == asked.due_at
        cancelled = await client.privacy.cancel_erasure()
        assert (cancelled.status, cancelled.cancellable) == ("cancelled", False)

        filed = await client.privacy.complain("My region", "I moved to Germany.")
        assert (filed.due_at - filed.created_at).days == 15  # a CN user
        assert [c.complaint_id for c in await client.privacy.complaints()] == [filed.complaint_id]
        await answer_all(app, "Export, erase and register again in DE.")
        one = await client.privacy.complaint(filed.complaint_id)
        assert (one.status, one.answer) == ("answered", "Export, erase and register again in DE.")
        assert one.answered_at is not None
        kinds = [n.kind for n in await client.privacy.notices()]
        assert kinds == ["complaint_answered", "erasure", "erasure"]
        assert bob.user_id


async def courtyard(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(cli, ["privacy", *args], env=env, input=stdin)

    return await asyncio.to_thread(invoke)


async def test_the_cli_erases_shows_cancels_and_complains(
    app: FastAPI, live_server: str, tmp_path: Path
) -> None:
    profile = tmp_path / "alice"
    await signed_in(live_server, "alice", profile)
    where = ["--profile", str(profile)]
    declined = await courtyard("erase", *where, stdin="n\n")
    assert declined.exit_code == 1
    missing = await courtyard("erasure", *where)
    assert (missing.exit_code, "erasure_not_found" in missing.output) == (1, True)

    wrong = await courtyard("erase", "--yes", *where, env={"COURTYARD_PASSWORD": "nope"})
    assert (wrong.exit_code, "wrong_password" in wrong.output) == (1, True)
    erased = await courtyard("erase", "--yes", *where, env={"COURTYARD_PASSWORD": PASSWORD})
    assert erased.exit_code == 0, erased.output
    assert "Erasure pending: your account will be erased on 2026-01-31 00:00 UTC." in erased.output
    shown = await courtyard("erasure", *where)
    assert "2026-01-31" in shown.output
    assert "cancel-erasure" in shown.output
    cancelled = await courtyard("cancel-erasure", *where)
    assert "Erasure cancelled" in cancelled.output

    filed = await courtyard("complain", "Ads", "Stop using my data for ads.", *where)
    assert filed.exit_code == 0, filed.output
    assert "the operator must answer by 2026-01-31 00:00 UTC" in filed.output
    await answer_all(app, "We never did; see the policy.")
    listed = await courtyard("complaints", *where)
    assert "Ads" in listed.output
    assert "answer: We never did; see the policy." in listed.output
    notices = await courtyard("notices", *where)
    assert notices.output.index("Your complaint was answered: Ads") < notices.output.index(
        "Your erasure was cancelled"
    )
    assert Profile(profile).load() is not None


async def test_the_device_app_pages_ask_for_erasure_complain_and_show_notices(
    app: FastAPI, browser: OpenBrowser
) -> None:
    bob, bob_id = await signed_up(browser, "bob")
    await fund(app, bob_id, 2_00)
    refused = await bob.post("/privacy/erasure", data={"password": PASSWORD})
    assert refused.status_code == 422
    assert "Money is still in or on its way to your wallet (2.00 CNY)" in refused.text

    alice, _alice_id = await signed_up(browser, "alice")
    center = await alice.http.get("/privacy")
    for path in ("/privacy/erasure", "/privacy/complaints", "/privacy/notices"):
        assert f'href="{path}"' in center.text
    page = await alice.http.get("/privacy/erasure")
    assert page.status_code == 200, page.text
    assert "Erase my account in 30 days" in page.text
    assert (await alice.post("/privacy/erasure", data={"password": ""})).status_code == 422
    wrong = await alice.post("/privacy/erasure", data={"password": "nope"})
    assert (wrong.status_code, "password" in wrong.text.lower()) == (422, True)
    asked = await alice.post("/privacy/erasure", data={"password": PASSWORD})
    assert asked.headers["HX-Redirect"] == "/privacy/erasure"
    pending = await alice.http.get("/privacy/erasure")
    assert "Your account will be erased on 2026-01-31 00:00 UTC." in pending.text
    cancel = await alice.post("/privacy/erasure/cancel")
    assert cancel.headers["HX-Redirect"] == "/privacy/erasure"
    assert "You cancelled the erasure" in (await alice.http.get("/privacy/erasure")).text

    filed = await alice.post("/privacy/complaints", data={"subject": "Region", "body": "Moved."})
    redirect = filed.headers["HX-Redirect"]
    assert re.fullmatch(r"/privacy/complaints\?filed=[0-9a-f-]{36}", redirect)
    mine = await alice.http.get(redirect)
    assert "answer due by" in mine.text
    assert "just-filed" in mine.text
    empty = await alice.post("/privacy/complaints", data={"subject": "", "body": "x"})
    assert empty.status_code == 422
    await answer_all(app, "Done for you.")
    assert "Done for you." in (await alice.http.get("/privacy/complaints")).text
    shown = await alice.http.get("/privacy/notices")
    assert "Your complaint was answered: Region" in shown.text
    assert "Your erasure was cancelled" in shown.text
