"""Transfer creations committed in batches: each gets the answer it would get alone, money
moves exactly once, and a batch that fails is retried transfer by transfer (SQLite and
PostgreSQL, with the backend's fastest stores and with the SQLAlchemy Core ones)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, func, select

from courtyard.core.config import Settings, load_settings
from courtyard.core.ids import new_id
from courtyard.domains.messaging.batch_store import CoreBatchStore
from courtyard.domains.wallet import TransferRequest, audit_ledger
from courtyard.domains.wallet import transfer_batch as batch_module
from courtyard.domains.wallet.freezing import Freezing
from courtyard.domains.wallet.idempotency import Answer
from courtyard.domains.wallet.ledger_batch_store import CoreLedgerStore, LedgerBatchStore
from courtyard.domains.wallet.models import LedgerEntry
from courtyard.domains.wallet.transfer_batch import ledger_store_for
from courtyard.streams.events import StreamEvent
from tests.conftest import PASSWORD
from tests.integration.transfer_batch_support import Ask, code, identity_of, one_batch
from tests.integration.wallet_support import (
    PIN,
    Member,
    balance,
    direct,
    fund,
    member,
    transfer,
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A daily limit of 100.00, so a batch can cross it."""
    return load_settings(
        database_url=database_url, data_dir=tmp_path, log_format="text",
        wallet_oversight_jobs=False, wallet_daily_debit_limit_major=100,
    )  # fmt: skip


@pytest.fixture(params=["fastest", "core"], autouse=True)
def stores(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the backend's fastest stores (plain SQL on SQLite) and with the
    SQLAlchemy Core ones, against the same database."""
    if request.param == "core":
        monkeypatch.setattr(batch_module, "ledger_store_for", CoreLedgerStore)
        monkeypatch.setattr(batch_module, "store_for", CoreBatchStore)
    return str(request.param)


@pytest.fixture(autouse=True)
def batches_must_commit(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that falls back to one transfer at a time would give the same answers: make
    it fail the test instead (the test of the fallback allows it again)."""

    async def refuse(pending: Any) -> Answer:
        raise AssertionError(f"the batch of {pending.request.key} fell back to one by one")

    monkeypatch.setattr(app.state.runtime.wallet.transfers.queue, "one_by_one", refuse)


@pytest.fixture
async def four(client: httpx.AsyncClient, app: FastAPI) -> tuple[Member, ...]:
    """alice (500.00) and carol (50.00), each with a direct conversation to bob and dave."""
    alice, bob, carol, dave = [
        await member(client, name) for name in ("alice", "bob", "carol", "dave")
    ]
    for a, b in ((alice, bob), (carol, dave), (alice, carol), (bob, carol)):
        await direct(client, a, b)
    await fund(app, alice.user_id, 500_00)
    await fund(app, carol.user_id, 50_00)
    return alice, bob, carol, dave


async def audit_ok(app: FastAPI) -> None:
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


async def sends(app: FastAPI) -> int:
    async with app.state.runtime.db.read() as session:
        query = select(func.count()).where(LedgerEntry.kind == "transfer_send")
        return int(await session.scalar(query) or 0)


async def stream_types(app: FastAPI, user_id: str) -> list[tuple[int, str]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.execute(
            select(StreamEvent.position, StreamEvent.type)
            .where(StreamEvent.user_id == user_id)
            .order_by(StreamEvent.position)
        )
        return [(int(p), str(t)) for p, t in rows]


async def test_concurrent_transfers_share_commits_and_each_lands_once(
    app: FastAPI, client: httpx.AsyncClient, four: tuple[Member, ...]
) -> None:
    alice, bob, carol, _ = four
    queue = app.state.runtime.wallet.transfers.queue
    await fund(app, bob.user_id, 50_00)
    routes = [(alice, bob), (alice, carol), (bob, carol), (carol, alice)] * 10
    before = queue.batches
    answers = await asyncio.gather(*(transfer(client, a, b, "1.00") for a, b in routes))
    assert [a.status_code for a in answers] == [201] * len(routes)
    assert queue.batches - before < len(routes)  # some commits carried several transfers
    assert len({a.json()["transfer_id"] for a in answers}) == len(routes)
    assert await balance(client, alice) == 500_00 - 20_00
    assert await balance(client, bob) == 50_00 - 10_00
    assert await balance(client, carol) == 50_00 - 10_00
    assert await sends(app) == len(routes)
    for who in (alice, bob, carol):
        positions = [p for p, _ in await stream_types(app, who.user_id)]
        assert positions == list(range(1, len(positions) + 1))  # gap-free, each once
    await audit_ok(app)


async def test_a_batch_decides_each_transfer_in_arrival_order(
    app: FastAPI, client: httpx.AsyncClient, four: tuple[Member, ...]
) -> None:
    alice, bob, carol, dave = four
    results = await one_batch(app, [
        Ask(alice, bob, "30.00", "k1"),
        Ask(alice, bob, "80.00", "k2"),  # 30 + 80 over the day's 100.00
        Ask(alice, bob, "20.00", "k3"),
        Ask(alice, bob, "30.00", "k1"),  # the same key and body: a replay of the first
        Ask(alice, bob, "25.00", "k3"),  # the same key, another amount
        Ask(carol, dave, "40.00", "k1"),  # keys are per user
        Ask(carol, dave, "20.00", "k5"),  # 10.00 left
        Ask(carol, dave, "10.00", "k6"),
    ])  # fmt: skip
    assert [code(r) for r in results] == [
        "created", "daily_limit_exceeded", "created", "replayed", "idempotency_key_reused",
        "created", "insufficient_funds", "created",
    ]  # fmt: skip
    first, twin = results[0], results[3]
    assert isinstance(first, Answer)
    assert isinstance(twin, Answer)
    assert twin.body == first.body
    limit = results[1]
    assert getattr(limit, "extra", {})["used"]["amount"] == "30.00"
    assert getattr(results[6], "extra", {})["balance"]["amount"] == "10.00"
    assert await balance(client, alice) == 450_00
    assert await balance(client, carol) == 0
    assert await sends(app) == 4
    # Stored refusals answer again as refusals; the twin's key holds the first transfer.
    again = await transfer(client, alice, bob, "80.00", key="k2")
    assert (again.status_code, again.json()["code"]) == (403, "daily_limit_exceeded")
    assert again.json()["replayed"] is True
    short = await transfer(client, carol, dave, "20.00", key="k5")
    assert (short.status_code, short.json()["code"]) == (409, "insufficient_funds")
    replay = await transfer(client, alice, bob, "30.00", key="k1")
    assert replay.json() == {**first.body, "replayed": True}
    # Each stream reads as if one transfer at a time: card then balance, per transfer.
    kinds = [t for _, t in await stream_types(app, alice.user_id)][-4:]
    assert kinds == ["conversation.event", "wallet.balance"] * 2
    await audit_ok(app)


async def test_a_frozen_account_is_refused_and_the_rest_of_its_batch_goes_through(
    app: FastAPI, client: httpx.AsyncClient, four: tuple[Member, ...]
) -> None:
    alice, bob, carol, dave = four
    runtime = app.state.runtime
    operator = await runtime.operators.do_create_operator("olga", PASSWORD, ["finance"])
    account = await runtime.wallet.accounts.find_user(alice.user_id, "CNY")
    await Freezing(runtime.db, runtime.clock).do_freeze(
        operator.operator_id, account.account_id, "test"
    )
    results = await one_batch(
        app, [Ask(alice, bob, "10.00", "f1"), Ask(carol, dave, "10.00", "f2")]
    )
    assert [code(r) for r in results] == ["account_frozen", "created"]
    again = await transfer(client, alice, bob, "10.00", key="f1")
    assert (again.status_code, again.json()["code"]) == (409, "account_frozen")
    assert await balance(client, alice) == 500_00
    await audit_ok(app)


async def test_a_transfer_id_is_used_once_within_a_batch_and_across_batches(
    app: FastAPI, four: tuple[Member, ...]
) -> None:
    alice, bob, carol, dave = four
    taken = new_id()
    first = await one_batch(app, [
        Ask(alice, bob, "1.00", "t1", taken), Ask(carol, dave, "1.00", "t2", taken),
    ])  # fmt: skip
    assert [code(r) for r in first] == ["created", "transfer_exists"]
    later = await one_batch(app, [Ask(alice, bob, "1.00", "t3", taken)])
    assert [code(r) for r in later] == ["transfer_exists"]
    assert await sends(app) == 1
    await audit_ok(app)


class _Blind:
    """A ledger store that does not see which transfer ids are taken, so the batch's
    insert collides with one (as with an id committed meanwhile on another node)."""

    def __init__(self, store: LedgerBatchStore) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def lock(self, transfer_ids: Any, account_ids: Any) -> tuple[set[str], Any]:
        _, locked = self.store.lock(transfer_ids, account_ids)
        return set(), locked


async def test_a_batch_whose_statement_fails_is_retried_alone_with_the_same_answers(
    app: FastAPI,
    client: httpx.AsyncClient,
    four: tuple[Member, ...],
    monkeypatch: pytest.MonkeyPatch,
    stores: str,
) -> None:
    alice, bob, carol, dave = four
    queue = app.state.runtime.wallet.transfers.queue
    taken = (await transfer(client, alice, bob, "1.00")).json()["transfer_id"]
    real = CoreLedgerStore if stores == "core" else ledger_store_for

    def blind(conn: Connection) -> Any:
        return _Blind(real(conn))

    monkeypatch.setattr(batch_module, "ledger_store_for", blind)
    alone: list[str] = []
    one_by_one = app.state.runtime.wallet.transfers._create_alone

    async def counted(pending: Any) -> Answer:
        alone.append(pending.request.key)
        answer: Answer = await one_by_one(pending)
        return answer

    monkeypatch.setattr(queue, "one_by_one", counted)
    results = await one_batch(app, [
        Ask(alice, bob, "2.00", "c1", taken),  # collides: the whole batch rolls back
        Ask(alice, bob, "3.00", "c2"),
        Ask(carol, dave, "60.00", "c3"),
        Ask(alice, bob, "3.00", "c2"),
    ])  # fmt: skip
    assert alone == ["c1", "c2", "c3", "c2"]
    assert [code(r) for r in results] == [
        "transfer_exists", "created", "insufficient_funds", "replayed",
    ]  # fmt: skip
    assert await balance(client, alice) == 500_00 - 1_00 - 3_00
    assert await sends(app) == 2
    await audit_ok(app)


async def test_a_transfer_outlives_its_caller_and_shutdown_waits_for_it(
    app: FastAPI, client: httpx.AsyncClient, four: tuple[Member, ...]
) -> None:
    alice, bob, _, _ = four
    runtime = app.state.runtime
    queue = runtime.wallet.transfers.queue
    identity = await identity_of(app, alice)
    ask = TransferRequest(bob.user_id, runtime.wallet.policy.parse("5.00", "CNY"), PIN)
    task = asyncio.create_task(runtime.wallet.transfers.do_create(identity, "gave-up", ask))
    # Until it has passed its checks and waits for a commit (the queue exposes only state).
    while not (queue._queue or (queue._drainer and not queue._drainer.done())):  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    task.cancel()
    await queue.close()  # what shutdown does
    assert task.cancelled()
    assert await balance(client, alice) == 495_00  # it landed all the same
    again = await runtime.wallet.transfers.do_create(identity, "gave-up", ask)
    assert again.replayed is True
    assert await sends(app) == 1
