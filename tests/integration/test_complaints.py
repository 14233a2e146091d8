"""Complaints on SQLite and PostgreSQL: filed through the API with the deadline of the user's
policy region, answered once by an operator in the console or with ``courtyard admin privacy
complaint answer``, each answer a notice to the user and an audit entry; the console and the
CLI list open complaints first, overdue ones at the top."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from courtyard.core.clock import FrozenClock
from tests.conftest import bearer, register
from tests.integration.admin_support import OperatorFactory, operator_factory
from tests.integration.operator_cli_support import add_operator, operator_env

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
COMPLAINTS = "/v1/privacy/complaints"


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


async def complain(
    client: httpx.AsyncClient, session: dict[str, str], subject: str, body: str = "Why?"
) -> httpx.Response:
    return await client.post(
        COMPLAINTS, json={"subject": subject, "body": body}, headers=bearer(session)
    )


async def audit(app: FastAPI, action: str) -> list[tuple[Any, ...]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.execute(
            text("SELECT actor, target, subject_user_id FROM audit_log WHERE action = :a"),
            {"a": action},
        )
        return [tuple(row) for row in rows]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_the_deadline_follows_the_policy_region_and_complaints_stay_private(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    li = await register(client, "lihua", region="CN")
    eva = await register(client, "eva", region="FR")
    sam = await register(client, "sam", region="US")
    now = clock.now()
    filed = {
        name: await complain(client, who, f"about my data, {name}")
        for name, who in (("lihua", li), ("eva", eva), ("sam", sam))
    }
    assert {name: r.status_code for name, r in filed.items()} == dict.fromkeys(filed, 201)
    assert filed["lihua"].json()["due_at"] == iso(now + dt.timedelta(days=15))
    assert filed["eva"].json()["due_at"] == iso(now + dt.timedelta(days=30))
    assert filed["sam"].json()["due_at"] == iso(now + dt.timedelta(days=30))
    mine = filed["lihua"].json()
    assert (mine["status"], mine["answer"], mine["answered_at"]) == ("open", None, None)

    listed = await client.get(COMPLAINTS, headers=bearer(li))
    assert [c["complaint_id"] for c in listed.json()] == [mine["complaint_id"]]
    one = await client.get(f"{COMPLAINTS}/{mine['complaint_id']}", headers=bearer(li))
    assert one.json() == mine
    for path in (mine["complaint_id"], "not-an-id"):
        other = await client.get(f"{COMPLAINTS}/{path}", headers=bearer(eva))
        assert (other.status_code, other.json()["code"]) == (404, "complaint_not_found")
    blank = await complain(client, li, "   ")
    assert (blank.status_code, blank.json()["code"]) == (400, "invalid_input")
    for n in range(9):
        assert (await complain(client, li, f"again {n}")).status_code == 201
    eleventh = await complain(client, li, "one too many")
    assert (eleventh.status_code, eleventh.json()["code"]) == (409, "too_many_open_complaints")


async def test_an_operator_answers_in_the_console_once_and_the_user_gets_a_notice(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock, operators: OperatorFactory
) -> None:
    li, eva = await register(client, "lihua", region="CN"), await register(client, "eva")
    late = (await complain(client, li, "late one")).json()
    clock.advance(days=10)
    early = (await complain(client, eva, "early one")).json()
    answered = (await complain(client, eva, "answered one")).json()
    await app.state.runtime.rights.complaints.do_answer(
        answered["complaint_id"], "Done.", actor="operator:x", operator_id="x"
    )
    clock.advance(days=6)  # li's 15 days are up; eva's 30 are not

    sue = await operators("sue", "support")
    page = await sue.http.get("/admin/privacy/complaints")
    assert page.status_code == 200, page.text
    order = re.findall(r'data-complaint-id="([^"]+)" data-overdue="(\w+)"', page.text)
    assert order == [
        (late["complaint_id"], "yes"),
        (early["complaint_id"], "no"),
        (answered["complaint_id"], "no"),
    ]
    overdue = await sue.http.get("/admin/privacy/complaints?overdue=1")
    assert re.findall(r'data-complaint-id="([^"]+)"', overdue.text) == [late["complaint_id"]]
    assert await audit(app, "privacy.complaint.view") == []  # the list shows no bodies

    path = f"/admin/privacy/complaints/{late['complaint_id']}"
    opened = await sue.http.get(path)
    assert 'id="complaint-body">Why?<' in opened.text
    assert "overdue" in opened.text
    viewer = f"operator:{(await operator_ids(app))['sue']}"
    assert await audit(app, "privacy.complaint.view") == [
        (viewer, f"complaint:{late['complaint_id']}", li["user_id"])
    ]
    empty = await sue.post(f"{path}/answer", answer="  ")
    assert empty.status_code == 400
    assert "Write an answer" in empty.text
    sent = await sue.post(f"{path}/answer", answer="We deleted the copy you asked about.")
    assert (sent.status_code, sent.headers["location"]) == (303, path)
    again = await sue.post(f"{path}/answer", answer="Twice?")
    assert again.status_code == 409
    assert 'id="answer">We deleted the copy you asked about.<' in (await sue.http.get(path)).text

    seen = (await client.get(f"{COMPLAINTS}/{late['complaint_id']}", headers=bearer(li))).json()
    assert (seen["status"], seen["answer"]) == ("answered", "We deleted the copy you asked about.")
    [notice] = (await client.get("/v1/privacy/notices", headers=bearer(li))).json()
    assert (notice["kind"], notice["title"]) == (
        "complaint_answered",
        "Your complaint was answered: late one",
    )
    assert notice["body"] == "We deleted the copy you asked about."
    assert await audit(app, "privacy.complaint.answer") == [
        ("operator:x", f"complaint:{answered['complaint_id']}", eva["user_id"]),
        (viewer, f"complaint:{late['complaint_id']}", li["user_id"]),
    ]
    olga = await operators("olga", "finance")
    assert (await olga.http.get(path)).status_code == 403


async def operator_ids(app: FastAPI) -> dict[str, str]:
    async with app.state.runtime.db.read() as session:
        rows = await session.execute(text("SELECT username, operator_id FROM operators"))
        return {row[0]: row[1] for row in rows}


async def admin(database_url: str, *args: str) -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(
            cli, ["admin", "privacy", *args, "--db", database_url], env=operator_env("cora")
        )

    return await asyncio.to_thread(invoke)


async def test_the_cli_lists_overdue_complaints_and_answers_one(
    app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock, database_url: str
) -> None:
    await add_operator(database_url, "cora", "support")
    li = await register(client, "lihua", region="CN")
    old = (await complain(client, li, "from January")).json()
    # The command's clock is the real one: a complaint filed "now" is not overdue for it.
    clock.advance(seconds=(dt.datetime.now(dt.UTC) - clock.now()).total_seconds())
    fresh = (await complain(client, li, "from today")).json()

    listed = await admin(database_url, "complaints")
    assert listed.exit_code == 0, listed.output
    assert listed.output.index(old["complaint_id"]) < listed.output.index(fresh["complaint_id"])
    overdue = await admin(database_url, "complaints", "--overdue")
    assert old["complaint_id"] in overdue.output
    assert "OVERDUE" in overdue.output
    assert fresh["complaint_id"] not in overdue.output

    answered = await admin(
        database_url, "complaint", "answer", old["complaint_id"], "--text", "Sorry."
    )
    assert answered.exit_code == 0, answered.output
    assert "the user has a notice" in answered.output
    twice = await admin(database_url, "complaint", "answer", old["complaint_id"], "--text", "Again")
    assert twice.exit_code == 1
    assert "complaint_answered" in twice.output
    seen = (await client.get(f"{COMPLAINTS}/{old['complaint_id']}", headers=bearer(li))).json()
    assert (seen["status"], seen["answer"]) == ("answered", "Sorry.")
