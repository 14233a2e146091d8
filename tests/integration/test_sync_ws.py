"""Sync over a real WebSocket: push, resume from the acknowledged position, revocation."""

from __future__ import annotations

import json

import httpx
import websockets

from tests.conftest import bearer, register


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
