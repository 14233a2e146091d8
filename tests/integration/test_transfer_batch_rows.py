"""A batch writes exactly what one transfer at a time writes: the same inputs, once through
a batch and once through the unbatched path, leave the same rows field by field (ids
aside) — keys and their answers, transfers, entries, postings, the account, due jobs, user
flows, cards and stream rows — and the same answers (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from courtyard.core.config import Settings, load_settings
from courtyard.core.ids import new_id
from courtyard.db import Base
from courtyard.domains.jobs import bucket_of
from courtyard.domains.jobs.models import DueJob
from courtyard.domains.messaging.models import Conversation, TimelineEvent
from courtyard.domains.wallet.flow_models import Transfer, WalletIdempotency, WalletUserFlow
from courtyard.domains.wallet.freezing import Freezing
from courtyard.domains.wallet.idempotency import Answer
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting
from courtyard.streams.events import StreamEvent, StreamHead
from tests.conftest import PASSWORD
from tests.integration.transfer_batch_support import Ask, Outcome, one_batch
from tests.integration.wallet_support import Member, direct, fund, member

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        database_url=database_url, data_dir=tmp_path, log_format="text",
        wallet_oversight_jobs=False, wallet_daily_debit_limit_major=100,
    )  # fmt: skip


class Names:
    """Replaces every UUID in a value by its order of first appearance, so two runs that
    made different ids for the same things compare equal."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        if isinstance(value, str):
            return UUID.sub(lambda m: self.names.setdefault(m[0], f"id{len(self.names)}"), value)
        return value


def columns(row: Base) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def answer(result: Outcome) -> dict[str, Any]:
    if isinstance(result, Answer):
        return {"body": result.body, "replayed": result.replayed}
    return {"code": getattr(result, "code", None), "extra": getattr(result, "extra", None)}


async def marks(app: FastAPI, sender: Member, recipient: Member, conversation: str) -> list[int]:
    """Stream heads of both parties and the conversation's last seq."""
    async with app.state.runtime.db.read() as session:
        heads = [await session.get(StreamHead, u.user_id) for u in (sender, recipient)]
        talk = await session.get(Conversation, conversation)
    assert talk is not None
    return [int(h.position) for h in heads if h is not None] + [int(talk.last_seq)]


async def scenario(app: FastAPI, sender: Member, recipient: Member) -> list[Outcome]:
    """Every outcome a creation can have, in two batches (the second after a freeze)."""
    tid = new_id()
    results = await one_batch(app, [
        Ask(sender, recipient, "30.00", "k1", tid),
        Ask(sender, recipient, "80.00", "k2"),  # over the day's 100.00
        Ask(sender, recipient, "20.00", "k3"),
        Ask(sender, recipient, "30.00", "k1", tid),  # a replay
        Ask(sender, recipient, "25.00", "k3"),  # the key with another body
        Ask(sender, recipient, "600.00", "k4"),  # more than the balance
        Ask(sender, recipient, "1.00", "k5", tid),  # the id is taken
    ])  # fmt: skip
    runtime = app.state.runtime
    operator = await runtime.operators.do_create_operator(
        f"op{sender.user_id[-6:]}", PASSWORD, ["finance"]
    )
    account = await runtime.wallet.accounts.find_user(sender.user_id, "CNY")
    await Freezing(runtime.db, runtime.clock).do_freeze(
        operator.operator_id, account.account_id, "test"
    )
    return results + await one_batch(app, [Ask(sender, recipient, "10.00", "k6")])


async def dump(
    app: FastAPI, sender: Member, recipient: Member, conversation: str, before: list[int]
) -> dict[str, Any]:
    """What the scenario wrote, in an order that does not depend on ids."""
    async with app.state.runtime.db.read() as session:
        keys = await session.scalars(
            select(WalletIdempotency)
            .where(WalletIdempotency.user_id == sender.user_id)
            .order_by(WalletIdempotency.idempotency_key)
        )
        transfers = list(
            await session.scalars(
                select(Transfer)
                .where(Transfer.sender_user_id == sender.user_id)
                .order_by(Transfer.idempotency_key)
            )
        )
        ids = [t.transfer_id for t in transfers]
        entries = [
            await session.scalar(select(LedgerEntry).where(LedgerEntry.flow_id == tid))
            for tid in ids
        ]
        postings = [
            list(
                await session.scalars(
                    select(LedgerPosting)
                    .where(LedgerPosting.entry_id == e.entry_id)
                    .order_by(LedgerPosting.leg)
                )
            )
            for e in entries
            if e is not None
        ]
        jobs = [await session.scalar(select(DueJob).where(DueJob.ref_id == tid)) for tid in ids]
        flows = [
            list(
                await session.scalars(
                    select(WalletUserFlow)
                    .where(WalletUserFlow.flow_id == tid)
                    .order_by(WalletUserFlow.role)
                )
            )
            for tid in ids
        ]
        account = await session.scalar(
            select(LedgerAccount).where(
                LedgerAccount.owner_id == sender.user_id, LedgerAccount.currency == "CNY"
            )
        )
        cards = await session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.conversation_id == conversation, TimelineEvent.seq > before[2])
            .order_by(TimelineEvent.seq)
        )
        streams = [
            list(
                await session.scalars(
                    select(StreamEvent)
                    .where(StreamEvent.user_id == who.user_id, StreamEvent.position > since)
                    .order_by(StreamEvent.position)
                )
            )
            for who, since in ((sender, before[0]), (recipient, before[1]))
        ]
    for job in jobs:
        assert job is not None
        assert job.bucket == bucket_of(job.job_id)
    assert account is not None
    return {
        # The hash covers the recipient's and the transfer's ids (made before either path).
        "keys": [{**columns(k), "request_hash": None} for k in keys],
        "transfers": [columns(t) for t in transfers],
        "entries": [columns(e) for e in entries if e is not None],
        "postings": [[columns(p) for p in legs] for legs in postings],
        "jobs": [{**columns(j), "bucket": None} for j in jobs if j is not None],
        "flows": [[columns(f) for f in pair] for pair in flows],
        "account": columns(account),
        "cards": [{**columns(c), "seq": c.seq - before[2]} for c in cards],
        "streams": [
            [{**columns(e), "position": e.position - since} for e in rows]
            for rows, since in zip(streams, before, strict=False)
        ],
        "moved": [after - first for after, first in zip(
            await marks(app, sender, recipient, conversation), before, strict=True
        )],
    }  # fmt: skip


async def test_a_batch_writes_field_by_field_what_transfers_one_at_a_time_write(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob, carol, dave = [await member(client, n) for n in ("alice", "bob", "carol", "dave")]
    talks = [await direct(client, alice, bob), await direct(client, carol, dave)]
    for sender in (alice, carol):
        await fund(app, sender.user_id, 500_00)
    queue = app.state.runtime.wallet.transfers.queue
    sides = []
    for (sender, recipient), talk, batched in zip(
        ((alice, bob), (carol, dave)), talks, (True, False), strict=True
    ):
        if batched:  # a batch must commit as a batch, never fall back

            async def refuse(pending: Any) -> Answer:
                raise AssertionError("the batch fell back to one by one")

            monkeypatch.setattr(queue, "one_by_one", refuse)
        else:  # every batch fails: each creation goes through the unbatched path

            async def fails(batch: list[Any]) -> list[Any]:
                raise OperationalError("INSERT", {}, Exception("forced"))

            monkeypatch.undo()
            monkeypatch.setattr(queue, "_commit_batch", fails)
        before = await marks(app, sender, recipient, talk)
        results = await scenario(app, sender, recipient)
        written = await dump(app, sender, recipient, talk, before)
        sides.append(Names()({"answers": [answer(r) for r in results], **written}))
    batched, alone = sides
    assert [a.get("code") or a["replayed"] for a in batched["answers"]] == [
        False, "daily_limit_exceeded", False, True, "idempotency_key_reused",
        "insufficient_funds", "transfer_exists", "account_frozen",
    ]  # fmt: skip
    assert len(batched["keys"]) == 6
    assert len(batched["transfers"]) == 2
    assert batched["moved"] == [4, 2, 2]  # two cards each way, two balance events
    for part in alone:
        assert batched[part] == alone[part], part
