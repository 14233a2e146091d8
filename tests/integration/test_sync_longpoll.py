"""Long-poll sync: waits for news, wakes on a new fact, and resumes from the acknowledgement."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import PASSWORD, bearer, register


async def test_long_poll_returns_at_once_when_there_is_news(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    body = (await client.get("/v1/sync?since=0&timeout=30000", headers=bearer(session))).json()
    assert [e["type"] for e in body["events"]] == ["device.added"]
    assert body["next"] == 1


async def test_long_poll_wakes_when_a_fact_is_written(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    poll = asyncio.create_task(
        client.get("/v1/sync?since=1&timeout=30000", headers=bearer(session))
    )
    await asyncio.sleep(0.2)
    assert not poll.done()
    await client.patch("/v1/account/profile", json={"display_name": "Al"}, headers=bearer(session))
    body = (await asyncio.wait_for(poll, 5)).json()
    assert [e["type"] for e in body["events"]] == ["profile.changed"]
    assert body["next"] == 2


async def test_long_poll_times_out_empty(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    body = (await client.get("/v1/sync?since=1&timeout=200", headers=bearer(session))).json()
    assert body == {"events": [], "next": 1}


async def test_without_since_a_device_resumes_after_its_acknowledgement(
    client: httpx.AsyncClient,
) -> None:
    session = await register(client, "alice")
    for name in ("A", "B", "C"):
        await client.patch(
            "/v1/account/profile", json={"display_name": name}, headers=bearer(session)
        )
    # Acknowledge up to 2 by asking from there.
    await client.get("/v1/sync?since=2", headers=bearer(session))
    body = (await client.get("/v1/sync", headers=bearer(session))).json()
    assert [e["position"] for e in body["events"]] == [3, 4]
    # Acks never go backwards and never past the head.
    await client.get("/v1/sync?since=1", headers=bearer(session))
    await client.get("/v1/sync?since=99", headers=bearer(session))
    body = (await client.get("/v1/sync", headers=bearer(session))).json()
    assert [e["position"] for e in body["events"]] == [3, 4]


async def test_paging_with_limit(client: httpx.AsyncClient) -> None:
    session = await register(client, "alice")
    for i in range(5):
        await client.patch(
            "/v1/account/profile", json={"display_name": f"n{i}"}, headers=bearer(session)
        )
    seen: list[int] = []
    since = 0
    while True:
        body = (await client.get(f"/v1/sync?since={since}&limit=2", headers=bearer(session))).json()
        if not body["events"]:
            break
        seen += [e["position"] for e in body["events"]]
        since = body["next"]
    assert seen == [1, 2, 3, 4, 5, 6]


async def test_users_only_see_their_own_stream(client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")
    await client.patch(
        "/v1/account/profile", json={"display_name": "Secret"}, headers=bearer(alice)
    )
    events = (await client.get("/v1/sync?since=0", headers=bearer(bob))).json()["events"]
    assert [e["content"].get("device_id") for e in events] == [bob["device_id"]]


async def test_a_new_device_starts_at_the_stream_head(client: httpx.AsyncClient) -> None:
    first = await register(client, "alice")
    for name in ("A", "B"):
        await client.patch(
            "/v1/account/profile", json={"display_name": name}, headers=bearer(first)
        )
    second = (
        await client.post("/v1/sessions", json={"username": "alice", "password": PASSWORD})
    ).json()
    body = (await client.get("/v1/sync", headers=bearer(second))).json()
    assert [(e["type"], e["content"].get("device_id")) for e in body["events"]] == [
        ("device.added", second["device_id"])
    ]
    # The older events are still there for whoever asks for them explicitly.
    everything = (await client.get("/v1/sync?since=0", headers=bearer(second))).json()
    assert len(everything["events"]) == 4
