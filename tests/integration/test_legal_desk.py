"""The lawful-request desk through its service on a real database (docs/legal-desk.md): a
case through every path — intake, rejection, narrowing, the rules, two-person approval, the
signed package, holds, notices at once, at an order's end and when it is lifted, closing —
with the timeline and the audit log of each step."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import stat
from collections.abc import Awaitable

import httpx
import pytest
from fastapi import FastAPI

from courtyard.core.clock import FrozenClock
from courtyard.core.errors import CourtyardError, InvalidInput
from courtyard.domains.legal import Review, Upload
from courtyard.domains.privacy import get_active_holds, get_user_notices
from tests.integration.legal_support import (
    ACCEPT,
    BLOB,
    ORDER,
    PDF,
    PNG,
    STATEMENT,
    Members,
    Staff,
    desk,
    make_members,
    make_staff,
    open_package,
    produced,
    published_key,
    served,
    signature_holds,
    sql,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
async def staff(app: FastAPI) -> Staff:
    return await make_staff(app)


@pytest.fixture
async def members(app: FastAPI, client: httpx.AsyncClient) -> Members:
    return await make_members(app, client)


async def notices(app: FastAPI, user_id: str) -> list[tuple[str, str, str]]:
    async with app.state.runtime.db.read() as session:
        rows = await get_user_notices(session, user_id)
    return [(n.kind, n.title, n.body) for n in rows]


async def audit(app: FastAPI, case_id: str) -> list[tuple[str, str, str | None]]:
    """(actor, action, subject) of the audit entries that name the case, in order."""
    rows = await sql(
        app, "SELECT actor, action, subject_user_id, detail FROM audit_log ORDER BY seq"
    )
    found = []
    for row in rows:
        detail = (
            row["detail"]
            if isinstance(row["detail"], dict)
            else json.loads(row["detail"] or "null")
        )
        if detail and detail.get("case_id") == case_id:
            found.append((row["actor"], row["action"], row["subject_user_id"]))
    return found


async def refused(code: str, step: Awaitable[object]) -> CourtyardError:
    """Await ``step`` and return the domain error it raised, checking its code."""
    with pytest.raises(CourtyardError) as caught:
        await step
    assert caught.value.code == code, caught.value
    return caught.value


# --- intake ----------------------------------------------------------------------------


async def test_intake_numbers_the_case_keeps_unknown_targets_and_hashes_documents(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    jean_id = members.jean["user_id"]
    case = await legal.do_intake(
        served(targets=("Alice", jean_id, "ghost")), [ORDER, Upload("C:\\scans\\annex.png", PNG)],
        operator_id=staff.reviewer,
    )  # fmt: skip
    assert case.reference == "LR-2026-0001"
    assert case.status == "received"
    assert [(t.identifier, t.user_id, t.user_region, t.decision, t.decision_reason)
            for t in case.targets] == [
        ("Alice", members.alice["user_id"], "DE", "pending", None),
        (jean_id, jean_id, "FR", "pending", None),
        ("ghost", None, None, "excluded", "not found"),
    ]  # fmt: skip
    assert [(t.advice.code if t.advice else None) for t in case.targets] == [
        "allowed", "out_of_jurisdiction", "not_found",
    ]  # fmt: skip
    assert [(d.filename, d.media_type, d.sha256, d.size) for d in case.documents] == [
        ("court-order.pdf", "application/pdf", hashlib.sha256(PDF).hexdigest(), len(PDF)),
        ("annex.png", "image/png", hashlib.sha256(PNG).hexdigest(), len(PNG)),
    ]
    document = await legal.access_document(
        case.reference, case.documents[0].document_id, operator_id=staff.approver
    )
    assert (document.content, document.media_type) == (PDF, "application/pdf")
    second = await legal.do_intake(served(), [], operator_id=staff.approver)
    assert second.reference == "LR-2026-0002"
    assert [e.kind for e in case.events] == ["intake"]
    assert await audit(app, case.case_id) == [
        (f"operator:{staff.reviewer}", "legal.case.intake", uid)
        for uid in sorted([members.alice["user_id"], jean_id])
    ] + [(f"operator:{staff.approver}", "legal.document.view", None)]
    assert [c.reference for c in await legal.list_cases("received")] == [
        "LR-2026-0002", "LR-2026-0001",
    ]  # fmt: skip
    assert await legal.list_cases("produced") == []


@pytest.mark.parametrize(
    ("changes", "uploads", "code"),
    [
        ({}, [Upload("order.pdf", b"<html>not a pdf</html>")], "invalid_document"),
        ({}, [Upload("big.pdf", PDF + bytes(10 * 1024 * 1024))], "document_too_large"),
        ({}, [ORDER] * 11, "too_many_documents"),
        ({"country": "XX"}, [], "invalid_input"),
        ({"process_type": "letter"}, [], "invalid_input"),
        ({"categories": ()}, [], "invalid_input"),
        ({"categories": ("subscriber", "dna")}, [], "invalid_input"),
        ({"targets": (" ", "")}, [], "invalid_input"),
        ({"date_from": dt.date(2026, 2, 1)}, [], "invalid_input"),
        ({"gag": "until", "gag_until": dt.date(2025, 12, 31)}, [], "invalid_input"),
        ({"gag": "forever"}, [], "invalid_input"),
        ({"authority": "  "}, [], "invalid_input"),
    ],
)
async def test_intake_refuses_malformed_requests_and_stores_nothing(
    app: FastAPI, staff: Staff, changes: dict[str, object], uploads: list[Upload], code: str
) -> None:
    await refused(code, desk(app).do_intake(served(**changes), uploads, operator_id=staff.reviewer))
    assert await desk(app).list_cases() == []
    legal_entries = "SELECT count(*) AS n FROM audit_log WHERE action LIKE 'legal.%'"
    assert await sql(app, legal_entries) == [{"n": 0}]


# --- review ----------------------------------------------------------------------------


async def test_a_rejection_needs_a_reason_and_tells_every_found_target_at_once(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case = await legal.do_intake(served(targets=("alice", "jean", "ghost")), [ORDER],
                                 operator_id=staff.reviewer)  # fmt: skip
    await refused("reasons_required", legal.do_review(case.case_id, Review("reject"),
                                                       operator_id=staff.reviewer))  # fmt: skip
    rejected = await legal.do_review(
        case.case_id, Review("reject", reason="No court order attached; a letter only."),
        operator_id=staff.reviewer,
    )  # fmt: skip
    assert (rejected.status, rejected.review_outcome) == ("rejected", "rejected")
    assert rejected.review_reasons == "No court order attached; a letter only."
    assert rejected.approved_categories is None
    assert [t.decision for t in rejected.targets] == ["excluded"] * 3
    now = app.state.runtime.clock.now()
    assert [(t.notice_due_at, t.notified_at) for t in rejected.targets] == [
        (now, now), (now, now), (None, None),
    ]  # fmt: skip
    for user in (members.alice, members.jean):
        [(kind, title, body)] = await notices(app, user["user_id"])
        assert kind == "legal_request"
        assert "LR-2026-0001" in title
        assert "Landeskriminalamt Berlin (DE)" in body
        assert "We refused the request. Nothing about you was disclosed." in body
    assert [e.kind for e in rejected.events] == ["intake", "review", "notice_sent"]
    await refused("case_state", legal.do_approve(case.case_id, operator_id=staff.approver))
    await refused("case_state", legal.do_review(case.case_id, ACCEPT, operator_id=staff.reviewer))


async def test_narrowing_drops_categories_shortens_dates_and_excludes_targets_with_reasons(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case = await legal.do_intake(
        served(targets=("alice", "bob"), categories=("subscriber", "connection_logs",
                                                     "transactions")),
        [ORDER], operator_id=staff.reviewer,
    )  # fmt: skip
    key, who = case.case_id, staff.reviewer
    bad = [
        ("nothing_narrowed", Review("narrow", reason="tidy")),
        ("scope_widened", Review("narrow", reason="r", categories=("subscriber", "content"))),
        ("scope_widened", Review("narrow", reason="r", date_from=dt.date(2025, 11, 30))),
        ("scope_widened", Review("narrow", reason="r", date_to=dt.date(2026, 2, 1))),
        ("reasons_required", Review("narrow", categories=("subscriber",))),
        ("reasons_required", Review("narrow", reason="r", exclusions={2: " "})),
        ("invalid_input", Review("narrow", reason="r", exclusions={1: "a", 2: "b"})),
        ("invalid_input", Review("narrow", reason="r", exclusions={7: "no such"})),
        ("invalid_input", Review("narrow", reason="r", categories=())),
    ]
    for code, review in bad:
        await refused(code, legal.do_review(key, review, operator_id=who))
    narrowed = await legal.do_review(
        key,
        Review("narrow", reason="Transactions are not named in the order.",
               categories=("subscriber", "connection_logs"), date_to=dt.date(2026, 1, 15),
               exclusions={2: "Bob is not named in the order's annex."}),
        operator_id=who,
    )  # fmt: skip
    assert (narrowed.status, narrowed.review_outcome) == ("reviewed", "narrowed")
    assert narrowed.approved_categories == ["subscriber", "connection_logs"]
    assert (narrowed.approved_from, narrowed.approved_to) == (
        dt.date(2025, 12, 1), dt.date(2026, 1, 15),
    )  # fmt: skip
    assert [(t.decision, t.decision_reason) for t in narrowed.targets] == [
        ("included", None), ("excluded", "Bob is not named in the order's annex."),
    ]  # fmt: skip
    assert narrowed.review_reasons == (
        "Transactions are not named in the order.\n"
        "target 2 excluded: Bob is not named in the order's annex."
    )
    assert narrowed.reviewer == "rita"


async def test_the_rules_bind_the_review_and_the_approval(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    subpoena = await legal.do_intake(
        served(process_type="subpoena", categories=("subscriber", "content")), [ORDER],
        operator_id=staff.reviewer,
    )  # fmt: skip
    assert [(a.subject, a.code) for a in subpoena.evaluation.categories] == [
        ("subscriber", "allowed"), ("content", "insufficient_process"),
    ]  # fmt: skip
    error = await refused(
        "insufficient_process",
        legal.do_review(subpoena.case_id, ACCEPT, operator_id=staff.reviewer),
    )
    assert error.extra == {"categories": ["content"]}
    assert "search warrant or mutual legal assistance" in error.detail
    abroad = await legal.do_intake(served(targets=("alice", "jean")), [ORDER],
                                   operator_id=staff.reviewer)  # fmt: skip
    error = await refused(
        "out_of_jurisdiction", legal.do_review(abroad.case_id, ACCEPT, operator_id=staff.reviewer)
    )
    assert "target 2 (jean) is registered in FR, not DE" in error.detail
    reviewed = await legal.do_review(
        abroad.case_id, Review("narrow", reason="jean is outside German jurisdiction",
                               exclusions={2: "registered in FR"}),
        operator_id=staff.reviewer,
    )  # fmt: skip
    assert reviewed.status == "reviewed"
    # The same request through mutual legal assistance reaches jean.
    mla = await legal.do_intake(
        served(targets=("jean",), process_type="mutual_legal_assistance"), [ORDER],
        operator_id=staff.reviewer,
    )  # fmt: skip
    assert (await legal.do_review(mla.case_id, ACCEPT, operator_id=staff.reviewer)).status == (
        "reviewed"
    )


async def test_an_approver_cannot_approve_a_case_they_reviewed(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case = await legal.do_intake(served(), [ORDER], operator_id=staff.both)
    await refused("case_state", legal.do_approve(case.case_id, operator_id=staff.approver))
    await legal.do_review(case.case_id, ACCEPT, operator_id=staff.both)
    error = await refused("same_operator", legal.do_approve(case.case_id, operator_id=staff.both))
    assert error.detail == "The operator who reviewed a case cannot approve it"
    await refused("case_state", legal.do_package(case.case_id, operator_id=staff.approver))
    approved = await legal.do_approve(case.case_id, operator_id=staff.approver, note="Checked.")
    assert (approved.status, approved.approver, approved.reviewer) == ("approved", "axel", "bea")
    await refused("case_state", legal.do_approve(case.case_id, operator_id=staff.second_approver))


# --- the package -----------------------------------------------------------------------


async def test_the_package_holds_only_the_approved_categories_and_content_as_stored_ciphertext(
    app: FastAPI, client: httpx.AsyncClient, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case_id = await produced(app, staff, served(
        process_type="search_warrant",
        categories=("subscriber", "message_metadata", "content"),
    ))  # fmt: skip
    case = await legal.get_case(case_id)
    assert case.status == "produced"
    assert case.produced_at == app.state.runtime.clock.now()
    [listed] = case.packages
    stored = await legal.access_package(case_id, listed.package_id, operator_id=staff.approver)
    assert stored.filename == "LR-2026-0001.zip"
    assert hashlib.sha256(stored.content).hexdigest() == listed.sha256
    opened = open_package(stored.content)
    assert set(opened.files) == {
        "manifest.json", "manifest.sig", "STATEMENT.txt", "subscriber.json",
        "message_metadata.json", "content.json",
    }  # fmt: skip
    assert opened.files["STATEMENT.txt"].decode() == STATEMENT
    key_id, public_key = await published_key(client)
    assert opened.manifest["key_id"] == key_id == listed.key_id
    assert signature_holds(opened, public_key)
    tampered = open_package(stored.content)
    tampered.files["manifest.json"] = tampered.files["manifest.json"].replace(b"alice", b"alicf")
    assert not signature_holds(tampered, public_key)
    for name, facts in opened.manifest["files"].items():
        assert facts == {"sha256": hashlib.sha256(opened.files[name]).hexdigest(),
                         "size": len(opened.files[name])}  # fmt: skip
    assert opened.manifest["scope"]["categories"] == ["subscriber", "message_metadata", "content"]
    assert opened.manifest["case"]["reference"] == "LR-2026-0001"

    alice = members.alice["user_id"]
    [subscriber] = opened.json("subscriber.json")["targets"]
    assert subscriber["records"]["username"] == "alice"
    assert subscriber["records"]["region"] == "DE"
    # Content only as stored: every envelope equals the database's, the blob is the upload.
    content = opened.json("content.json")["targets"][0]["records"]
    stored_events = await sql(
        app, "SELECT seq, content FROM timeline_events WHERE conversation_id = :c "
        "AND type = 'm.encrypted' ORDER BY seq", c=members.conversation_id,
    )  # fmt: skip
    assert [(m["seq"], m["envelope"]) for m in content["messages"]] == [
        (r["seq"], r["content"] if isinstance(r["content"], dict) else json.loads(r["content"]))
        for r in stored_events
    ]
    assert len(content["messages"]) == 2  # alice's and bob's reply in her conversation
    [media] = content["media"]
    assert base64.b64decode(media["ciphertext_base64"]) == BLOB
    assert media["sha256"] == hashlib.sha256(BLOB).hexdigest()
    # Metadata carries no envelope: sizes, ids and times only.
    metadata = opened.json("message_metadata.json")["targets"][0]["records"]
    text = opened.files["message_metadata.json"].decode()
    for message in content["messages"]:
        assert message["envelope"]["ciphertext"] not in text
        assert message["envelope"]["session_id"] not in text
    assert {e["sender_user_id"] for e in metadata["events"]} >= {alice, members.bob["user_id"]}
    assert all(e["ciphertext_bytes"] > 0 for e in metadata["events"] if e["type"] == "m.encrypted")
    assert {m["user_id"] for m in metadata["members"]} == {alice, members.bob["user_id"]}
    # No gag: alice is told at once what was disclosed.
    [(_, _, body)] = await notices(app, alice)
    assert "We disclosed: subscriber, message metadata, content" in body
    assert "ciphertext" in body
    await refused("case_state", legal.do_package(case_id, operator_id=staff.second_approver))
    await refused(
        "package_not_found",
        legal.access_package(case_id, "not-a-package", operator_id=staff.approver),
    )


async def test_a_narrowed_package_leaves_out_excluded_targets_and_days_outside_the_range(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case = await legal.do_intake(
        served(targets=("alice", "bob"), categories=("subscriber", "transactions")), [ORDER],
        operator_id=staff.reviewer,
    )  # fmt: skip
    await legal.do_review(
        case.case_id,
        Review("narrow", reason="Only December", date_to=dt.date(2025, 12, 31),
               categories=("transactions",), exclusions={2: "bob is the other party"}),
        operator_id=staff.reviewer,
    )  # fmt: skip
    await legal.do_approve(case.case_id, operator_id=staff.approver)
    view = await legal.do_package(case.case_id, operator_id=staff.approver)
    stored = await legal.access_package(case.case_id, view.packages[0].package_id,
                                        operator_id=staff.approver)  # fmt: skip
    opened = open_package(stored.content)
    assert set(opened.files) == {"manifest.json", "manifest.sig", "STATEMENT.txt",
                                 "transactions.json"}  # fmt: skip
    [section] = opened.json("transactions.json")["targets"]
    assert section["user_id"] == members.alice["user_id"]
    # Everything happened on 2026-01-01: after the approved range.
    assert section["records"]["entries"] == []
    assert [a["currency"] for a in section["records"]["accounts"]] == ["CNY"]
    assert [t["identifier"] for t in opened.manifest["scope"]["targets"]] == ["alice"]
    assert await notices(app, members.bob["user_id"]) != []  # named, so told: nothing disclosed
    [(_, _, bob_body)] = await notices(app, members.bob["user_id"])
    assert "Nothing about you was disclosed." in bob_body


async def test_transactions_in_range_carry_the_entries_and_their_postings(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    case_id = await produced(app, staff, served(categories=("transactions", "connection_logs")))
    view = await desk(app).get_case(case_id)
    stored = await desk(app).access_package(case_id, view.packages[0].package_id,
                                            operator_id=staff.approver)  # fmt: skip
    opened = open_package(stored.content)
    records = opened.json("transactions.json")["targets"][0]["records"]
    [entry] = records["entries"]
    assert entry["kind"] == "topup"
    assert sorted(p["amount_minor"] for p in entry["postings"]) == [-50_00, 50_00]
    logs = opened.json("connection_logs.json")["targets"][0]["records"]
    assert len(logs["devices"]) == 1
    assert len(logs["access_tokens"]) == 1
    assert "token_hash" not in opened.files["connection_logs.json"].decode()


# --- notices and non-disclosure orders ---------------------------------------------------


async def test_a_dated_order_holds_the_notices_until_the_due_job_runs_at_its_end(
    app: FastAPI, clock: FrozenClock, staff: Staff, members: Members
) -> None:
    legal, due = desk(app), app.state.runtime.due
    case = await legal.do_intake(served(gag="until", gag_until=dt.date(2026, 3, 1)), [ORDER],
                                 operator_id=staff.reviewer)  # fmt: skip
    assert case.summary.gag == "until 2026-03-01"
    job = await due.get_job(f"legal.notice:{case.case_id}")
    assert (job.state, job.due_at) == ("pending", dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    await refused("notice_not_due", legal.do_send_notices(case.case_id, operator_id=staff.reviewer))
    rejected = await legal.do_review(case.case_id, Review("reject", reason="Overbroad."),
                                     operator_id=staff.reviewer)  # fmt: skip
    [alice] = rejected.targets
    assert (alice.notice_due_at, alice.notified_at) == (
        dt.datetime(2026, 3, 1, tzinfo=dt.UTC), None,
    )  # fmt: skip
    error = await refused(
        "notice_not_due", legal.do_send_notices(case.case_id, operator_id=staff.reviewer)
    )
    assert "2026-03-01" in error.detail
    await due.run_due()
    clock.advance(days=58)  # 2026-02-28: a day before the order ends
    await due.run_due()
    assert await notices(app, members.alice["user_id"]) == []
    clock.advance(days=1)
    assert await due.run_due() == 1
    [(_, _, body)] = await notices(app, members.alice["user_id"])
    assert "A non-disclosure order kept us from telling you until now." in body
    done = await due.get_job(f"legal.notice:{case.case_id}")
    assert (done.state, done.outcome) == ("done", "applied")
    told = await legal.get_case(case.case_id)
    assert told.targets[0].notified_at == clock.now()
    assert [(e.kind, e.actor) for e in told.events][-2:] == [
        ("notice_scheduled", "rita"), ("notice_sent", "system"),
    ]  # fmt: skip
    assert ("system", "legal.notice.send", members.alice["user_id"]) in await audit(
        app, case.case_id
    )


async def test_an_order_that_ends_before_the_decision_lets_the_decision_notify_at_once(
    app: FastAPI, clock: FrozenClock, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case = await legal.do_intake(served(gag="until", gag_until=dt.date(2026, 1, 10)), [ORDER],
                                 operator_id=staff.reviewer)  # fmt: skip
    clock.advance(days=10)
    assert await app.state.runtime.due.run_due() == 1  # the job finds no decision: skipped
    job = await app.state.runtime.due.get_job(f"legal.notice:{case.case_id}")
    assert job.outcome == "skipped"
    assert await notices(app, members.alice["user_id"]) == []
    await legal.do_close(case.case_id, operator_id=staff.approver, reason="Withdrawn.")
    [(_, _, body)] = await notices(app, members.alice["user_id"])
    assert "Nothing about you was disclosed." in body


async def test_an_indefinite_order_waits_until_an_operator_lifts_it_with_a_reason(
    app: FastAPI, clock: FrozenClock, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case_id = await produced(app, staff, served(gag="indefinite"))
    case = await legal.get_case(case_id)
    assert case.summary.gag == "indefinite"
    assert (case.targets[0].notice_due_at, case.targets[0].notified_at) == (None, None)
    clock.advance(days=1000)
    await app.state.runtime.due.run_due()
    await refused("notice_not_due", legal.do_send_notices(case_id, operator_id=staff.reviewer))
    assert await notices(app, members.alice["user_id"]) == []
    await refused("reasons_required", legal.do_lift_gag(case_id, operator_id=staff.reviewer,
                                                         reason=" "))  # fmt: skip
    lifted = await legal.do_lift_gag(
        case_id, operator_id=staff.approver, reason="The court rescinded the order on appeal."
    )
    assert lifted.targets[0].notified_at == clock.now()
    assert lifted.gag_until == clock.now()
    [(_, _, body)] = await notices(app, members.alice["user_id"])
    assert "We disclosed: subscriber, connection logs" in body
    assert "non-disclosure order" in body
    await refused("no_gag", legal.do_lift_gag(case_id, operator_id=staff.approver, reason="again"))
    assert [e.kind for e in lifted.events][-2:] == ["gag_lifted", "notice_sent"]
    assert (f"operator:{staff.approver}", "legal.gag.lift", members.alice["user_id"]) in (
        await audit(app, case_id)
    )


async def test_without_an_order_the_notify_command_sends_only_what_is_waiting(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    case = await legal.do_intake(served(), [ORDER], operator_id=staff.reviewer)
    error = await refused(
        "notice_not_due", legal.do_send_notices(case.case_id, operator_id=staff.reviewer)
    )
    assert "no decision yet" in error.detail
    await legal.do_review(case.case_id, Review("reject", reason="r"), operator_id=staff.reviewer)
    again = await legal.do_send_notices(case.case_id, operator_id=staff.reviewer)
    assert len(await notices(app, members.alice["user_id"])) == 1  # not told twice
    assert [e.kind for e in again.events].count("notice_sent") == 1


# --- holds and closing ------------------------------------------------------------------


async def held(app: FastAPI, user_id: str) -> list[str | None]:
    async with app.state.runtime.db.read() as session:
        return [h.case_id for h in await get_active_holds(session, user_id)]


async def test_a_preservation_request_holds_at_intake_and_is_never_produced(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    alice, jean = members.alice["user_id"], members.jean["user_id"]
    case = await legal.do_intake(
        served(process_type="preservation_request", targets=("alice", "jean", "ghost"),
               categories=("subscriber", "content")),
        [ORDER], operator_id=staff.reviewer,
    )  # fmt: skip
    assert [a.code for a in case.evaluation.categories] == ["preserve", "preserve"]
    assert await held(app, alice) == [case.case_id]
    assert await held(app, jean) == []  # outside the jurisdiction: the rules do not admit it
    assert [t.hold_id is not None for t in case.targets] == [True, False, False]
    again = await legal.do_place_holds(case.case_id, operator_id=staff.reviewer)
    assert await held(app, alice) == [case.case_id]  # one hold per target and case
    assert [e.kind for e in again.events] == ["intake", "hold_placed"]
    await legal.do_review(case.case_id, Review("narrow", reason="FR is not ours",
                                                exclusions={2: "registered in FR"}),
                          operator_id=staff.reviewer)  # fmt: skip
    error = await refused(
        "insufficient_process", legal.do_approve(case.case_id, operator_id=staff.approver)
    )
    assert "never produced" in error.detail
    await refused(
        "reasons_required",
        legal.do_release_holds(case.case_id, operator_id=staff.reviewer, reason=""),
    )
    closed = await legal.do_close(case.case_id, operator_id=staff.reviewer, reason="Expired.")
    assert (closed.status, closed.closed_at) == ("closed", app.state.runtime.clock.now())
    assert await held(app, alice) == []
    assert closed.active_holds == 0
    [(_, _, body)] = await notices(app, alice)
    assert "preservation request" in body
    assert "Nothing about you was disclosed." in body
    assert await notices(app, jean) != []  # named, excluded, still told
    await refused("case_state", legal.do_close(case.case_id, operator_id=staff.reviewer))
    await refused("case_state", legal.do_place_holds(case.case_id, operator_id=staff.reviewer))
    kinds = [e.kind for e in closed.events]
    assert kinds == ["intake", "hold_placed", "review", "hold_released", "closed", "notice_sent"]


async def test_closing_can_keep_the_holds_and_a_reviewer_can_release_them_later(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    alice = members.alice["user_id"]
    case = await legal.do_intake(served(targets=("alice", "bob")), [ORDER],
                                 operator_id=staff.reviewer)  # fmt: skip
    placed = await legal.do_place_holds(case.case_id, operator_id=staff.reviewer,
                                        reason="Preserve while we review.")  # fmt: skip
    assert placed.active_holds == 2
    closed = await legal.do_close(case.case_id, operator_id=staff.approver, keep_holds=True)
    assert closed.active_holds == 2
    assert await held(app, alice) == [case.case_id]
    released = await legal.do_release_holds(case.case_id, operator_id=staff.reviewer,
                                            reason="Litigation ended.")  # fmt: skip
    assert released.active_holds == 0
    assert await held(app, alice) == []
    actions = [a for _, a, _ in await audit(app, case.case_id)]
    assert actions.count("privacy.hold.place") == 2
    assert actions.count("privacy.hold.release") == 2


# --- the timeline and the audit log ------------------------------------------------------


async def test_every_step_is_on_the_timeline_and_in_the_audit_log_per_target(
    app: FastAPI, staff: Staff, members: Members
) -> None:
    legal = desk(app)
    alice, bob = members.alice["user_id"], members.bob["user_id"]
    case = await legal.do_intake(served(targets=("alice", "bob", "ghost")), [ORDER],
                                 operator_id=staff.reviewer)  # fmt: skip
    await legal.access_case(case.reference, operator_id=staff.approver)
    await legal.do_place_holds(case.case_id, operator_id=staff.reviewer)
    await legal.do_review(case.case_id, Review("narrow", reason="bob is a bystander",
                                                exclusions={2: "bystander"}),
                          operator_id=staff.reviewer)  # fmt: skip
    await legal.do_approve(case.case_id, operator_id=staff.approver)
    view = await legal.do_package(case.case_id, operator_id=staff.approver)
    await legal.access_package(case.case_id, view.packages[0].package_id,
                               operator_id=staff.approver)  # fmt: skip
    closed = await legal.do_close(case.case_id, operator_id=staff.reviewer)
    assert [(e.event_no, e.kind, e.actor) for e in closed.events] == [
        (1, "intake", "rita"), (2, "hold_placed", "rita"), (3, "review", "rita"),
        (4, "approval", "axel"), (5, "package", "axel"), (6, "notice_sent", "axel"),
        (7, "package_download", "axel"), (8, "hold_released", "rita"), (9, "closed", "rita"),
    ]  # fmt: skip
    rita, axel = f"operator:{staff.reviewer}", f"operator:{staff.approver}"
    assert await audit(app, case.case_id) == [
        (rita, "legal.case.intake", alice), (rita, "legal.case.intake", bob),
        (axel, "legal.case.view", None),
        *sorted([(rita, "privacy.hold.place", alice), (rita, "privacy.hold.place", bob)]),
        (rita, "legal.case.hold", None),
        (rita, "legal.case.review", alice), (rita, "legal.case.review", bob),
        (axel, "legal.case.approve", alice), (axel, "legal.case.approve", bob),
        (axel, "legal.package.create", alice),
        (axel, "legal.notice.send", alice), (axel, "legal.notice.send", bob),
        (axel, "legal.package.download", alice),
        *sorted([(rita, "privacy.hold.release", alice), (rita, "privacy.hold.release", bob)]),
        (rita, "legal.case.release", None),
        (rita, "legal.case.close", alice), (rita, "legal.case.close", bob),
    ]  # fmt: skip


async def test_a_case_is_found_by_id_or_reference_and_nothing_else(
    app: FastAPI, staff: Staff
) -> None:
    legal = desk(app)
    case = await legal.do_intake(served(targets=("ghost",)), [], operator_id=staff.reviewer)
    assert (await legal.get_case("lr-2026-0001")).case_id == case.case_id
    for key in ("LR-2026-0002", "0190c8e4-0000-7000-8000-000000000000", "'; drop", ""):
        await refused("case_not_found", legal.get_case(key))
    with pytest.raises(InvalidInput):
        await legal.do_review(case.case_id, Review("maybe"), operator_id=staff.reviewer)  # type: ignore[arg-type]


async def test_the_signing_key_is_published_and_kept_in_the_data_dir(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    settings = app.state.runtime.settings
    key_file = settings.data_dir / "legal-signing-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_id, raw = await published_key(client)
    assert len(raw) == 32
    assert key_id == hashlib.sha256(raw).hexdigest()[:16]
    from courtyard.domains.legal import PackageSigner

    assert PackageSigner.from_file(key_file).key_id == key_id  # the same key after a restart
