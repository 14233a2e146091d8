"""The consent gate beyond the policy version: the purposes it gates (the wallet for a CN
user's sensitive data, the whole service for cross-border transfer), the hosting country, the
per-node cache, the sync socket and long-poll, and its cost per request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy import event

from courtyard.api import create_app
from courtyard.api.runtime import Runtime
from courtyard.core.clock import FrozenClock
from courtyard.core.config import Settings, load_settings
from courtyard.domains.privacy.policy_store import CURRENT_TTL_SECONDS
from tests.conftest import PASSWORD, bearer, policy_consent, register
from tests.integration.consent_support import changed_text, publish_version, reconsent
from tests.integration.conversation_support import create, megolm_envelope, users


def purpose_url(name: str) -> str:
    return f"/v1/privacy/purposes/{name}"


async def test_withdrawing_sensitive_data_gates_the_wallet_of_a_cn_user_and_granting_restores_it(
    client: httpx.AsyncClient,
) -> None:
    li = await register(client, "meili", region="CN")  # grants what the service and wallet need
    assert (await client.get("/v1/wallet", headers=bearer(li))).status_code == 200

    withdrawn = await client.put(
        purpose_url("sensitive_data"), json={"granted": False}, headers=bearer(li)
    )
    assert withdrawn.json()["wallet_usable"] is False
    assert withdrawn.json()["service_usable"] is True
    wallet_routes = [("GET", "/v1/wallet"), ("GET", "/v1/wallet/transfers"),
                     ("GET", "/v1/wallet/bills"), ("POST", "/v1/wallet/transfers")]  # fmt: skip
    for method, path in wallet_routes:
        refused = await client.request(method, path, headers=bearer(li))
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "consent_required"
        assert refused.json()["purpose"] == "sensitive_data"
        assert refused.json()["policy_region"] == "CN"
    # Only the wallet: the rest of the service, and the wallet's public routes, still work.
    assert (await client.get("/v1/devices", headers=bearer(li))).status_code == 200
    assert (await client.get("/v1/wallet/currencies")).status_code == 200

    await client.put(purpose_url("sensitive_data"), json={"granted": True}, headers=bearer(li))
    assert (await client.get("/v1/wallet", headers=bearer(li))).status_code == 200


async def test_a_cn_user_may_register_without_the_wallet_purpose_and_grant_it_later(
    client: httpx.AsyncClient,
) -> None:
    fields = {**await policy_consent(client, "CN"), "purposes": {"cross_border": True}}
    body = {"username": "meili", "password": PASSWORD, "display_name": "Mei", "region": "CN",
            **fields}  # fmt: skip
    session = (await client.post("/v1/accounts", json=body)).json()
    assert (await client.get("/v1/devices", headers=bearer(session))).status_code == 200
    assert (await client.get("/v1/wallet", headers=bearer(session))).status_code == 403
    await client.put(purpose_url("sensitive_data"), json={"granted": True}, headers=bearer(session))
    assert (await client.get("/v1/wallet", headers=bearer(session))).status_code == 200


async def test_withdrawing_cross_border_transfer_stops_the_whole_service_until_given_again(
    client: httpx.AsyncClient,
) -> None:
    li = await register(client, "meili", region="CN")
    await client.put(purpose_url("cross_border"), json={"granted": False}, headers=bearer(li))
    refused = await client.get("/v1/devices", headers=bearer(li))
    assert refused.status_code == 403
    assert (refused.json()["code"], refused.json()["purpose"]) == (
        "consent_required",
        "cross_border",
    )
    assert (await client.get("/v1/account", headers=bearer(li))).status_code == 200
    state = (await client.get("/v1/privacy/consent", headers=bearer(li))).json()
    assert (state["needs_reconsent"], state["service_usable"]) == (False, False)
    await client.put(purpose_url("cross_border"), json={"granted": True}, headers=bearer(li))
    assert (await client.get("/v1/devices", headers=bearer(li))).status_code == 200


@pytest.fixture
async def hosted_in_china(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, log_format="text",
        wallet_oversight_jobs=False, hosting_country="CN",
    )  # fmt: skip
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://courtyard.test") as http:
            yield http
    finally:
        await application.state.runtime.stop()


async def test_cross_border_transfer_is_not_asked_when_the_server_is_hosted_in_china(
    hosted_in_china: httpx.AsyncClient,
) -> None:
    policy = (await hosted_in_china.get("/v1/privacy/policy", params={"country": "CN"})).json()
    assert set(policy["purposes"]) == {"sensitive_data", "marketing"}
    body = {"username": "meili", "password": PASSWORD, "display_name": "Mei", "region": "CN",
            "policy_version_hash": policy["version_hash"], "purposes": {}}  # fmt: skip
    session = (await hosted_in_china.post("/v1/accounts", json=body)).json()
    assert (await hosted_in_china.get("/v1/devices", headers=bearer(session))).status_code == 200


@pytest.fixture
async def second_node(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    """Another server node on the same database (the first is ``app``)."""
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    try:
        yield application
    finally:
        await application.state.runtime.stop()


async def test_a_version_published_on_another_node_applies_here_within_seconds(
    app: FastAPI, second_node: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await register(client, "alice")
    transport = httpx.ASGITransport(app=second_node)
    async with httpx.AsyncClient(transport=transport, base_url="http://node-b.test") as node_b:
        assert (await node_b.get("/v1/devices", headers=bearer(alice))).status_code == 200
        await publish_version(app, "EU")  # on node A
        assert (await client.get("/v1/devices", headers=bearer(alice))).status_code == 403
        # Node B trusts its cache of the current versions for a few seconds, no longer.
        assert (await node_b.get("/v1/devices", headers=bearer(alice))).status_code == 200
        cache = second_node.state.runtime.consent.current
        now = cache.monotonic()
        monkeypatch.setattr(cache, "monotonic", lambda: now + CURRENT_TTL_SECONDS + 1)
        assert (await node_b.get("/v1/devices", headers=bearer(alice))).status_code == 403

        await publish_version(app, "EU", changed_text("EU", "Yet another change."))  # on node A
        await reconsent(client, alice)  # to version 3, on node A
        # Node B still caches version 2; a consent to a newer version makes it look again.
        assert (await node_b.get("/v1/devices", headers=bearer(alice))).status_code == 200


async def test_the_gate_costs_one_query_per_request(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    await client.get("/v1/keys/count", headers=bearer(alice))  # warms the cache of versions
    runtime: Runtime = app.state.runtime
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = runtime.db.reader.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await client.get("/v1/account", headers=bearer(alice))  # not gated
        ungated = len(statements)
        statements.clear()
        await client.get("/v1/account/profile", headers=bearer(alice))  # 405: only the gate
        statements.clear()
        await client.get("/v1/keys/count", headers=bearer(alice))  # gated
        gated = len(statements)
        consent_reads = [s for s in statements if "user_consents" in s]
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(consent_reads) == 1
    assert "purpose_consents" in consent_reads[0]
    assert not any("privacy_policies" in s for s in statements)  # the versions are cached
    assert gated >= ungated + 1


def ws_url(live_server: str) -> str:
    return live_server.replace("http", "ws") + "/v1/sync/ws"


async def closed_with(ws: websockets.ClientConnection) -> tuple[list[dict[str, Any]], int]:
    """The frames until the server closes the socket, and the close code."""
    frames: list[dict[str, Any]] = []

    async def drain() -> None:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await drain()
    assert closed.value.rcvd is not None
    return frames, closed.value.rcvd.code


async def test_the_sync_socket_refuses_a_user_who_must_consent(
    app: FastAPI, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice = await register(http, "alice")
        await publish_version(app, "EU")
        async with websockets.connect(ws_url(live_server), additional_headers=bearer(alice)) as ws:
            frames, code = await closed_with(ws)
        assert code == 4403
        problem = frames[-1]["problem"]
        assert (frames[-1]["type"], problem["code"], problem["status"]) == (
            "error", "consent_required", 403,
        )  # fmt: skip
        assert (problem["policy_region"], problem["current_version"]) == ("EU", 2)
        await reconsent(http, alice)
        async with websockets.connect(ws_url(live_server), additional_headers=bearer(alice)) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "events"


async def test_an_open_socket_refuses_sends_once_a_new_version_is_current(
    app: FastAPI, live_server: str
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice, bob = await users(http, "alice", "bob")
        cid = (await create(http, alice, "direct", [bob])).json()["conversation_id"]
        history = f"/v1/conversations/{cid}/messages"
        before = (await http.get(history, headers=bearer(bob))).json()["events"]
        async with websockets.connect(ws_url(live_server), additional_headers=bearer(alice)) as ws:
            await asyncio.wait_for(ws.recv(), 10)  # the backlog
            await publish_version(app, "EU")
            frame = {"type": "send", "ref": "r1", "conversation_id": cid, "txn_id": "t1",
                     "content": megolm_envelope(alice, "after the new policy")}  # fmt: skip
            await ws.send(json.dumps(frame))
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if answer["type"] == "error":
                    break
        assert (answer["ref"], answer["problem"]["code"]) == ("r1", "consent_required")
        await reconsent(http, bob)
        after = (await http.get(history, headers=bearer(bob))).json()["events"]
        assert after == before  # the refused message was never stored


async def test_withdrawing_a_required_purpose_closes_the_users_other_sockets(
    live_server: str,
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as http:
        laptop = await register(http, "meili", region="CN")
        phone = (
            await http.post("/v1/sessions", json={"username": "meili", "password": PASSWORD})
        ).json()
        async with websockets.connect(ws_url(live_server), additional_headers=bearer(phone)) as ws:
            await asyncio.wait_for(ws.recv(), 10)  # the backlog
            await http.put(
                purpose_url("cross_border"), json={"granted": False}, headers=bearer(laptop)
            )
            frames, code = await closed_with(ws)
    assert code == 4403
    assert frames[-1]["problem"]["purpose"] == "cross_border"


async def test_long_poll_is_gated_like_any_route(app: FastAPI, client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    await publish_version(app, "EU")
    refused = await client.get("/v1/sync", params={"timeout": 1000}, headers=bearer(alice))
    assert (refused.status_code, refused.json()["code"]) == (403, "consent_required")
