"""Devices: each login is one; list, rename, remove; and nobody touches another's devices."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from courtyard.api.runtime import Runtime
from courtyard.core.clock import FrozenClock
from tests.conftest import PASSWORD, bearer, register


async def _login(http: httpx.AsyncClient, username: str, device: str) -> dict[str, str]:
    response = await http.post(
        "/v1/sessions", json={"username": username, "password": PASSWORD, "device_name": device}
    )
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_each_login_is_a_device(client: httpx.AsyncClient) -> None:
    first = await register(client, "alice")
    second = await _login(client, "alice", "Alice's phone")
    devices = (await client.get("/v1/devices", headers=bearer(second))).json()
    assert [d["device_id"] for d in devices] == [first["device_id"], second["device_id"]]
    assert [d["current"] for d in devices] == [False, True]
    assert devices[1]["display_name"] == "Alice's phone"
    assert devices[0]["created_at"]
    assert devices[0]["last_seen_at"]


async def test_rename_device(client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    response = await client.patch(
        f"/v1/devices/{alice['device_id']}", json={"display_name": "Laptop"}, headers=bearer(alice)
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Laptop"


async def test_removing_a_device_revokes_its_token_at_once(client: httpx.AsyncClient) -> None:
    laptop = await register(client, "alice")
    phone = await _login(client, "alice", "Phone")
    removed = await client.delete(f"/v1/devices/{phone['device_id']}", headers=bearer(laptop))
    assert removed.status_code == 204
    assert (await client.get("/v1/account", headers=bearer(phone))).status_code == 401
    assert (await client.get("/v1/account", headers=bearer(laptop))).status_code == 200
    remaining = (await client.get("/v1/devices", headers=bearer(laptop))).json()
    assert [d["device_id"] for d in remaining] == [laptop["device_id"]]


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"display_name": "pwned"}), ("DELETE", None)],
)
async def test_user_b_cannot_read_rename_or_remove_user_a_devices(
    client: httpx.AsyncClient, method: str, body: dict[str, str] | None
) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")
    url = f"/v1/devices/{alice['device_id']}"
    if method == "GET":
        listed = (await client.get("/v1/devices", headers=bearer(bob))).json()
        assert alice["device_id"] not in {d["device_id"] for d in listed}
        return
    response = await client.request(method, url, json=body, headers=bearer(bob))
    assert response.status_code == 404
    assert response.json()["code"] == "device_not_found"
    # Alice's device is untouched and still works.
    devices = (await client.get("/v1/devices", headers=bearer(alice))).json()
    assert devices[0]["display_name"] == "New device"
    assert (await client.get("/v1/account", headers=bearer(alice))).status_code == 200


async def test_device_events_reach_the_stream(client: httpx.AsyncClient) -> None:
    laptop = await register(client, "alice")
    phone = await _login(client, "alice", "Phone")
    await client.patch(
        f"/v1/devices/{phone['device_id']}",
        json={"display_name": "Old phone"},
        headers=bearer(laptop),
    )
    await client.delete(f"/v1/devices/{phone['device_id']}", headers=bearer(laptop))
    events = (await client.get("/v1/sync?since=0", headers=bearer(laptop))).json()["events"]
    assert [(e["type"], e["content"].get("device_id")) for e in events] == [
        ("device.added", laptop["device_id"]),
        ("device.added", phone["device_id"]),
        ("device.renamed", phone["device_id"]),
        ("device.removed", phone["device_id"]),
    ]
    assert [e["position"] for e in events] == [1, 2, 3, 4]


async def test_last_seen_is_written_in_the_background_and_coalesced(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    runtime: Runtime = app.state.runtime
    alice = await register(client, "alice")
    others = [await _login(client, "alice", f"device {n}") for n in range(4)]
    clock.advance(minutes=6)
    writes = runtime.db.transaction
    transactions: list[int] = []

    def counted() -> Any:
        transactions.append(1)
        return writes()

    runtime.db.transaction = counted  # type: ignore[method-assign]
    sessions = [alice, *others]
    await asyncio.gather(*(runtime.accounts.authenticate(s["access_token"]) for s in sessions * 2))
    await runtime.accounts.last_seen.close()
    runtime.db.transaction = writes  # type: ignore[method-assign]
    assert len(transactions) < len(sessions)  # ten sightings of five devices, fewer writes
    devices = (await client.get("/v1/devices", headers=bearer(alice))).json()
    expected = clock.now().isoformat().replace("+00:00", "Z")
    assert {d["last_seen_at"] for d in devices} == {expected}
