"""The lawful-request desk in the operator console (docs/legal-desk.md): intake with uploaded
documents, the case page with the rules' evaluation, review and approval by two operators,
the package made and downloaded, refusals shown on the page, and the roles and CSRF token on
every page and form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from courtyard.domains.legal import Review
from tests.integration.admin_support import (
    ROLES,
    OperatorFactory,
    browser,
    operator_factory,
)
from tests.integration.legal_support import (
    ORDER,
    PDF,
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
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
CASE_LINK = re.compile(r"^/admin/legal/cases/([0-9a-f-]{36})$")
REFUSED_FOR_ROLE = "This page is for operators with the role"


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


@pytest.fixture
async def members(app: FastAPI, client: httpx.AsyncClient) -> Members:
    return await make_members(app, client)


def intake_form(csrf: str, **changes: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "csrf_token": csrf, "authority": "Landeskriminalamt Berlin", "country": "de",
        "process_type": "court_order", "authority_reference": "LKA-2026-117",
        "targets": "alice\nghost", "category": ["subscriber", "connection_logs"],
        "date_from": "2025-12-01", "date_to": "2026-01-31", "gag": "none", "gag_until": "",
    }  # fmt: skip
    return {**form, **changes}


async def take_in(
    http: httpx.AsyncClient, csrf: str, documents: list[tuple[str, bytes, str]] | None = None,
    **changes: str | list[str],
) -> httpx.Response:  # fmt: skip
    files = [("documents", doc) for doc in (documents or [("order.pdf", PDF, "application/pdf")])]
    return await http.post("/admin/legal/intake", data=intake_form(csrf, **changes), files=files)


async def test_two_operators_take_a_case_from_intake_to_a_downloaded_package(
    app: FastAPI, client: httpx.AsyncClient, operators: OperatorFactory, members: Members
) -> None:
    rita = await operators("rita", "legal_reviewer")
    axel = await operators("axel", "legal_approver")
    form = await rita.http.get("/admin/legal/intake")
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.text
    made = await take_in(rita.http, rita.csrf)
    assert made.status_code == 303, made.text
    found = CASE_LINK.match(made.headers["location"])
    assert found is not None
    case_path = made.headers["location"]
    page = await rita.http.get(case_path)
    assert page.status_code == 200
    assert "LR-2026-0001" in page.text
    assert 'data-target-no="1" data-decision="pending" data-advice="allowed"' in page.text
    assert 'data-target-no="2" data-decision="excluded" data-advice="not_found"' in page.text
    assert 'id="review-form"' in page.text
    assert 'id="approve-form"' not in page.text
    assert "order.pdf" in page.text
    assert 'id="review-form"' not in (await axel.http.get(case_path)).text

    reviewed = await rita.post(f"{case_path}/review", outcome="accept")
    assert reviewed.status_code == 303, reviewed.text
    refused = await rita.post(f"{case_path}/approve")
    assert refused.status_code == 403
    assert REFUSED_FOR_ROLE in refused.text
    page = await axel.http.get(case_path)
    assert 'id="case-review">accepted by rita' in page.text
    assert 'id="approve-form"' in page.text
    assert (await axel.post(f"{case_path}/approve", note="Order checked.")).status_code == 303
    assert (await axel.post(f"{case_path}/package")).status_code == 303
    page = await axel.http.get(case_path)
    assert 'class="status status-produced"' in page.text
    link = re.search(r'href="(/admin/legal/cases/[^"]+/packages/[^"]+)" download', page.text)
    assert link is not None
    assert 'id="download-package"' not in (await rita.http.get(case_path)).text
    assert (await rita.http.get(link.group(1))).status_code == 403
    download = await axel.http.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert (
        download.headers["content-disposition"] == "attachment; filename*=UTF-8''LR-2026-0001.zip"
    )
    opened = open_package(download.content)
    assert set(opened.files) == {"manifest.json", "manifest.sig", "STATEMENT.txt",
                                 "subscriber.json", "connection_logs.json"}  # fmt: skip
    _, public_key = await published_key(client)
    assert signature_holds(opened, public_key)
    view = await desk(app).get_case(found.group(1))
    assert [e.kind for e in view.events] == [
        "intake", "review", "approval", "package", "notice_sent", "package_download",
    ]  # fmt: skip


async def test_a_refused_intake_shows_why_and_keeps_what_was_typed(
    app: FastAPI, operators: OperatorFactory
) -> None:
    rita = await operators("rita", "legal_reviewer")
    wrong_country = await take_in(rita.http, rita.csrf, country="XX")
    assert wrong_country.status_code == 400
    assert "ISO 3166-1 alpha-2" in wrong_country.text
    assert 'value="Landeskriminalamt Berlin"' in wrong_country.text
    assert 'value="subscriber" checked' in wrong_country.text
    not_a_document = await take_in(
        rita.http, rita.csrf, [("order.pdf", b"MZ\x90\x00", "application/pdf")]
    )
    assert not_a_document.status_code == 400
    assert "order.pdf is not a PDF or an image" in not_a_document.text
    bad_day = await take_in(rita.http, rita.csrf, date_to="31/01/2026")
    assert bad_day.status_code == 400
    assert await desk(app).list_cases() == []


async def test_a_refused_step_shows_the_case_with_the_reason(
    app: FastAPI, operators: OperatorFactory, members: Members
) -> None:
    bea = await operators("bea", "legal_reviewer", "legal_approver")
    made = await take_in(bea.http, bea.csrf, targets="alice")
    case_path = made.headers["location"]
    no_reason = await bea.post(f"{case_path}/review", outcome="reject", reason="")
    assert no_reason.status_code == 400
    assert "Say why you reject the request" in no_reason.text
    assert (await bea.post(f"{case_path}/review", outcome="accept")).status_code == 303
    same = await bea.post(f"{case_path}/approve")
    assert same.status_code == 403
    assert "The operator who reviewed a case cannot approve it" in same.text
    assert "You reviewed this case" in same.text
    assert (await desk(app).get_case(case_path.rsplit("/", 1)[1])).status == "reviewed"


async def test_the_review_form_narrows_with_reasons_per_target(
    app: FastAPI, operators: OperatorFactory, members: Members
) -> None:
    rita = await operators("rita", "legal_reviewer")
    made = await take_in(rita.http, rita.csrf, targets="alice\nbob")
    case_path = made.headers["location"]
    missing = await rita.http.post(f"{case_path}/review", data={
        "csrf_token": rita.csrf, "outcome": "narrow", "reason": "bob is a bystander",
        "category": ["subscriber", "connection_logs"], "exclude": "2", "reason_2": "",
    })  # fmt: skip
    assert missing.status_code == 400
    assert "Say why target 2 is excluded" in missing.text
    narrowed = await rita.http.post(f"{case_path}/review", data={
        "csrf_token": rita.csrf, "outcome": "narrow", "reason": "bob is a bystander",
        "category": ["subscriber"], "date_from": "2026-01-01", "date_to": "2026-01-31",
        "exclude": "2", "reason_2": "not named in the order",
    })  # fmt: skip
    assert narrowed.status_code == 303, narrowed.text
    view = await desk(app).get_case(case_path.rsplit("/", 1)[1])
    assert (view.review_outcome, view.approved_categories) == ("narrowed", ["subscriber"])
    assert [t.decision_reason for t in view.targets] == [None, "not named in the order"]


async def test_notices_orders_holds_and_closing_from_the_case_page(
    app: FastAPI, operators: OperatorFactory, members: Members
) -> None:
    axel = await operators("axel", "legal_approver")
    made = await take_in(axel.http, axel.csrf, targets="alice", gag="indefinite")
    case_path = made.headers["location"]
    page = await axel.http.get(case_path)
    assert "indefinite (in force)" in page.text
    assert (await axel.post(f"{case_path}/holds", reason="Preserve")).status_code == 303
    assert "1 active" in (await axel.http.get(case_path)).text
    assert (await axel.post(f"{case_path}/close", reason="Withdrawn")).status_code == 303
    not_yet = await axel.post(f"{case_path}/notify")
    assert not_yet.status_code == 409
    assert "runs until it is lifted" in not_yet.text
    no_reason = await axel.post(f"{case_path}/lift-gag", reason="")
    assert no_reason.status_code == 400
    lifted = await axel.post(f"{case_path}/lift-gag", reason="Order rescinded")
    assert lifted.status_code == 303
    page = await axel.http.get(case_path)
    assert "(ended)" in page.text
    assert 'class="status status-closed"' in page.text
    assert "0 active" in page.text
    view = await desk(app).get_case(case_path.rsplit("/", 1)[1])
    assert view.targets[0].notified_at is not None


async def test_posts_without_the_sessions_csrf_token_change_nothing(
    app: FastAPI, operators: OperatorFactory, members: Members
) -> None:
    rita = await operators("rita", "legal_reviewer")
    made = await take_in(rita.http, rita.csrf, targets="alice")
    case_path = made.headers["location"]
    attempts = [
        await rita.http.post(f"{case_path}/review", data={"outcome": "accept"}),
        await rita.http.post(f"{case_path}/close", data={"csrf_token": "x" * 43}),
        await rita.http.post("/admin/legal/intake", data=intake_form("")),
    ]
    assert [a.status_code for a in attempts] == [403, 403, 403]
    assert all("CSRF token is missing or wrong" in a.text for a in attempts)
    assert [c.status for c in await desk(app).list_cases()] == ["received"]


# --- roles on every page and form ---------------------------------------------------------

VIEW = frozenset({"legal_reviewer", "legal_approver", "admin"})
HANDLE = frozenset({"legal_reviewer", "legal_approver"})
REVIEW = frozenset({"legal_reviewer"})
APPROVE = frozenset({"legal_approver"})


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "signed-out"])
async def test_each_desk_page_and_form_admits_exactly_its_roles(
    app: FastAPI, operators: OperatorFactory, members: Members, role: str | None
) -> None:
    staff: Staff = await make_staff(app)
    legal = desk(app)
    done = await legal.get_case(await produced(app, staff, served()))
    fresh = await legal.do_intake(served(), [ORDER], operator_id=staff.reviewer)
    reviewed = await legal.do_intake(served(), [ORDER], operator_id=staff.reviewer)
    await legal.do_review(reviewed.case_id, Review("accept"), operator_id=staff.reviewer)
    async with browser(app) as anonymous:
        if role is None:
            http, csrf = anonymous, ""
        else:
            someone = await operators(f"op-{role}", role)
            http, csrf = someone.http, someone.csrf
        base = "/admin/legal/cases"
        gets = {
            "cases": ("/admin/legal/cases?status=produced", VIEW),
            "intake": ("/admin/legal/intake", HANDLE),
            "rules": ("/admin/legal/rules", VIEW),
            "case": (f"{base}/{done.case_id}", VIEW),
            "document": (f"{base}/{done.case_id}/documents/{done.documents[0].document_id}", VIEW),
            "package": (f"{base}/{done.case_id}/packages/{done.packages[0].package_id}", APPROVE),
        }
        views = {name: (await http.get(path)).status_code for name, (path, _) in gets.items()}
        assert views == {
            name: 303 if role is None else 200 if role in allowed else 403
            for name, (_, allowed) in gets.items()
        }
        posts: dict[str, tuple[str, frozenset[str], dict[str, Any]]] = {
            "intake": ("/admin/legal/intake", HANDLE, intake_form(csrf)),
            "review": (f"{base}/{fresh.case_id}/review", REVIEW, {"outcome": "accept"}),
            "approve": (f"{base}/{reviewed.case_id}/approve", APPROVE, {}),
            "hold": (f"{base}/{fresh.case_id}/holds", HANDLE, {}),
            "release": (f"{base}/{fresh.case_id}/holds/release", HANDLE, {"reason": "r"}),
            "package": (f"{base}/{reviewed.case_id}/package", APPROVE, {}),
            "notify": (f"{base}/{done.case_id}/notify", HANDLE, {}),
            "lift": (f"{base}/{done.case_id}/lift-gag", HANDLE, {"reason": "r"}),
            "close": (f"{base}/{done.case_id}/close", HANDLE, {}),
        }
        for name, (path, allowed, data) in posts.items():
            answer = await http.post(path, data={"csrf_token": csrf, **data})
            if role is None:
                assert (answer.status_code, answer.headers["location"]) == (303, "/admin/login")
            elif role in allowed:
                assert REFUSED_FOR_ROLE not in answer.text, name
                assert answer.status_code in (200, 303, 400, 409), (name, answer.status_code)
            else:
                assert answer.status_code == 403, name
                assert REFUSED_FOR_ROLE in answer.text, name
    kinds = {(await legal.get_case(c.case_id)).status for c in (fresh, reviewed, done)}
    if role in (None, "admin", "finance", "support"):
        assert kinds == {"received", "reviewed", "produced"}  # nothing happened
        assert len(await legal.list_cases()) == 3


async def test_documents_up_to_10_mb_pass_the_body_limit_and_larger_ones_are_refused(
    app: FastAPI, operators: OperatorFactory
) -> None:
    rita = await operators("rita", "legal_reviewer")
    big = PDF + bytes(3 * 1024 * 1024)  # over the API's 1 MB body limit, under 10 MB
    made = await take_in(rita.http, rita.csrf, [("scan.pdf", big, "application/pdf")])
    assert made.status_code == 303, made.text
    [case] = await desk(app).list_cases()
    [document] = (await desk(app).get_case(case.case_id)).documents
    assert document.size == len(big)
    huge = PDF + bytes(10 * 1024 * 1024)
    refused = await take_in(rita.http, rita.csrf, [("huge.pdf", huge, "application/pdf")])
    assert refused.status_code == 400
    assert "huge.pdf is over 10 MB" in refused.text
    assert len(await desk(app).list_cases()) == 1
