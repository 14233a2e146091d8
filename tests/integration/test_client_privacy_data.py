"""``client.privacy.export`` and ``client.privacy.access_log`` against the real app through
``httpx.ASGITransport``: both export formats, the log's entries and paging, and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from courtyard.client import ApiError, Client
from courtyard.client.errors import ProtocolError
from courtyard.client.privacy_data import AccessLogEntry
from tests.client_support import consent_for
from tests.conftest import PASSWORD
from tests.integration.test_client_wallet import BASE_URL


@pytest.fixture
async def alice(app: FastAPI) -> AsyncIterator[Client]:
    client = Client(BASE_URL, transport=httpx.ASGITransport(app=app))
    await client.register(
        "alice", PASSWORD, "<b>Alice</b>", "DE", **await consent_for(client, "DE")
    )
    try:
        yield client
    finally:
        await client.aclose()


async def test_export_in_both_formats_and_each_in_the_access_log(alice: Client) -> None:
    account = await alice.whoami()
    export = await alice.privacy.export()
    assert export["manifest"]["user"] == {"user_id": account.user_id, "username": "alice"}
    assert export["data"]["accounts"]["users"][0]["display_name"] == "<b>Alice</b>"
    page = await alice.privacy.export("html")
    assert page.startswith("<!doctype html>")
    assert "&lt;b&gt;Alice&lt;/b&gt;" in page
    assert "<b>Alice</b>" not in page

    log = await alice.privacy.access_log()
    assert all(isinstance(e, AccessLogEntry) for e in log.entries)
    assert [(e.action, e.actor_kind, e.detail) for e in log.entries] == [
        ("privacy.export", "user", {"format": "html"}),
        ("privacy.export", "user", {"format": "json"}),
    ]
    assert log.entries[0].seq > log.entries[1].seq
    assert log.next_before is None


async def test_the_access_log_pages_with_before(alice: Client) -> None:
    for _ in range(3):
        await alice.privacy.export()
    first = await alice.privacy.access_log(limit=2)
    assert len(first.entries) == 2
    assert first.next_before is not None
    rest = await alice.privacy.access_log(before=first.next_before, limit=2)
    assert [e.seq for e in rest.entries] == [first.entries[-1].seq - 1]
    assert rest.next_before is None


async def test_refusals_come_back_as_api_errors(alice: Client, app: FastAPI) -> None:
    with pytest.raises(ApiError) as refused:
        await alice.privacy.access_log(limit=0)
    assert refused.value.status == 422
    stranger = Client(BASE_URL, "not-a-token", transport=httpx.ASGITransport(app=app))
    with pytest.raises(ApiError) as unknown:
        await stranger.privacy.export()
    assert unknown.value.status == 401
    await stranger.aclose()


async def test_a_server_answering_something_else_is_a_protocol_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"entries": [{"seq": "x"}], "next_before": None})

    client = Client(BASE_URL, "token", transport=httpx.MockTransport(answer))
    with pytest.raises(ProtocolError):
        await client.privacy.access_log()
    with pytest.raises(ProtocolError):
        await client.privacy.export()
    await client.aclose()
