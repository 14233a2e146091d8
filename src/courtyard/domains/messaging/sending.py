"""Group commit for message sends: every send waiting while a commit runs lands in the next one.

One send alone costs a transaction of about ten statements; under load, a batch of N sends
costs the same ten statements with N rows each (docs/fast-path.md). The batch takes the locks
one send would take, in the same order — conversation rows (sorted by id), then the stream
heads (sorted by user id) — so it queues behind other writers instead of deadlocking.

Each send gets the answer it would get alone: the result, its replay, or its own error. If
the batch transaction fails as a whole (a txn id committed concurrently on another node, a
deadlock victim, a lost connection), every send in it is retried alone through ``one_by_one``,
the unbatched path, so one bad send never fails the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from courtyard.core.clock import Clock
from courtyard.core.errors import CourtyardError
from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.domains.accounts import Identity
from courtyard.domains.messaging.batch_store import BatchStore, StreamRow, TxnKey, store_for
from courtyard.domains.messaging.errors import ConversationNotFound, NotAMember
from courtyard.domains.messaging.schemas import SentOut
from courtyard.domains.messaging.timeline import CONVERSATION_EVENT, columns_to_wire
from courtyard.streams import StreamStore

log = logging.getLogger(__name__)

MAX_BATCH = 256
# Under load, a batch waits this long for company when the recent send rate says more sends
# are due within it (PostgreSQL's commit_delay, in spirit); a lone sender never waits.
GATHER_SECONDS = 0.002
RATE_HALF_LIFE_SECONDS = 0.5
MESSAGE_TYPE = "m.encrypted"


@dataclass
class PendingSend:
    identity: Identity
    conversation_id: str
    txn_id: str
    envelope: dict[str, Any]
    future: asyncio.Future[SentOut] = field(repr=False)
    # Made here, on the event loop, so the writer's thread does not wait on the id lock.
    event_id: str = field(default_factory=new_id)

    @property
    def key(self) -> TxnKey:
        return (self.conversation_id, self.identity.device_id, self.txn_id)


Outcome = SentOut | CourtyardError
OneByOne = Callable[[PendingSend], Awaitable[SentOut]]


class SendQueue:
    """Collects sends and commits them in batches, one batch at a time per node."""

    def __init__(
        self, db: Database, streams: StreamStore, clock: Clock, one_by_one: OneByOne
    ) -> None:
        self.db = db
        self.streams = streams
        self.clock = clock
        self.one_by_one = one_by_one
        self._queue: list[PendingSend] = []
        self._drainer: asyncio.Task[None] | None = None
        self._rate = SendRate()
        self.batches = 0  # how many batches were committed or tried (for tests and metrics)

    async def send(
        self, identity: Identity, conversation_id: str, txn_id: str, envelope: dict[str, Any]
    ) -> SentOut:
        """Queue one checked send and wait for the commit that carries it."""
        future: asyncio.Future[SentOut] = asyncio.get_running_loop().create_future()
        self._queue.append(PendingSend(identity, conversation_id, txn_id, envelope, future))
        self._rate.count()
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        # A caller that gives up (a dropped request) does not cancel the commit: the send may
        # still land, and a retry with the same txn id gets it as a replay.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Wait until every queued send has its answer."""
        if self._drainer is not None:
            await asyncio.shield(self._drainer)

    async def _drain(self) -> None:
        while self._queue:
            if len(self._queue) < MAX_BATCH and self._rate.per_second() * GATHER_SECONDS >= 1:
                await asyncio.sleep(GATHER_SECONDS)
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                await self._commit(batch)
            except Exception as exc:  # never leave a sender waiting forever
                log.exception("send batch failed")
                for pending in batch:
                    _settle(pending, exc)

    async def _commit(self, batch: list[PendingSend]) -> None:
        self.batches += 1
        try:
            outcomes = await self._commit_batch(batch)
        except SQLAlchemyError as exc:
            log.info("send batch of %d retried one by one: %s", len(batch), type(exc).__name__)
            for pending in batch:
                try:
                    _settle(pending, await self.one_by_one(pending))
                except Exception as error:
                    _settle(pending, error)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            _settle(pending, outcome)

    async def _commit_batch(self, batch: list[PendingSend]) -> list[Outcome]:
        write = BatchWrite(batch, self.clock.now())
        await self.db.write_sync(write)
        for copies, wire, created_at in write.notices:  # committed: tell the readers
            await self.streams.publish(copies, CONVERSATION_EVENT, wire, created_at)
        return write.answers()


class SendRate:
    """An exponentially decaying count of sends per second."""

    def __init__(self) -> None:
        self._value = 0.0
        self._at = time.monotonic()

    def _decay(self) -> None:
        now = time.monotonic()
        self._value *= 0.5 ** ((now - self._at) / RATE_HALF_LIFE_SECONDS)
        self._at = now

    def count(self) -> None:
        self._decay()
        self._value += 1

    def per_second(self) -> float:
        self._decay()
        return self._value * math.log(2) / RATE_HALF_LIFE_SECONDS


class BatchWrite:
    """The batch's one transaction, as a synchronous function of a connection
    (``Database.write_sync``); afterwards ``answers()`` and ``notices`` say what it did."""

    def __init__(self, batch: list[PendingSend], now: dt.datetime) -> None:
        self.batch = batch
        self.now = now
        self.outcomes: list[Outcome | None] = [None] * len(batch)
        self.first: dict[TxnKey, int] = {}  # each txn's first send in the batch
        # (user, position, event id) copies of one event, its wire form, its time
        self.notices: list[tuple[list[tuple[str, int, str]], dict[str, Any], dt.datetime]] = []

    def __call__(self, conn: Connection) -> None:
        store = store_for(conn)
        done = {
            (c, d, t): SentOut(seq=seq, event_id=event_id, replayed=True)
            for c, d, t, seq, event_id in store.replays(sorted({p.key for p in self.batch}))
        }
        fresh: dict[str, list[int]] = defaultdict(list)  # conversation -> batch indexes
        for i, pending in enumerate(self.batch):
            if pending.key in done:
                self.outcomes[i] = done[pending.key]
            elif pending.key not in self.first:  # else: the same txn twice, settled below
                self.first[pending.key] = i
                fresh[pending.conversation_id].append(i)
        if fresh:
            self._write(store, fresh)

    def answers(self) -> list[Outcome]:
        """Each send's outcome; a repeat of a txn within the batch is its first's replay."""
        answers: list[Outcome] = []
        for i, pending in enumerate(self.batch):
            outcome = self.outcomes[i]
            if outcome is None:
                earlier = self.outcomes[self.first[pending.key]]
                assert earlier is not None
                outcome = (
                    earlier.model_copy(update={"replayed": True})
                    if isinstance(earlier, SentOut)
                    else earlier
                )
            answers.append(outcome)
        return answers

    def _write(self, store: BatchStore, fresh: dict[str, list[int]]) -> None:
        conversation_ids = sorted(fresh)
        last_seq = store.lock_conversations(conversation_ids)
        joined = _joined_members(store.members(conversation_ids))
        events: list[dict[str, Any]] = []  # timeline rows, in write order
        writers: list[int] = []  # the batch index behind each of them
        audiences: list[list[str]] = []
        for conversation_id in conversation_ids:
            members = joined.get(conversation_id, _Members())
            for i in fresh[conversation_id]:
                state = members.states.get(self.batch[i].identity.user_id)
                if conversation_id not in last_seq or state is None:
                    self.outcomes[i] = ConversationNotFound()
                    continue
                if state != "joined":
                    self.outcomes[i] = NotAMember()
                    continue
                last_seq[conversation_id] += 1
                event = _timeline_row(self.batch[i], last_seq[conversation_id], self.now)
                events.append(event)
                writers.append(i)
                audiences.append(members.joined)
                self.outcomes[i] = SentOut(
                    seq=event["seq"], event_id=event["event_id"], replayed=False
                )
        if not events:
            return
        store.set_last_seq({e["conversation_id"]: last_seq[e["conversation_id"]] for e in events})
        store.insert_timeline(events)
        store.insert_txns([
            {"conversation_id": e["conversation_id"], "sender_device_id": e["sender_device_id"],
             "txn_id": self.batch[i].txn_id, "seq": e["seq"], "created_at": self.now}
            for e, i in zip(events, writers, strict=True)
        ])  # fmt: skip
        self._fan_out(store, events, audiences)

    def _fan_out(
        self, store: BatchStore, events: list[dict[str, Any]], audiences: list[list[str]]
    ) -> None:
        """Append each event to its audience's streams: heads locked once, in user-id order."""
        position = store.lock_heads(sorted({user for audience in audiences for user in audience}))
        rows: list[StreamRow] = []
        for event, audience in zip(events, audiences, strict=True):
            wire = columns_to_wire(event)
            copies = []
            for user_id in audience:
                if user_id not in position:
                    continue  # no stream (an erased account): nothing to deliver
                position[user_id] += 1
                copies.append((user_id, position[user_id], event["event_id"]))
                rows.append((user_id, position[user_id], event["event_id"], CONVERSATION_EVENT,
                             wire, event["created_at"]))  # fmt: skip
            self.notices.append((copies, wire, event["created_at"]))
        if not rows:
            return
        store.set_heads(position)
        store.insert_stream(rows)


class _Members:
    """A conversation's members: each one's state, and the joined ones (the audience)."""

    def __init__(self) -> None:
        self.joined: list[str] = []
        self.states: dict[str, str] = {}


def _timeline_row(pending: PendingSend, seq: int, now: dt.datetime) -> dict[str, Any]:
    return {
        "conversation_id": pending.conversation_id, "seq": seq, "event_id": pending.event_id,
        "type": MESSAGE_TYPE, "sender_user_id": pending.identity.user_id,
        "sender_device_id": pending.identity.device_id, "content": pending.envelope,
        "recalled": False, "created_at": now,
    }  # fmt: skip


def _settle(pending: PendingSend, outcome: SentOut | BaseException) -> None:
    if pending.future.done():
        return
    if isinstance(outcome, BaseException):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)


def _joined_members(rows: list[tuple[str, str, str]]) -> dict[str, _Members]:
    found: dict[str, _Members] = defaultdict(_Members)
    for conversation_id, user_id, state in rows:
        members = found[conversation_id]
        members.states[user_id] = state
        if state == "joined":
            members.joined.append(user_id)
    return dict(found)
