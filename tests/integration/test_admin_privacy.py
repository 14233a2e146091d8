"""Legal holds and the retention purge for operators, on SQLite and PostgreSQL: the console's
holds page (place by username, release with a reason, roles, CSRF) and ``courtyard admin
privacy hold place|release``, ``holds`` and ``purge [--dry-run]``; every change an audit
entry naming the operator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from tests.conftest import register
from tests.integration.admin_support import OperatorFactory, operator_factory
from tests.integration.operator_cli_support import add_operator, operator_env

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
HOLDS = "/admin/privacy/holds"


@pytest.fixture
async def operators(app: FastAPI) -> AsyncIterator[OperatorFactory]:
    async for make in operator_factory(app):
        yield make


async def audit(app: FastAPI, prefix: str) -> list[tuple[Any, ...]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.execute(
            text(
                "SELECT action, actor, subject_user_id, note FROM audit_log "
                "WHERE action LIKE :p ORDER BY seq"
            ),
            {"p": prefix + "%"},
        )
        return [tuple(row) for row in rows]


async def operator_id(app: FastAPI, username: str) -> str:
    async with app.state.runtime.db.read() as session:
        found = await session.scalar(
            text("SELECT operator_id FROM operators WHERE username = :u"), {"u": username}
        )
    assert isinstance(found, str)
    return found


async def test_the_console_places_and_releases_holds_with_reasons(
    app: FastAPI, client: httpx.AsyncClient, operators: OperatorFactory
) -> None:
    alice = await register(client, "alice")
    rita = await operators("rita", "legal_reviewer")
    actor = f"operator:{await operator_id(app, 'rita')}"
    empty = await rita.http.get(HOLDS)
    assert 'id="no-holds"' in empty.text

    for form, status, message in (
        ({"username": "nobody", "reason": "x"}, 404, "No such user"),
        ({"username": "alice", "reason": " "}, 400, "Give a reason"),
    ):
        refused = await rita.post(HOLDS, **form)
        assert refused.status_code == status, refused.text
        assert message in refused.text
    placed = await rita.post(HOLDS, username="alice", reason="Acme v. Alice")
    assert (placed.status_code, placed.headers["location"]) == (303, HOLDS)
    page = await rita.http.get(HOLDS)
    [hold_id] = re.findall(r'data-hold-id="([^"]+)"', page.text)
    assert "Acme v. Alice" in page.text

    no_reason = await rita.post(f"{HOLDS}/{hold_id}/release", reason="")
    assert no_reason.status_code == 400
    released = await rita.post(f"{HOLDS}/{hold_id}/release", reason="settled")
    assert released.status_code == 303
    assert "released" in (await rita.http.get(released.headers["location"])).text
    gone = await rita.post(f"{HOLDS}/{hold_id}/release", reason="again")
    assert gone.status_code == 404
    assert await audit(app, "privacy.hold.") == [
        ("privacy.hold.place", actor, alice["user_id"], "Acme v. Alice"),
        ("privacy.hold.release", actor, alice["user_id"], "settled"),
    ]

    sue = await operators("sue", "support")
    assert (await sue.http.get(HOLDS)).status_code == 403
    assert (await sue.post(HOLDS, username="alice", reason="no")).status_code == 403
    forged = await rita.http.post(HOLDS, data={"username": "alice", "reason": "no token"})
    assert forged.status_code == 403
    assert len(await audit(app, "privacy.hold.")) == 2


async def admin(database_url: str, *args: str, operator: str = "lara") -> Result:
    def invoke() -> Result:
        return CliRunner().invoke(
            cli, ["admin", "privacy", *args, "--db", database_url], env=operator_env(operator)
        )

    return await asyncio.to_thread(invoke)


async def test_the_cli_places_lists_and_releases_holds_and_purges(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    await add_operator(database_url, "lara", "legal_approver")
    await add_operator(database_url, "adam", "admin")
    alice = await register(client, "alice")
    placed = await admin(database_url, "hold", "place", "alice", "--reason", "preserve for court")
    assert placed.exit_code == 0, placed.output
    hold_id = re.search(r"hold ([0-9a-f-]{36}) placed on alice", placed.output)
    assert hold_id, placed.output
    listed = await admin(database_url, "holds")
    assert hold_id.group(1) in listed.output
    assert "preserve for court" in listed.output
    unknown = await admin(database_url, "hold", "place", "nobody", "--reason", "x")
    assert (unknown.exit_code, "user_not_found" in unknown.output) == (1, True)

    # A failed login counts against alice (held) and the address (no one's); the command's
    # clock is the real one, so both are past the throttle window already.
    wrong = await client.post("/v1/sessions", json={"username": "alice", "password": "no"})
    assert wrong.status_code == 401
    dry = await admin(database_url, "purge", "--dry-run", operator="adam")
    assert dry.exit_code == 0, dry.output
    assert re.search(r"login_failures +would delete 1\n", dry.output), dry.output
    assert "users under a legal hold, skipped: 1" in dry.output
    assert await audit(app, "privacy.retention.") == []  # a dry run records nothing

    released = await admin(database_url, "hold", "release", hold_id.group(1), "--reason", "done")
    assert released.exit_code == 0, released.output
    assert f"hold {hold_id.group(1)} released" in released.output
    assert "no active holds" in (await admin(database_url, "holds")).output
    purge_refused = await admin(database_url, "purge")  # lara is legal, not admin
    assert purge_refused.exit_code == 3
    purged = await admin(database_url, "purge", operator="adam")
    assert purged.exit_code == 0, purged.output
    assert re.search(r"login_failures +deleted 2\n", purged.output), purged.output
    assert "users under a legal hold, skipped: 0" in purged.output
    [(action, actor, subject, _note)] = await audit(app, "privacy.retention.")
    assert (action, actor, subject) == (
        "privacy.retention.purge",
        f"operator:{await operator_id(app, 'adam')}",
        None,
    )
    assert alice["user_id"] not in str(await audit(app, "privacy.retention."))
