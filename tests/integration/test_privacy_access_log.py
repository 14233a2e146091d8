"""The access log and the export leave out a lawful request's records while its
non-disclosure order is in force, and show them once it ends; the log pages newest first
(docs/data-map.md, "What the export leaves out"). SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.clock import FrozenClock
from courtyard.core.ids import new_id
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.legal.models import LegalCase
from courtyard.domains.privacy import place_hold
from tests.conftest import bearer, register
from tests.integration.consent_support import publish_version


async def add_case(app: FastAPI, *, gag: bool, gag_until: dt.datetime | None) -> str:
    """A lawful request with the given non-disclosure order (the desk's flow has its own
    tests; only the order matters here)."""
    runtime = app.state.runtime
    case_id = new_id()
    async with runtime.db.transaction() as tx:
        tx.session.add(
            LegalCase(
                case_id=case_id, reference=f"LR-{case_id[-8:]}", authority="A court",
                country="DE", process_type="court_order", authority_reference=None,
                received_at=runtime.clock.now(), date_from=None, date_to=None,
                categories=["subscriber"], gag=gag, gag_until=gag_until, status="received",
                created_by="op",
            )
        )  # fmt: skip
    return case_id


async def touch(app: FastAPI, user_id: str, action: str, case_id: str | None = None) -> int:
    runtime = app.state.runtime
    async with runtime.db.transaction() as tx:
        return await append_audit_entry(
            tx, runtime.clock, actor="operator:op-1", action=action, target=f"user:{user_id}",
            subject_user_id=user_id, detail={"case_id": case_id} if case_id else None,
        )  # fmt: skip


async def hold(app: FastAPI, user_id: str, case_id: str) -> str:
    runtime = app.state.runtime
    async with runtime.db.transaction() as tx:
        return await place_hold(
            tx, runtime.clock, user_id=user_id, reason="preserve", placed_by="operator:op-1",
            case_id=case_id,
        )  # fmt: skip


async def log_actions(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get("/v1/privacy/access-log", headers=headers)
    assert response.status_code == 200, response.text
    return [entry["action"] for entry in response.json()["entries"]]


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    session = await register(client, "alice")
    return session["user_id"], bearer(session)


async def test_a_gagged_case_stays_out_until_its_order_ends(
    client: httpx.AsyncClient, app: FastAPI, clock: FrozenClock, alice: tuple[str, dict[str, str]]
) -> None:
    user_id, headers = alice
    now = clock.now()
    forever = await add_case(app, gag=True, gag_until=None)
    until_tomorrow = await add_case(app, gag=True, gag_until=now + dt.timedelta(days=1))
    ended = await add_case(app, gag=True, gag_until=now - dt.timedelta(days=1))
    open_case = await add_case(app, gag=False, gag_until=None)
    await touch(app, user_id, "legal.sealed", forever)
    await touch(app, user_id, "legal.sealed_for_a_day", until_tomorrow)
    await touch(app, user_id, "legal.order_ended", ended)
    await touch(app, user_id, "legal.no_order", open_case)
    await touch(app, user_id, "wallet.user.view")
    sealed_hold = await hold(app, user_id, forever)
    open_hold = await hold(app, user_id, open_case)

    actions = await log_actions(client, headers)
    assert "legal.sealed" not in actions
    assert "legal.sealed_for_a_day" not in actions
    assert {"legal.order_ended", "legal.no_order", "wallet.user.view"} <= set(actions)
    assert "privacy.hold.place" in actions  # the open case's hold; the sealed one's is out
    assert actions.count("privacy.hold.place") == 1

    export: dict[str, Any] = (await client.get("/v1/privacy/export", headers=headers)).json()
    holds = [h["hold_id"] for h in export["data"]["privacy"]["legal_holds"]]
    assert holds == [open_hold]
    assert sealed_hold not in str(export)
    exported_actions = {e["action"] for e in export["data"]["audit"]["audit_log"]}
    assert not exported_actions & {"legal.sealed", "legal.sealed_for_a_day"}
    assert "legal_case_targets" not in str(export["data"])

    clock.advance(days=2)
    actions = await log_actions(client, headers)
    assert "legal.sealed_for_a_day" in actions
    assert "legal.sealed" not in actions


async def test_the_log_pages_newest_first_and_full_around_sealed_entries(
    client: httpx.AsyncClient, app: FastAPI, alice: tuple[str, dict[str, str]]
) -> None:
    user_id, headers = alice
    sealed = await add_case(app, gag=True, gag_until=None)
    shown = []
    for n in range(7):
        shown.append(await touch(app, user_id, f"view.{n}"))
        await touch(app, user_id, "legal.sealed", sealed)
    await touch(app, "someone-else", "view.other")
    pages: list[list[int]] = []
    before: int | None = None
    while True:
        params = {"limit": 3} | ({"before": before} if before is not None else {})
        body = (await client.get("/v1/privacy/access-log", params=params, headers=headers)).json()
        pages.append([e["seq"] for e in body["entries"]])
        before = body["next_before"]
        if before is None:
            break
    assert [seq for page in pages for seq in page] == sorted(shown, reverse=True)
    assert [len(page) for page in pages[:2]] == [3, 3]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "before=-1", "before=x"])
async def test_bad_paging_is_refused(
    client: httpx.AsyncClient, alice: tuple[str, dict[str, str]], query: str
) -> None:
    response = await client.get(f"/v1/privacy/access-log?{query}", headers=alice[1])
    assert response.status_code == 422


async def test_the_data_map_is_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/privacy/datamap")
    assert response.status_code == 200
    body = response.json()
    assert body["tables"]["users"]["columns"]["password_hash"]["category"] == "credential"
    one = (await client.get("/v1/privacy/datamap?table=media")).json()
    assert set(one["tables"]) == {"media"}
    assert one["version"] == body["version"]
    missing = await client.get("/v1/privacy/datamap?table=nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "table_not_declared")
    bad = await client.get("/v1/privacy/datamap?table=x%00y")
    assert bad.status_code == 422


async def test_export_and_log_stay_open_until_the_user_consents_again(
    client: httpx.AsyncClient, app: FastAPI, alice: tuple[str, dict[str, str]]
) -> None:
    _, headers = alice
    await publish_version(app, "EU")
    blocked = await client.get("/v1/conversations", headers=headers)
    assert (blocked.status_code, blocked.json()["code"]) == (403, "consent_required")
    assert (await client.get("/v1/privacy/export", headers=headers)).status_code == 200
    assert (await client.get("/v1/privacy/access-log", headers=headers)).status_code == 200
