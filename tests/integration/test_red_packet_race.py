"""1,000 concurrent grabs of a 100-share red packet racing its expiry, run by two job
runners at once: grabs + refund = total, at most one grab per person, exactly one refund.
On SQLite and on PostgreSQL (where grabbers claim different shares with SKIP LOCKED)."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from courtyard.core.clock import FrozenClock
from courtyard.core.ids import new_id
from courtyard.db import Database
from courtyard.domains.jobs import DueJobs
from courtyard.domains.wallet import audit_ledger
from courtyard.domains.wallet.models import LedgerEntry, LedgerPosting
from courtyard.domains.wallet.red_packets import EXPIRE_JOB
from tests.conftest import bearer, register
from tests.integration.wallet_support import PIN, Member, fund, member

MEMBERS = 250
GRABS_EACH = 4  # 1,000 grabs
SHARES = 100
TOTAL_MINOR = 200_00
# The clock passes the expiry once this many grabs have succeeded (0: before any answer),
# whatever the machine's speed, so most rounds end with both grabs and a refund.
EXPIRE_AFTER_GRABS = (0, 30, 99)


async def crowd(http: httpx.AsyncClient) -> tuple[Member, list[Member], str]:
    owner = await member(http, "owner")
    people = []
    for i in range(MEMBERS - 1):
        session = await register(http, f"grabber{i:03d}")
        people.append(Member(session["user_id"], bearer(session)))
    created = await http.post(
        "/v1/conversations",
        json={"kind": "group", "members": [p.user_id for p in people]},
        headers=owner.headers,
    )
    conversation_id: str = created.json()["conversation_id"]
    for person in people:
        joined = await http.post(
            f"/v1/conversations/{conversation_id}/join", headers=person.headers
        )
        assert joined.status_code == 204
    return owner, people, conversation_id


@pytest.mark.usefixtures("fast_password_hashing")
@pytest.mark.timeout(600)
async def test_a_thousand_grabs_race_the_expiry(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, database_url: str
) -> None:
    owner, people, conversation_id = await crowd(client)
    everyone = [owner, *people]
    await fund(app, owner.user_id, len(EXPIRE_AFTER_GRABS) * TOTAL_MINOR)
    wallet = app.state.runtime.wallet
    # Two "nodes" run due jobs on connections of their own.
    second_db = Database(database_url)
    runners = [app.state.runtime.due, DueJobs(second_db, clock)]
    runners[1].register_local(EXPIRE_JOB, wallet.red_packets.run_expire)
    rng = random.Random(3)
    raced = 0
    try:
        for after in rng.sample(EXPIRE_AFTER_GRABS, len(EXPIRE_AFTER_GRABS)):
            created = await client.post(
                "/v1/wallet/red-packets",
                json={"conversation_id": conversation_id, "audience": "group", "split": "random",
                      "count": SHARES, "amount": "200.00", "currency": "CNY", "pin": PIN},
                headers={**owner.headers, "Idempotency-Key": new_id()},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            packet_id = created.json()["packet_id"]
            clock.advance(hours=24, seconds=-1)

            race = Race(client, packet_id, clock, runners, after)
            calls = [race.grab(p) for p in everyone for _ in range(GRABS_EACH)]
            rng.shuffle(calls)
            results = await asyncio.gather(*calls, race.expire())
            answers = [r for r in results if isinstance(r, httpx.Response)]
            raced += await check_round(client, app, owner, packet_id, answers)
            clock.advance(seconds=1)
    finally:
        await second_db.dispose()
    assert raced > 0, "no round ended with both grabs and a refund: the race did not happen"
    report = await audit_ledger(app.state.runtime.db)
    assert report.ok, report.findings


class Race:
    """One round: grabs, and the expiry once ``after`` of them have succeeded."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        packet_id: str,
        clock: FrozenClock,
        runners: list[DueJobs],
        after: int,
    ) -> None:
        self.http, self.packet_id, self.clock, self.runners = http, packet_id, clock, runners
        self.after, self.won = after, 0
        self.reached = asyncio.Event()
        if after == 0:
            self.reached.set()

    async def grab(self, person: Member) -> httpx.Response:
        url = f"/v1/wallet/red-packets/{self.packet_id}/grab"
        answer = await self.http.post(url, headers=person.headers)
        self.won += answer.status_code == 200
        if self.won >= self.after:
            self.reached.set()
        return answer

    async def expire(self) -> None:
        await self.reached.wait()
        self.clock.advance(seconds=1)
        await asyncio.gather(*(runner.run_due() for runner in self.runners))


async def check_round(
    http: httpx.AsyncClient, app: FastAPI, sender: Member, packet_id: str,
    answers: list[httpx.Response],
) -> int:  # fmt: skip
    """Check one packet's books; return 1 if grabs and a refund both happened."""
    codes = {a.json().get("code") for a in answers if a.status_code != 200}
    assert codes <= {"red_packet_empty", "red_packet_expired"}, codes
    won = {
        (a.json()["share_no"], a.json()["amount"]["amount_minor"])
        for a in answers
        if a.status_code == 200
    }
    async with app.state.runtime.db.read() as session:
        kinds = dict(
            (
                await session.execute(
                    select(LedgerEntry.kind, func.count())
                    .where(LedgerEntry.flow_id == packet_id)
                    .group_by(LedgerEntry.kind)
                )
            ).all()
        )
        moved = dict(
            (
                await session.execute(
                    select(LedgerEntry.kind, func.sum(LedgerPosting.amount_minor))
                    .join(LedgerPosting, LedgerPosting.entry_id == LedgerEntry.entry_id)
                    .where(LedgerEntry.flow_id == packet_id, LedgerPosting.amount_minor > 0)
                    .group_by(LedgerEntry.kind)
                )
            ).all()
        )
    packet = (await http.get(f"/v1/wallet/red-packets/{packet_id}", headers=sender.headers)).json()
    grabs = packet["grabs"]
    assert len(grabs) == len({g["user_id"] for g in grabs}) <= SHARES
    assert kinds.get("red_packet_grab", 0) == len(grabs) == len(won)
    assert kinds.get("red_packet_refund", 0) == (1 if len(grabs) < SHARES else 0)
    assert packet["state"] in ("expired", "finished")
    refunded = int(moved.get("red_packet_refund") or 0)
    assert int(moved.get("red_packet_grab") or 0) + refunded == TOTAL_MINOR
    assert sum(amount for _, amount in won) + refunded == TOTAL_MINOR
    return int(0 < len(grabs) < SHARES)
