"""Sends committed in batches: each still gets its own answer, lands once, in order."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from courtyard.api.runtime import Runtime
from courtyard.core.clock import FrozenClock
from courtyard.domains.messaging import sending
from courtyard.domains.messaging.batch_store import CoreBatchStore
from courtyard.domains.messaging.models import MessageTxn, TimelineEvent
from courtyard.domains.messaging.timeline import event_to_wire
from courtyard.streams.events import StreamEvent
from tests.conftest import bearer
from tests.integration.conversation_support import create, megolm_envelope, send, stream, users


@pytest.fixture(params=["fastest", "core"], autouse=True)
def batch_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the backend's fastest batch store (raw SQL on SQLite) and with the
    SQLAlchemy Core one, against the same database."""
    if request.param == "core":
        monkeypatch.setattr(sending, "store_for", CoreBatchStore)
    return str(request.param)


def _messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["content"] for e in events if e["content"]["type"] == "m.encrypted"]


async def test_concurrent_sends_share_commits_and_land_once_each_in_order(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    queue = (runtime := app.state.runtime).messages.queue
    assert isinstance(runtime, Runtime)
    alice, bob, carol = await users(client, "alice", "bob", "carol")
    ab = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    ac = (await create(client, alice, "direct", [carol])).json()["conversation_id"]
    before = queue.batches
    sends = [send(client, alice, ab, f"ab{i}", txn_id=f"ab{i}") for i in range(40)]
    sends += [send(client, bob, ab, f"ba{i}", txn_id=f"ba{i}") for i in range(40)]
    sends += [send(client, carol, ac, f"ca{i}", txn_id=f"ca{i}") for i in range(40)]
    answers = await asyncio.gather(*sends)
    assert [a.status_code for a in answers] == [200] * 120
    assert queue.batches - before < 120  # some commits carried several sends
    by_conversation = {ab: answers[:80], ac: answers[80:]}
    for sent in by_conversation.values():
        seqs = sorted(a.json()["seq"] for a in sent)
        assert seqs == list(range(seqs[0], seqs[0] + len(sent)))  # gap-free
    for who, expected in ((alice, 120), (bob, 80), (carol, 40)):
        events = await stream(client, who)
        messages = _messages(events)
        assert len(messages) == expected
        assert len({m["event_id"] for m in messages}) == expected  # each exactly once
        for cid in (ab, ac):  # each conversation's messages arrive in seq order
            seqs = [m["seq"] for m in messages if m["conversation_id"] == cid]
            assert seqs == sorted(seqs)
    body = (await client.get("/v1/sync?since=0&limit=500", headers=bearer(alice))).json()
    positions = [e["position"] for e in body["events"]]
    assert positions == list(range(1, len(positions) + 1))


async def test_each_send_in_a_mixed_batch_gets_its_own_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    alice, bob, carol, dave = await users(client, "alice", "bob", "carol", "dave")
    ab = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    group = (await create(client, alice, "group", [dave], name="g")).json()["conversation_id"]
    first = await send(client, alice, ab, "first", txn_id="same-as-before")
    answers = await asyncio.gather(
        send(client, alice, ab, "fresh", txn_id="fresh"),
        send(client, carol, ab, "not mine", txn_id="x1"),  # not a member at all
        send(client, dave, group, "invited only", txn_id="x2"),  # invited, not joined
        send(client, alice, ab, "twice", txn_id="twice"),
        send(client, alice, ab, "twice", txn_id="twice"),
        send(client, alice, ab, "again", txn_id="same-as-before"),
        send(client, alice, "0190a1a1-0000-7000-8000-000000000000", "nowhere", txn_id="x3"),
    )
    status = [a.status_code for a in answers]
    assert status == [200, 404, 403, 200, 200, 200, 404]
    assert answers[1].json()["code"] == "conversation_not_found"
    assert answers[2].json()["code"] == "not_a_member"
    assert answers[6].json()["code"] == "conversation_not_found"
    twice = [answers[3].json(), answers[4].json()]
    assert twice[0]["event_id"] == twice[1]["event_id"]
    assert sorted(t["replayed"] for t in twice) == [False, True]
    assert answers[5].json() == {**first.json(), "replayed": True}
    bodies = Counter(m["event_id"] for m in _messages(await stream(client, bob)))
    assert len(bodies) == 3
    assert set(bodies.values()) == {1}


async def test_a_failed_batch_is_retried_send_by_send(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = app.state.runtime.messages.queue
    alice, bob = await users(client, "alice", "bob")
    ab = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    failures = []

    async def fails_once(batch: list[Any]) -> list[Any]:
        failures.append(len(batch))
        monkeypatch.undo()
        raise OperationalError("INSERT", {}, Exception("deadlock detected"))

    monkeypatch.setattr(queue, "_commit_batch", fails_once)
    answers = await asyncio.gather(*(send(client, alice, ab, f"m{i}") for i in range(10)))
    assert failures
    assert [a.status_code for a in answers] == [200] * 10
    assert len(_messages(await stream(client, bob))) == 10


async def test_a_send_outlives_a_caller_who_gave_up(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    runtime: Runtime = app.state.runtime
    alice, bob = await users(client, "alice", "bob")
    ab = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    identity = await runtime.accounts.authenticate(alice["access_token"])
    envelope = megolm_envelope(alice, "late")
    task = asyncio.create_task(runtime.messages.do_send(identity, ab, "gave-up", envelope))
    await asyncio.sleep(0)
    task.cancel()
    await runtime.messages.queue.close()
    again = await runtime.messages.do_send(identity, ab, "gave-up", envelope)
    assert again.replayed is True
    assert len(_messages(await stream(client, bob))) == 1


async def test_a_batch_stores_what_the_orm_reads_back_exactly(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    runtime: Runtime = app.state.runtime
    alice, bob = await users(client, "alice", "bob")
    ab = (await create(client, alice, "direct", [bob])).json()["conversation_id"]
    sent = (await send(client, alice, ab, "exact", txn_id="exact")).json()
    async with runtime.db.read() as session:
        event = await session.get(TimelineEvent, (ab, sent["seq"]))
        txn = await session.get(MessageTxn, (ab, alice["device_id"], "exact"))
        copies = list(
            await session.scalars(
                select(StreamEvent).where(StreamEvent.event_id == sent["event_id"])
            )
        )
    assert event is not None
    assert txn is not None
    assert (event.event_id, event.type, event.recalled) == (sent["event_id"], "m.encrypted", False)
    assert event.content["algorithm"] == "megolm.v1.aes-sha2"
    assert event.created_at == clock.now()
    assert txn.created_at == clock.now()
    assert txn.seq == sent["seq"]
    assert sorted(c.user_id for c in copies) == sorted([alice["user_id"], bob["user_id"]])
    for copy in copies:
        assert copy.created_at == clock.now()
        assert copy.content == event_to_wire(event)
