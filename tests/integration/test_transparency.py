"""The transparency report (docs/transparency.md) over the public JSON API: its counts equal
plain ``SELECT COUNT(*)`` queries per cell, its periods and their boundaries, the
provisional flag, the instant holds are counted at, and refusals of bad periods."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import bindparam, text

from courtyard.core.clock import FrozenClock
from courtyard.db import UTCDateTime
from courtyard.domains.accounts import find_accounts
from courtyard.domains.legal import Intake, LegalDesk, Review
from courtyard.domains.privacy import place_hold
from tests.conftest import PASSWORD, register

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
UTC = dt.UTC
NOW = dt.datetime(2026, 8, 15, 12, 0, tzinfo=UTC)
COUNTS = (
    "received", "rejected", "narrowed", "produced_content", "produced_non_content",
    "accounts_specified", "accounts_affected", "users_notified", "holds_active",
)  # fmt: skip
# Written out here rather than taken from the code under test.
BOUNDS = {
    "2026-H1": ("2026-01-01", "2026-07-01"),
    "2026-H2": ("2026-07-01", "2027-01-01"),
    "2026-Q1": ("2026-01-01", "2026-04-01"),
    "2026-Q2": ("2026-04-01", "2026-07-01"),
    "2026-Q3": ("2026-07-01", "2026-10-01"),
}


def at(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_).replace(tzinfo=UTC)


@dataclass
class Desk:
    """The desk's service with a reviewer and an approver, on a clock it moves forward."""

    app: FastAPI
    clock: FrozenClock
    reviewer: str
    approver: str

    @property
    def legal(self) -> LegalDesk:
        desk: LegalDesk = self.app.state.runtime.legal
        return desk

    def on(self, when: str) -> None:
        delta = at(when) - self.clock.now()
        assert delta >= dt.timedelta(0), when
        self.clock.advance(days=delta.days, seconds=delta.seconds, microseconds=delta.microseconds)

    async def intake(
        self, when: str, country: str, process: str, targets: tuple[str, ...],
        categories: tuple[str, ...] = ("subscriber",), **extra: Any,
    ) -> str:  # fmt: skip
        self.on(when)
        intake = Intake("Authority", country, process, targets, categories, **extra)
        case = await self.legal.do_intake(intake, [], operator_id=self.reviewer)
        return case.case_id

    async def review(self, case_id: str, outcome: str, **narrowing: Any) -> None:
        why = "" if outcome == "accept" else f"the reviewer chose to {outcome}"
        review = Review(outcome, why, **narrowing)  # type: ignore[arg-type]
        await self.legal.do_review(case_id, review, operator_id=self.reviewer)

    async def produce(self, case_id: str) -> None:
        await self.legal.do_approve(case_id, operator_id=self.approver)
        await self.legal.do_package(case_id, operator_id=self.approver)

    async def hold(self, case_id: str, when: str) -> None:
        self.on(when)
        await self.legal.do_place_holds(case_id, operator_id=self.reviewer)

    async def release(self, case_id: str, when: str) -> None:
        self.on(when)
        await self.legal.do_release_holds(case_id, operator_id=self.reviewer, reason="done")


async def make_desk(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> None:
    """Cases in every outcome over 2026-H1 and the start of H2, made through the desk's
    service; the clock ends at NOW."""
    for username, region in (("de1", "DE"), ("de2", "DE"), ("de3", "DE"), ("fr1", "FR"),
                             ("us1", "US"), ("cn1", "CN")):  # fmt: skip
        await register(client, username, region=region)
    operators = app.state.runtime.operators
    reviewer = await operators.do_create_operator("rev", PASSWORD, ["legal_reviewer"])
    approver = await operators.do_create_operator("app", PASSWORD, ["legal_approver"])
    desk = Desk(app, clock, reviewer.operator_id, approver.operator_id)

    # DE subpoena, accepted and produced (non-content): both targets told at once.
    a = await desk.intake("2026-02-10", "DE", "subpoena", ("de1", "de2"))
    await desk.review(a, "accept")
    await desk.produce(a)
    async with app.state.runtime.db.transaction() as tx:  # a hold without a case: never counted
        await place_hold(tx, clock, user_id=(await find_user(app, "de3")), reason="litigation",
                         placed_by="operator:" + reviewer.operator_id)  # fmt: skip
    # DE subpoena, rejected: its target is told that nothing was disclosed.
    b = await desk.intake("2026-03-05", "DE", "subpoena", ("de3",))
    await desk.review(b, "reject")
    # DE search warrant for content under an indefinite gag: narrowed to one target, held,
    # produced; nobody can be told yet.
    c = await desk.intake("2026-04-20", "DE", "search_warrant", ("de1", "de2"),
                          ("subscriber", "content"), gag="indefinite")  # fmt: skip
    await desk.review(c, "narrow", exclusions={2: "not named in the warrant's schedule"})
    await desk.hold(c, "2026-04-21")
    await desk.produce(c)
    # FR emergency request, produced (non-content); its hold is released before H1 ends.
    d = await desk.intake("2026-05-02", "FR", "emergency", ("fr1",),
                          ("subscriber", "connection_logs"))  # fmt: skip
    await desk.review(d, "accept")
    await desk.hold(d, "2026-05-03")
    await desk.produce(d)
    # US preservation request: held at intake, reviewed, never produced; released in July.
    e = await desk.intake("2026-05-15", "US", "preservation_request", ("us1",))
    await desk.review(e, "accept")
    await desk.release(d, "2026-06-01T10:00:00")
    # DE subpoena naming an unknown account too, narrowed to what a subpoena reaches.
    i = await desk.intake("2026-06-02", "DE", "subpoena", ("de1", "nobody"),
                          ("subscriber", "connection_logs"))  # fmt: skip
    await desk.review(i, "narrow", categories=("subscriber",))
    await desk.produce(i)
    # The last instant of H1 and the first of H2.
    await desk.intake("2026-06-30T23:59:59.999999", "CN", "court_order", ("ghost",))
    g = await desk.intake("2026-07-01T00:00:00", "DE", "subpoena", ("de3",),
                          date_from=dt.date(2026, 1, 1), date_to=dt.date(2026, 6, 30))  # fmt: skip
    await desk.review(g, "narrow", date_from=dt.date(2026, 3, 1))
    await desk.hold(g, "2026-07-02")
    await desk.hold(a, "2026-07-05")  # after H1 ended: not counted in H1
    await desk.release(e, "2026-07-10")  # still held when H1 ended: counted in H1
    h = await desk.intake("2026-08-01", "FR", "court_order", ("fr1",))
    await desk.review(h, "reject")
    desk.on(NOW.isoformat()[:19])


async def find_user(app: FastAPI, username: str) -> str:
    async with app.state.runtime.db.read() as session:
        found = await find_accounts(session, [username])
    return found[username].user_id


@pytest.fixture
async def desk(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> None:
    await make_desk(app, client, clock)


async def report(client: httpx.AsyncClient, period: str) -> dict[str, Any]:
    answer = await client.get(f"/v1/transparency/reports/{period}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def cells(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, int]]:
    return {(r["country"], r["process_type"]): {n: r[n] for n in COUNTS} for r in body["rows"]}


# --- the same numbers, counted independently ----------------------------------------------

IN_CELL = (
    "SELECT c.case_id FROM legal_cases c WHERE c.country = :country AND "
    "c.process_type = :process AND c.received_at >= :start AND c.received_at < :end"
)
TARGETS = f"SELECT COUNT(*) FROM legal_case_targets t WHERE t.case_id IN ({IN_CELL})"


def has_content(dialect: str) -> str:
    if dialect == "postgresql":
        return "COALESCE(c.approved_categories @> '[\"content\"]'::jsonb, false)"
    return "EXISTS (SELECT 1 FROM json_each(c.approved_categories) j WHERE j.value = 'content')"


def count_queries(dialect: str) -> dict[str, str]:
    content = has_content(dialect)
    produced = f"{IN_CELL} AND c.produced_at IS NOT NULL"
    return {
        "received": f"SELECT COUNT(*) FROM ({IN_CELL}) x",
        "rejected": f"SELECT COUNT(*) FROM ({IN_CELL} AND c.review_outcome = 'rejected') x",
        "narrowed": f"SELECT COUNT(*) FROM ({IN_CELL} AND c.review_outcome = 'narrowed') x",
        "produced_content": f"SELECT COUNT(*) FROM ({produced} AND {content}) x",
        "produced_non_content": f"SELECT COUNT(*) FROM ({produced} AND NOT {content}) x",
        "accounts_specified": TARGETS,
        "accounts_affected": (
            "SELECT COUNT(*) FROM legal_case_targets t WHERE t.decision = 'included' "
            f"AND t.case_id IN ({produced})"
        ),
        "users_notified": f"{TARGETS} AND t.notified_at IS NOT NULL",
        "holds_active": (
            f"SELECT COUNT(*) FROM legal_holds h WHERE h.case_id IN ({IN_CELL}) "
            "AND NOT h.placed_at > :at AND (h.released_at IS NULL OR h.released_at > :at)"
        ),
    }


async def counted_directly(app: FastAPI, period: str) -> dict[tuple[str, str], dict[str, int]]:
    start, end = (at(day) for day in BOUNDS[period])
    times = {"start": start, "end": end, "at": min(end, NOW)}
    typed = [bindparam(name, type_=UTCDateTime) for name in times]
    db = app.state.runtime.db
    found: dict[tuple[str, str], dict[str, int]] = {}
    async with db.read() as session:
        dialect = session.bind.dialect.name
        pairs = await session.execute(
            text("SELECT DISTINCT country, process_type FROM legal_cases "
                 "WHERE received_at >= :start AND received_at < :end").bindparams(*typed[:2]),
            {"start": start, "end": end},
        )  # fmt: skip
        for country, process in pairs.all():
            values = {"country": country, "process": process}
            row = {}
            for name, sql in count_queries(dialect).items():
                query = text(sql).bindparams(*(p for p in typed if f":{p.key}" in sql))
                params = {k: v for k, v in {**times, **values}.items() if f":{k}" in sql}
                row[name] = (await session.execute(query, params)).scalar_one()
            found[(country, process)] = row
    return found


@pytest.mark.usefixtures("desk")
@pytest.mark.parametrize("period", list(BOUNDS))
async def test_every_count_of_every_cell_equals_a_plain_count_in_the_database(
    app: FastAPI, client: httpx.AsyncClient, period: str
) -> None:
    body = await report(client, period)
    direct = await counted_directly(app, period)
    assert direct  # every period of the scenario has cases
    assert cells(body) == direct
    assert body["totals"] == {name: sum(row[name] for row in direct.values()) for name in COUNTS}
    order = [(r["country"], r["process_type"]) for r in body["rows"]]
    assert order == sorted(order)


@pytest.mark.usefixtures("desk")
async def test_the_first_half_year_counts_each_outcome_as_defined(
    client: httpx.AsyncClient,
) -> None:
    body = await report(client, "2026-H1")
    names = COUNTS
    assert cells(body) == {
        ("CN", "court_order"): dict(zip(names, (1, 0, 0, 0, 0, 1, 0, 0, 0), strict=True)),
        ("DE", "search_warrant"): dict(zip(names, (1, 0, 1, 1, 0, 2, 1, 0, 1), strict=True)),
        ("DE", "subpoena"): dict(zip(names, (3, 1, 1, 0, 2, 5, 3, 4, 0), strict=True)),
        ("FR", "emergency"): dict(zip(names, (1, 0, 0, 0, 1, 1, 1, 1, 0), strict=True)),
        ("US", "preservation_request"): dict(zip(names, (1, 0, 0, 0, 0, 1, 0, 0, 1), strict=True)),
    }
    assert body["totals"] == dict(zip(names, (7, 1, 2, 1, 3, 10, 5, 5, 2), strict=True))


@pytest.mark.usefixtures("desk")
async def test_a_case_counts_in_the_period_it_was_received_to_the_microsecond(
    client: httpx.AsyncClient,
) -> None:
    last_of_june = ("CN", "court_order")  # received 2026-06-30T23:59:59.999999Z
    first_of_july = ("DE", "subpoena")  # one received 2026-07-01T00:00:00Z
    h1, q2 = await report(client, "2026-H1"), await report(client, "2026-Q2")
    h2, q3 = await report(client, "2026-H2"), await report(client, "2026-Q3")
    assert cells(h1)[last_of_june]["received"] == cells(q2)[last_of_june]["received"] == 1
    assert last_of_june not in cells(h2)
    assert last_of_june not in cells(q3)
    assert cells(h2)[first_of_july]["received"] == cells(q3)[first_of_july]["received"] == 1
    assert cells(h1)[first_of_july]["received"] == 3  # the three received before July
    assert (h1["start"], h1["end"]) == ("2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z")
    assert (q3["start"], q3["end"]) == ("2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z")


@pytest.mark.usefixtures("desk")
async def test_a_period_is_provisional_until_it_ends_and_holds_are_counted_at_its_end(
    client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    h1, h2 = await report(client, "2026-H1"), await report(client, "2026-H2")
    assert (h1["provisional"], h2["provisional"]) == (False, True)
    assert h1["holds_counted_at"] == "2026-07-01T00:00:00Z"
    assert h2["holds_counted_at"] == h2["generated_at"] == "2026-08-15T12:00:00Z"
    # The preservation hold released on 10 July was still active when H1 ended.
    assert cells(h1)[("US", "preservation_request")]["holds_active"] == 1

    clock.advance(days=200)  # into 2027: H2 has ended, and its holds are frozen at its end
    later = await report(client, "2026-H2")
    assert later["provisional"] is False
    assert later["holds_counted_at"] == "2027-01-01T00:00:00Z"
    assert later["totals"]["holds_active"] == 1
    assert (await report(client, "2027-H1"))["provisional"] is True


@pytest.mark.usefixtures("desk")
async def test_the_periods_run_from_the_first_case_to_now_newest_first(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/transparency/reports")
    assert answer.status_code == 200
    listed = [(p["period"], p["kind"], p["provisional"]) for p in answer.json()["periods"]]
    assert listed == [
        ("2026-H2", "half_year", True),
        ("2026-Q3", "quarter", True),
        ("2026-H1", "half_year", False),
        ("2026-Q2", "quarter", False),
        ("2026-Q1", "quarter", False),
    ]


async def test_with_no_case_the_current_periods_report_zeros(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/v1/transparency/reports")
    assert [p["period"] for p in answer.json()["periods"]] == ["2026-H1", "2026-Q1"]
    body = await report(client, "2026-q1")
    assert body["period"] == "2026-Q1"
    assert body["provisional"] is True
    assert body["rows"] == []
    assert set(body["totals"].values()) == {0}


BAD_PERIODS = {
    "2026-H3": (400, "invalid_period"),
    "2026-Q5": (400, "invalid_period"),
    "2026": (400, "invalid_period"),
    "H1-2026": (400, "invalid_period"),
    "2026-H1 ": (400, "invalid_period"),
    "0001-H1": (400, "invalid_period"),
    "9999-H2": (400, "invalid_period"),
    "２０２６-H1": (400, "invalid_period"),  # full-width digits
    "2026-H1%00": (400, "invalid_period"),
    "2026-H1" * 3: (422, "invalid_request"),
    "2027-H1": (404, "report_not_found"),  # not begun
    "2026-Q4": (404, "report_not_found"),
    "2025-H2": (404, "report_not_found"),  # before the first case
    "1970-Q1": (404, "report_not_found"),
}


async def test_bad_periods_are_problems_not_errors(app: FastAPI, client: httpx.AsyncClient) -> None:
    await register(client, "de1", region="DE")  # the desk needs a case to begin its records
    runtime = app.state.runtime
    reviewer = await runtime.operators.do_create_operator("rev", PASSWORD, ["legal_reviewer"])
    intake = Intake("Authority", "DE", "subpoena", ("de1",), ("subscriber",))
    await runtime.legal.do_intake(intake, [], operator_id=reviewer.operator_id)  # 2026-01-01
    answers = {}
    for period in BAD_PERIODS:
        answer = await client.get(f"/v1/transparency/reports/{period}")
        assert answer.headers["content-type"] == "application/problem+json", period
        answers[period] = (answer.status_code, answer.json()["code"])
    assert answers == BAD_PERIODS


async def test_the_api_is_in_the_openapi_spec_and_the_page_is_not(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    listing = paths["/v1/transparency/reports"]["get"]
    one = paths["/v1/transparency/reports/{period}"]["get"]
    assert listing["tags"] == one["tags"] == ["transparency"]
    assert "security" not in listing
    assert "security" not in one
    assert {"200", "400", "404", "422"} <= set(one["responses"])
    assert not [path for path in paths if path.startswith("/transparency")]
