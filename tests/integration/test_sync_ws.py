"""Sync over a real WebSocket: push, resume from the acknowledged position, revocation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from fastapi import FastAPI
from sqlalchemy.exc import TimeoutError as SqlTimeout

from courtyard.api.runtime import Runtime
from tests.conftest import PASSWORD, bearer, register
from tests.integration.conversation_support import create, megolm_envelope, users


async def test_socket_pushes_new_events_and_resumes_after_ack(live_server: str) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        session = await register(http, "alice")
        async with websockets.connect(ws_url, additional_headers=bearer(session)) as ws:
            first = json.loads(await ws.recv())
            assert [e["type"] for e in first["events"]] == ["device.added"]
            await ws.send(json.dumps({"type": "ack", "position": first["next"]}))
            await http.patch(
                "/v1/account/profile", json={"display_name": "Al"}, headers=bearer(session)
            )
            pushed = json.loads(await ws.recv())
            assert pushed["events"][0]["type"] == "profile.changed"
            assert pushed["events"][0]["content"] == {"display_name": "Al"}
            # Acknowledge nothing more: a new socket resumes after position 1.
        async with websockets.connect(ws_url, additional_headers=bearer(session)) as ws:
            resumed = json.loads(await ws.recv())
            assert [e["type"] for e in resumed["events"]] == ["profile.changed"]


async def test_a_bad_token_gets_close_code_4401(live_server: str) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    headers = {"Authorization": "Bearer cyt_not-a-real-token"}
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_a_bad_since_gets_close_code_4400(live_server: str) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws?since=-3"
    async with httpx.AsyncClient(base_url=live_server) as http:
        session = await register(http, "alice")
    async with websockets.connect(ws_url, additional_headers=bearer(session)) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400


async def test_removing_the_device_closes_its_socket_with_4401(live_server: str) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        laptop = await register(http, "alice")
        phone = (
            await http.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
        ).json()
        async with websockets.connect(ws_url, additional_headers=bearer(phone)) as ws:
            await ws.recv()  # the backlog
            await http.delete(f"/v1/devices/{phone['device_id']}", headers=bearer(laptop))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await _drain(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def _drain(ws: websockets.ClientConnection) -> None:
    """Read messages until the server closes the socket."""
    while True:
        await ws.recv()


async def _recv_until(ws: websockets.ClientConnection, kind: str) -> dict[str, Any]:
    """The next frame of type ``kind`` (event frames before it are skipped)."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if frame["type"] == kind:
            return frame


async def test_a_device_sends_messages_on_its_socket_and_gets_each_answer(
    live_server: str,
) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice, bob = await users(http, "alice", "bob")
        cid = (await create(http, alice, "direct", [bob])).json()["conversation_id"]
        async with (
            websockets.connect(ws_url, additional_headers=bearer(alice)) as sender,
            websockets.connect(ws_url, additional_headers=bearer(bob)) as receiver,
        ):
            frame = {"type": "send", "ref": "r1", "conversation_id": cid, "txn_id": "t1",
                     "content": megolm_envelope(alice, "over the socket")}  # fmt: skip
            await sender.send(json.dumps(frame))
            sent = await _recv_until(sender, "sent")
            assert sent["ref"] == "r1"
            assert sent["replayed"] is False
            assert (sent["conversation_id"], sent["txn_id"]) == (cid, "t1")
            while True:  # Bob's socket is pushed the message
                events = (await _recv_until(receiver, "events"))["events"]
                ids = [e["content"].get("event_id") for e in events]
                if sent["event_id"] in ids:
                    break
            await sender.send(json.dumps({**frame, "ref": "r2"}))  # a retry lands once
            again = await _recv_until(sender, "sent")
            assert again == {**sent, "ref": "r2", "replayed": True}
        history = await http.get(f"/v1/conversations/{cid}/messages", headers=bearer(bob))
        assert [e["event_id"] for e in history.json()["events"]].count(sent["event_id"]) == 1


async def test_bad_send_frames_get_error_frames_and_the_socket_stays_open(
    live_server: str,
) -> None:
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        alice, bob, carol = await users(http, "alice", "bob", "carol")
        cid = (await create(http, alice, "direct", [bob])).json()["conversation_id"]
        envelope = megolm_envelope(carol)
        async with websockets.connect(ws_url, additional_headers=bearer(carol)) as ws:
            await ws.send("{not json")
            assert (await _recv_until(ws, "error"))["problem"]["code"] == "malformed_json"
            await ws.send(json.dumps({"type": "send", "ref": "a", "conversation_id": cid}))
            bad = await _recv_until(ws, "error")
            assert (bad["ref"], bad["problem"]["code"]) == ("a", "invalid_request")
            await ws.send(json.dumps({"type": "send", "ref": "b", "conversation_id": cid,
                                      "txn_id": "t", "content": {"body": "plain"}}))  # fmt: skip
            plain = await _recv_until(ws, "error")
            assert (plain["ref"], plain["problem"]["code"]) == ("b", "not_megolm_encrypted")
            await ws.send(json.dumps({"type": "send", "ref": "c", "conversation_id": cid,
                                      "txn_id": "t", "content": envelope}))  # fmt: skip
            foreign = await _recv_until(ws, "error")
            assert foreign["problem"]["status"] == 404
            assert foreign["problem"]["code"] == "conversation_not_found"
            await ws.send(json.dumps({"type": "ping"}))
            assert (await _recv_until(ws, "pong")) == {"type": "pong"}


async def test_a_busy_database_gets_close_1013_and_a_failing_push_1011_not_a_crash(
    app: FastAPI, live_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime: Runtime = app.state.runtime
    ws_url = live_server.replace("http", "ws") + "/v1/sync/ws"
    async with httpx.AsyncClient(base_url=live_server) as http:
        session = await register(http, "alice")

    async def pool_exhausted(_token: str) -> Any:
        raise SqlTimeout("QueuePool limit reached")

    with monkeypatch.context() as patch:
        patch.setattr(runtime.accounts, "authenticate_device", pool_exhausted)
        async with websockets.connect(ws_url, additional_headers=bearer(session)) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013  # try again later: the SDK reconnects with backoff

    async def broken(*_args: object, **_kwargs: object) -> Any:
        raise ValueError("a bug")

    monkeypatch.setattr(runtime.sync, "next_batch", broken)
    async with websockets.connect(ws_url, additional_headers=bearer(session)) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1011
