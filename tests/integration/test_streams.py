"""Stream positions: gap-free and ordered under concurrent writers; readers never miss one."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtyard.api.runtime import Runtime
from courtyard.core.ids import new_id
from courtyard.streams import SyncBatch


async def _new_stream(runtime: Runtime) -> str:
    user_id = new_id()
    async with runtime.db.transaction() as tx:
        await runtime.streams.create_stream(tx, user_id)
    return user_id


async def _append(runtime: Runtime, user_id: str, n: int) -> int:
    async with runtime.db.transaction() as tx:
        return await runtime.streams.append(tx, user_id, "test.fact", {"n": n})


async def test_concurrent_appends_get_distinct_gap_free_positions(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    user_id = await _new_stream(runtime)
    positions = await asyncio.gather(*(_append(runtime, user_id, n) for n in range(200)))
    assert sorted(positions) == list(range(1, 201))
    batch = await runtime.sync.read(user_id, 0, limit=500)
    assert [e["position"] for e in batch.events] == list(range(1, 201))
    assert sorted(e["content"]["n"] for e in batch.events) == list(range(200))
    assert len({e["event_id"] for e in batch.events}) == 200


async def test_a_rolled_back_fact_leaves_no_event_and_no_gap(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    user_id = await _new_stream(runtime)
    await _append(runtime, user_id, 0)
    try:
        async with runtime.db.transaction() as tx:
            await runtime.streams.append(tx, user_id, "test.fact", {"n": 1})
            raise RuntimeError("the fact failed")
    except RuntimeError:
        pass
    assert await _append(runtime, user_id, 2) == 2
    events = (await runtime.sync.read(user_id, 0)).events
    assert [(e["position"], e["content"]["n"]) for e in events] == [(1, 0), (2, 2)]


async def test_a_waiting_reader_wakes_for_a_concurrent_writer(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    user_id = await _new_stream(runtime)
    waiting = asyncio.create_task(runtime.sync.wait(user_id, 0, timeout=10))
    await asyncio.sleep(0.05)
    await _append(runtime, user_id, 7)
    batch = await asyncio.wait_for(waiting, 5)
    assert [e["content"]["n"] for e in batch.events] == [7]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    plan=st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.integers(1, 5)),
            st.tuples(st.just("read"), st.integers(1, 4)),
            st.tuples(st.just("reconnect"), st.integers(0, 0)),
        ),
        min_size=1,
        max_size=25,
    )
)
async def test_a_device_that_resumes_from_its_last_position_sees_each_fact_once(
    app: FastAPI, plan: list[tuple[str, int]]
) -> None:
    """Random writes, partial reads and reconnects: the device ends with every fact once."""
    runtime: Runtime = app.state.runtime
    user_id = await _new_stream(runtime)
    written: list[int] = []
    seen: list[int] = []
    acked = 0  # what the device had durably acknowledged before a reconnect
    cursor = 0
    for action, amount in plan:
        if action == "write":
            for _ in range(amount):
                written.append(len(written))
                await _append(runtime, user_id, written[-1])
        elif action == "read":
            batch = await runtime.sync.read(user_id, cursor, limit=amount)
            seen_ids = set(seen)
            seen += [e["content"]["n"] for e in batch.events if e["content"]["n"] not in seen_ids]
            cursor = batch.next
            acked = cursor
        else:
            cursor = acked  # the socket dropped: resume from the acknowledged position
    batch = await runtime.sync.read(user_id, cursor, limit=500)
    seen += [e["content"]["n"] for e in batch.events if e["content"]["n"] not in set(seen)]
    assert seen == written


async def test_fan_out_appends_once_to_each_stream_in_order(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    users = [await _new_stream(runtime) for _ in range(5)]
    await _append(runtime, users[0], -1)

    async def fan_out(n: int) -> dict[str, int]:
        async with runtime.db.transaction() as tx:
            return await runtime.streams.append_many(tx, [*users, users[1]], "test.fan", {"n": n})

    # Concurrent fan-outs to the same users neither deadlock nor skip positions.
    results = await asyncio.gather(*(fan_out(n) for n in range(20)))
    assert all(set(r) == set(users) for r in results)
    for user_id in users:
        events = (await runtime.sync.read(user_id, 0, limit=500)).events
        offset = 1 if user_id == users[0] else 0
        assert [e["position"] for e in events] == list(range(1, 21 + offset))
        assert sorted(e["content"]["n"] for e in events[offset:]) == list(range(20))


async def test_a_listening_reader_takes_pushed_events_and_reads_only_to_fill_a_gap(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime: Runtime = app.state.runtime
    user_id = await _new_stream(runtime)
    reads: list[int] = []
    read = runtime.sync.read

    async def counted(user: str, since: int, limit: int = 100) -> SyncBatch:
        reads.append(since)
        return await read(user, since, limit)

    monkeypatch.setattr(runtime.sync, "read", counted)
    async with runtime.notifier.listen(user_id) as waiter:
        assert (await runtime.sync.next_batch(waiter, user_id, 0, 0)).events == []
        for n in range(3):
            await _append(runtime, user_id, n)
        batch = await runtime.sync.next_batch(waiter, user_id, 0, 5)
        assert [e["content"]["n"] for e in batch.events] == [0, 1, 2]
        assert reads == [0]  # the three came with their hints
        publish = runtime.bus.publish
        monkeypatch.setattr(runtime.bus, "publish", _dropped)
        await _append(runtime, user_id, 3)  # its hint is lost
        monkeypatch.setattr(runtime.bus, "publish", publish)
        await _append(runtime, user_id, 4)
        batch = await runtime.sync.next_batch(waiter, user_id, 3, 5)
        assert [e["content"]["n"] for e in batch.events] == [3, 4]  # the gap sent it to the db
        assert reads == [0, 3]


async def _dropped(*_args: object) -> None:
    return None


async def test_a_listening_reader_gets_a_backlog_longer_than_a_page_without_new_hints(
    app: FastAPI,
) -> None:
    runtime: Runtime = app.state.runtime
    user_id = await _new_stream(runtime)
    for n in range(250):
        await _append(runtime, user_id, n)
    async with runtime.notifier.listen(user_id) as waiter:
        since, seen = 0, []
        for _ in range(3):  # three pages at once: no waiting for a hint that never comes
            batch = await asyncio.wait_for(
                runtime.sync.next_batch(waiter, user_id, since, 30, limit=100), 5
            )
            seen += [e["content"]["n"] for e in batch.events]
            since = batch.next
    assert seen == list(range(250))
