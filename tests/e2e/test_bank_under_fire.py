"""Bank under fire: random transfers from many concurrent clients while the server is
SIGKILLed and restarted again and again; afterwards the books are exact.

Clients retry every request that got no definite answer (a transport error, 5xx or 503) with
the same idempotency key and body. Then, reading the database directly: the money is all
there, nothing is negative, no key was applied twice, every acknowledged transfer exists as
acknowledged, and cached balances equal the postings (the full audit is clean).
Runs on SQLite, and on PostgreSQL with ``COURTYARD_TEST_PG``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.db.migrate import upgrade
from courtyard.domains.wallet import audit_ledger
from tests.conftest import (
    PASSWORD,
    PG_URL,
    drop_pg_database,
    policy_consent,
    recreate_pg_database,
)
from tests.e2e.server_process import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

USERS = 100
CLIENTS = 50
TRANSFERS = int(os.environ.get("COURTYARD_BANK_TRANSFERS", "10000"))
KILLS = int(os.environ.get("COURTYARD_BANK_KILLS", "20"))
# Seconds between a restart and the next SIGKILL: long enough for requests to complete
# between kills (a restart takes ~2 s), short enough that kills land mid-request.
KILL_AFTER = (0.5, 3.0)
FUNDING_MINOR = 1_000_00
PIN = "246810"
# Answers that say nothing about whether the request took effect, or (429: the PIN checks of
# this user are all busy) that it did nothing yet: retry with the same key.
UNSURE = {429, 500, 502, 503, 504}


@dataclass
class Ledger:
    """What the clients were told: acknowledged transfers and how they ended."""

    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> first body
    refused: dict[str, str] = field(default_factory=dict)  # key -> problem code
    keys: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # key -> parties, amount
    retries: int = 0


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'bank.db'}"
        return
    name = f"courtyard_bank_{os.getpid()}"
    url = asyncio.run(recreate_pg_database(name))
    yield url
    asyncio.run(drop_pg_database(name))


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[ServerProcess]:
    upgrade(database_url)
    node = ServerProcess(
        tmp_path / "node",
        database_url=database_url,
        env={
            "COURTYARD_WALLET_DAILY_DEBIT_LIMIT_MAJOR": "100000000",
            "COURTYARD_DUE_POLL_SECONDS": "0.2",
            "COURTYARD_LOG_LEVEL": "WARNING",
        },
    )
    await asyncio.to_thread(node.start)
    try:
        yield node
    finally:
        await asyncio.to_thread(node.stop)


async def call(
    http: httpx.AsyncClient, method: str, path: str, book: Ledger, **kwargs: Any
) -> httpx.Response:
    """Send until the answer is definite; the server may be dead or restarting meanwhile."""
    while True:
        try:
            response = await http.request(method, path, **kwargs)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code not in UNSURE:
            return response
        book.retries += 1
        await asyncio.sleep(0.05)


async def setup_users(http: httpx.AsyncClient, book: Ledger) -> list[tuple[str, dict[str, str]]]:
    users = []
    consent = await policy_consent(http, "DE")
    for i in range(USERS):
        reply = await call(
            http,
            "POST",
            "/v1/accounts",
            book,
            json={"username": f"u{i:03d}", "password": PASSWORD, "display_name": f"U{i}",
                  "region": "DE", **consent},
        )  # fmt: skip
        assert reply.status_code == 201, reply.text
        session = reply.json()
        headers = {"Authorization": f"Bearer {session['access_token']}"}
        pin = await call(
            http, "PUT", "/v1/wallet/pin", book,
            json={"pin": PIN, "password": PASSWORD}, headers=headers,
        )  # fmt: skip
        assert pin.status_code == 204, pin.text
        users.append((session["user_id"], headers))
    return users


async def fund(http: httpx.AsyncClient, book: Ledger, headers: dict[str, str]) -> None:
    """Top up through the provider and wait until it settles."""
    key = new_id()
    reply = await call(
        http, "POST", "/v1/wallet/topups", book,
        json={"amount": str(FUNDING_MINOR // 100), "currency": "CNY"},
        headers={**headers, "Idempotency-Key": key},
    )  # fmt: skip
    assert reply.status_code == 201, reply.text
    operation_id = reply.json()["operation_id"]
    for _ in range(600):
        state = await call(http, "GET", f"/v1/wallet/operations/{operation_id}", book,
                           headers=headers)  # fmt: skip
        if state.json()["state"] == "succeeded":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"top-up {operation_id} did not settle")


async def connect_pairs(
    http: httpx.AsyncClient,
    book: Ledger,
    users: list[tuple[str, dict[str, str]]],
    pairs: set[tuple[int, int]],
) -> None:
    for a, b in sorted(pairs):
        reply = await call(
            http, "POST", "/v1/conversations", book,
            json={"kind": "direct", "members": [users[b][0]]}, headers=users[a][1],
        )  # fmt: skip
        assert reply.status_code in (200, 201), reply.text


async def client_task(
    http: httpx.AsyncClient,
    book: Ledger,
    users: list[tuple[str, dict[str, str]]],
    plan: list[tuple[int, int, int]],
    rng: random.Random,
) -> None:
    for sender, recipient, amount in plan:
        key = new_id()
        body = {
            "to_user_id": users[recipient][0],
            "amount": f"{amount // 100}.{amount % 100:02d}",
            "currency": "CNY",
            "pin": PIN,
        }
        book.keys[key] = (users[sender][0], users[recipient][0], amount)
        reply = await call(
            http, "POST", "/v1/wallet/transfers", book, json=body,
            headers={**users[sender][1], "Idempotency-Key": key},
        )  # fmt: skip
        if reply.status_code == 201:
            book.created.setdefault(key, reply.json())
            verb = "return" if rng.random() < 0.1 else "accept"
            transfer_id = reply.json()["transfer_id"]
            done = await call(
                http, "POST", f"/v1/wallet/transfers/{transfer_id}/{verb}", book,
                headers=users[recipient][1],
            )  # fmt: skip
            assert done.status_code == 200, done.text
        else:
            assert reply.status_code in (403, 409), reply.text
            book.refused[key] = reply.json()["code"]


async def killer(node: ServerProcess, kills: list[int]) -> None:
    """SIGKILL the node ``KILLS`` times at random moments, restarting it each time."""
    rng = random.Random(11)
    while len(kills) < KILLS:
        await asyncio.sleep(rng.uniform(*KILL_AFTER))
        await asyncio.to_thread(node.kill)
        kills.append(1)
        await asyncio.to_thread(node.start)


async def test_money_survives_random_transfers_and_repeated_sigkills(
    server: ServerProcess, database_url: str
) -> None:
    book = Ledger()
    limits = httpx.Limits(max_connections=CLIENTS + 10)
    async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as http:
        users = await setup_users(http, book)
        await asyncio.gather(*(fund(http, book, headers) for _, headers in users))
        rng = random.Random(5)
        plans: list[list[tuple[int, int, int]]] = [[] for _ in range(CLIENTS)]
        pairs: set[tuple[int, int]] = set()
        for n in range(TRANSFERS):
            sender, recipient = rng.sample(range(USERS), 2)
            pairs.add((min(sender, recipient), max(sender, recipient)))
            # Some amounts are above what the sender has: refusals are part of the run.
            plans[n % CLIENTS].append((sender, recipient, rng.randint(1, FUNDING_MINOR // 4)))
        await connect_pairs(http, book, users, pairs)
        kills: list[int] = []
        started = time.monotonic()
        await asyncio.gather(
            killer(server, kills),
            *(client_task(http, book, users, plan, random.Random(i))
              for i, plan in enumerate(plans)),
        )  # fmt: skip
        print(
            f"bank under fire: {TRANSFERS} transfers, {len(kills)} kills, "
            f"{book.retries} retries, {time.monotonic() - started:.0f} s"
        )
        await asyncio.to_thread(server.wait_healthy)
    assert len(kills) >= KILLS
    log = server.log_path.read_text(errors="replace")
    assert "deadlock" not in log.lower()  # one lock order everywhere (PostgreSQL: 40P01)
    assert "Traceback" not in log  # every failure was an answer, not a crash of a request
    await check_books(database_url, book)


async def check_books(database_url: str, book: Ledger) -> None:
    db = Database(database_url)
    try:
        async with db.read() as session:
            users = (await session.execute(text(
                "SELECT COALESCE(SUM(balance_minor), 0), MIN(balance_minor) FROM ledger_accounts "
                "WHERE owner_kind = 'user'"
            ))).one()  # fmt: skip
            escrow = await session.scalar(text(
                "SELECT COALESCE(SUM(p.amount_minor), 0) FROM ledger_postings p "
                "JOIN ledger_accounts a ON a.account_id = p.account_id "
                "WHERE a.purpose = 'transfer_escrow'"
            ))  # fmt: skip
            twice = (await session.execute(text(
                "SELECT sender_user_id, idempotency_key FROM transfers "
                "GROUP BY sender_user_id, idempotency_key HAVING COUNT(*) > 1"
            ))).all()  # fmt: skip
            rows = (await session.execute(text(
                "SELECT idempotency_key, transfer_id, sender_user_id, recipient_user_id, "
                "amount_minor FROM transfers"
            ))).all()  # fmt: skip
            sends = await session.scalar(
                text("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'transfer_send'")
            )
        assert users[0] + escrow == USERS * FUNDING_MINOR
        assert users[1] >= 0
        assert twice == []
        by_key = {row[0]: row for row in rows}
        assert sends == len(rows)
        for key, body in book.created.items():
            row = by_key[key]
            assert row[1] == body["transfer_id"]
            assert (row[2], row[3], row[4]) == book.keys[key]
        for key in book.refused:
            assert key not in by_key
        report = await audit_ledger(db)
        assert report.ok, report.findings[:10]
        assert len(book.created) + len(book.refused) == TRANSFERS
    finally:
        await db.dispose()
