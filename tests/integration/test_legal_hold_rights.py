"""Legal holds against erasure and the retention purge, on SQLite and PostgreSQL: a hold blocks
both, and releasing it lets both proceed — at once when released from the privacy hold
commands, at the next daily re-check when released elsewhere (the legal desk). The daily
jobs run once a day and schedule the next."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from courtyard.api import create_app
from courtyard.core.clock import FrozenClock
from courtyard.core.config import load_settings
from courtyard.domains.privacy import release_hold
from tests.conftest import PASSWORD, bearer, register

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
OPERATOR = "operator:01900000-0000-7000-8000-0000000000aa"


async def scalars(app: FastAPI, sql: str, **params: Any) -> list[Any]:
    async with app.state.runtime.db.read() as session:
        return list((await session.execute(text(sql), params)).scalars())


async def fail_login(client: httpx.AsyncClient, username: str) -> None:
    wrong = await client.post("/v1/sessions", json={"username": username, "password": "nope"})
    assert wrong.status_code == 401


async def failures(app: FastAPI) -> list[str]:
    return sorted(await scalars(app, "SELECT scope_key FROM login_failures"))


async def erasure_status(app: FastAPI, user_id: str) -> tuple[str, str | None]:
    async with app.state.runtime.db.read() as session:
        row = (
            await session.execute(
                text("SELECT status, held_reason FROM erasure_requests WHERE user_id = :u"),
                {"u": user_id},
            )
        ).one()
    return row[0], row[1]


async def alice_asks_to_be_erased_and_is_held(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> tuple[dict[str, str], str, int]:
    """Alice and Bob each failed a login; Alice asked to be erased and was then put on hold;
    30 days on, her erasure is held and the purge has run: Bob's failure went, hers stayed.
    Returns her, the hold and how many failures that purge deleted."""
    alice, _bob = await register(client, "alice"), await register(client, "bob")
    await fail_login(client, "alice")
    await fail_login(client, "bob")
    asked = await client.post(
        "/v1/privacy/erasure", json={"password": PASSWORD}, headers=bearer(alice)
    )
    assert asked.status_code == 202, asked.text
    rights = app.state.runtime.rights
    hold_id = await rights.holds.do_place("alice", "litigation: Acme v. Alice", actor=OPERATOR)

    clock.advance(days=30)
    await app.state.runtime.due.run_due()
    assert await erasure_status(app, alice["user_id"]) == ("held", "litigation: Acme v. Alice")
    report = await rights.retention.do_purge()
    assert report.held_users == 1
    assert await failures(app) == ["acct:alice"]
    return alice, hold_id, report.counts["login_failures"]


async def test_a_hold_blocks_erasure_and_the_purge_and_releasing_it_lets_both_proceed(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice, hold_id, purged_failures = await alice_asks_to_be_erased_and_is_held(app, client, clock)
    assert purged_failures == 3  # Bob's, and both counted against the address (no one's)
    runtime = app.state.runtime
    seen = (await client.get("/v1/privacy/erasure", headers=bearer(alice))).json()
    assert seen["status"] == "held"
    assert "Acme" not in str(seen)  # the reason is for operators only
    await runtime.due.run_due()  # nothing changes while held: no second audit entry
    actions = await scalars(
        app, "SELECT action FROM audit_log WHERE subject_user_id = :u ORDER BY seq",
        u=alice["user_id"],
    )  # fmt: skip
    assert actions == ["privacy.erasure.request", "privacy.hold.place", "privacy.erasure.held"]
    purged = await scalars(
        app, "SELECT detail FROM audit_log WHERE action = 'privacy.retention.purge'"
    )
    assert len(purged) == 1
    assert "held_users_skipped" in str(purged[0])

    assert await runtime.rights.holds.do_release(hold_id, "settled", actor=OPERATOR) is True
    report = await runtime.rights.retention.do_purge()
    assert report.counts["login_failures"] == 1
    assert await failures(app) == []
    await runtime.due.run_due()
    assert await erasure_status(app, alice["user_id"]) == ("done", None)
    assert (await client.get("/v1/account", headers=bearer(alice))).status_code == 401


async def test_two_holds_keep_the_erasure_held_until_the_last_is_released(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    alice, first, _ = await alice_asks_to_be_erased_and_is_held(app, client, clock)
    holds = app.state.runtime.rights.holds
    second = await holds.do_place("alice", "tax audit", actor=OPERATOR)
    assert await holds.do_release(first, "settled", actor=OPERATOR) is False
    await app.state.runtime.due.run_due()
    assert (await erasure_status(app, alice["user_id"]))[0] == "held"
    assert await holds.do_release(second, "audit closed", actor=OPERATOR) is True
    await app.state.runtime.due.run_due()
    assert (await erasure_status(app, alice["user_id"]))[0] == "done"


@pytest.fixture
async def daily_app(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[FastAPI]:
    """An app whose daily privacy jobs are on (the shared fixture turns them off)."""
    settings = load_settings(  # the node's own runner stays out of the way: the test runs jobs
        database_url=database_url, data_dir=tmp_path, wallet_oversight_jobs=False,
        due_poll_seconds=3600,
    )  # fmt: skip
    application = create_app(settings, clock=clock)
    await application.state.runtime.start()
    try:
        yield application
    finally:
        await application.state.runtime.stop()


async def test_a_hold_released_by_the_legal_desk_is_rechecked_the_next_day(
    daily_app: FastAPI, clock: FrozenClock
) -> None:
    app, runtime = daily_app, daily_app.state.runtime
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://courtyard.test"
    ) as client:
        alice, hold_id, _ = await alice_asks_to_be_erased_and_is_held(app, client, clock)
        async with runtime.db.transaction() as tx:  # as the legal desk releases a case hold
            await release_hold(tx, clock, hold_id, released_by=OPERATOR, reason="case closed")
        await runtime.due.run_due()
        assert (await erasure_status(app, alice["user_id"]))[0] == "held"

        clock.advance(days=1)
        await runtime.due.run_due()  # the day's re-check re-arms the erase job
        await runtime.due.run_due()
        assert (await erasure_status(app, alice["user_id"]))[0] == "done"
    jobs = await scalars(
        app, "SELECT job_id || ' ' || state FROM due_jobs WHERE kind LIKE 'privacy.%' "
        "AND kind <> 'privacy.erase' ORDER BY job_id",
    )  # fmt: skip
    # Each day's job ran once and scheduled the next day's (the node's own runner may have
    # run Jan 1's before the clock moved on, hence only the latest days are pinned).
    assert [j for j in jobs if j.endswith("pending")] == [
        "privacy.erasure_recheck:2026-02-02 pending",
        "privacy.purge:2026-02-02 pending",
    ]
    assert {"privacy.erasure_recheck:2026-02-01 done", "privacy.purge:2026-02-01 done"} <= set(jobs)
