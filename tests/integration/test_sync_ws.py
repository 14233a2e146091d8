"""Sync over a real WebSocket: push, resume from the acknowledged position, revocation."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets

from tests.conftest import PASSWORD, bearer, register


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
