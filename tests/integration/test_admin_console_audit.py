"""The console's audit-log page (admin): entries with filters, the latest signed head, and a
verification on demand that shows what it found and is itself recorded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from courtyard.domains.audit import AuditEntry, append_audit_entry
from tests.integration.admin_support import OperatorFactory, actions, operator_factory
from tests.integration.audit_support import tampering

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
PAGE = "/admin/actions"


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)">', html)


async def record(app: FastAPI, action: str, target: str, subject: str | None = None) -> None:
    runtime = app.state.runtime
    async with runtime.db.transaction() as tx:
        await append_audit_entry(
            tx, runtime.clock, actor="system", action=action, target=target,
            subject_user_id=subject,
        )  # fmt: skip


async def test_admins_see_the_log_filtered_and_the_latest_signed_head(
    app: FastAPI, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    await record(app, "privacy.erasure.run", "user:u-alice", "u-alice")
    await record(app, "legal.case.open", "case:c-1")
    before = await olga.http.get(PAGE)
    assert 'id="no-head"' in before.text
    head = await app.state.runtime.audit.sign_tree_head()

    page = await olga.http.get(PAGE)
    family = await olga.http.get(PAGE, params={"action": "legal."})
    about = await olga.http.get(PAGE, params={"user": "u-alice"})

    assert page.status_code == 200
    assert "<h1>Audit log</h1>" in page.text
    assert f'<dd id="head-size">{head.tree_size}</dd>' in page.text
    assert head.root_hash.hex() in page.text
    assert rows(page.text)[:2] == ["legal.case.open", "privacy.erasure.run"]
    assert rows(family.text) == ["legal.case.open"]
    assert rows(about.text) == ["privacy.erasure.run"]
    [looked] = await actions(app, target="user:u-alice")
    assert (looked.operator, looked.action) == ("olga", "audit.log.view")


async def test_verify_now_shows_an_intact_log_and_is_recorded(
    app: FastAPI, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")
    await app.state.runtime.audit.sign_tree_head()

    answer = await olga.post(f"{PAGE}/verify")

    assert answer.status_code == 200, answer.text
    assert 'id="verify-report" data-ok="True"' in answer.text
    assert ">intact<" in answer.text
    [run] = await actions(app, target="audit_log")
    assert (run.operator, run.action, run.note) == ("olga", "audit.verify", "intact")


async def test_verify_now_shows_each_finding(app: FastAPI, operators: OperatorFactory) -> None:
    olga = await operators("olga", "admin")
    await record(app, "wallet.user.view", "user:u-bob", "u-bob")
    async with tampering(app.state.runtime.db) as session:
        await session.execute(update(AuditEntry).where(AuditEntry.seq == 0).values(note="x"))

    answer = await olga.post(f"{PAGE}/verify")

    assert 'data-ok="False"' in answer.text
    assert '<tr data-kind="edited_entry">' in answer.text
    [run] = await actions(app, target="audit_log")
    assert run.note == "1 finding(s)"


@pytest.mark.parametrize("role", ["finance", "support", "legal_reviewer", "legal_approver"])
async def test_only_admins_may_read_or_verify_the_log(
    app: FastAPI, operators: OperatorFactory, role: str
) -> None:
    someone = await operators(f"op-{role}", role)

    assert (await someone.http.get(PAGE)).status_code == 403
    assert (await someone.post(f"{PAGE}/verify")).status_code == 403
    assert 'href="/admin/actions"' not in (await someone.http.get("/admin/")).text
    assert await actions(app, target="audit_log") == []


async def test_verify_now_needs_the_sessions_csrf_token(
    app: FastAPI, operators: OperatorFactory
) -> None:
    olga = await operators("olga", "admin")

    refused = await olga.http.post(f"{PAGE}/verify", data={"csrf_token": "x" * 43})

    assert refused.status_code == 403
    assert await actions(app, target="audit_log") == []
    assert ">Audit log</a>" in (await olga.http.get("/admin/")).text
