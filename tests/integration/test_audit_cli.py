"""``courtyard audit verify|head|log`` against the test database: exit 0 for an intact log and
1 with the findings for a tampered one, a state file that catches what the database alone
hides, the server's published head compared, and ``log`` for admins only."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner, Result

from courtyard.cli.main import app
from courtyard.domains.audit import AuditEntry, AuditLogHead, AuditTreeHead, SignedHead
from tests.integration.audit_support import Audit, make_audit, tampering
from tests.integration.operator_cli_support import add_operator, operator_env

runner = CliRunner()
SIZE = 9


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def with_audit(database_url: str, data_dir: Path, work: Callable[[Audit], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        async with make_audit(database_url, data_dir) as audit:
            return await work(audit)

    return asyncio.run(run())


@pytest.fixture
def head(database_url: str, data_dir: Path) -> SignedHead:
    """A log of ``SIZE`` entries with a head signed over them."""

    async def build(audit: Audit) -> SignedHead:
        await audit.append(SIZE)
        signed = await audit.log.sign_tree_head()
        assert signed is not None
        return signed

    result: SignedHead = with_audit(database_url, data_dir, build)
    return result


def audit_cli(database_url: str, data_dir: Path, *args: str, **env: str) -> Result:
    return runner.invoke(
        app, ["audit", *args, "--db", database_url, "--data-dir", str(data_dir)], env=env
    )


def test_an_intact_log_exits_0_and_remembers_its_head(
    database_url: str, data_dir: Path, head: SignedHead
) -> None:
    result = audit_cli(database_url, data_dir, "verify", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["ok"], report["size"], report["findings"]) == (True, SIZE, [])
    assert report["latest"] == head.as_json()
    state = json.loads((data_dir / "audit-verify-state.json").read_text())
    assert state["head"] == head.as_json()
    assert list(state["keys"]) == [head.key_id]
    plain = audit_cli(database_url, data_dir, "verify")
    assert plain.exit_code == 0
    assert f"intact: {SIZE} entries, 1 signed heads" in plain.stdout


def test_a_tampered_log_exits_1_with_a_findings_table(
    database_url: str, data_dir: Path, head: SignedHead
) -> None:
    async def edit(audit: Audit) -> None:
        async with tampering(audit.db) as session:
            await session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(note="x"))

    with_audit(database_url, data_dir, edit)

    result = audit_cli(database_url, data_dir, "verify")

    assert result.exit_code == 1, result.output
    assert "1 finding(s)" in result.stdout
    assert "edited_entry" in result.stdout
    assert not (data_dir / "audit-verify-state.json").exists()  # only clean runs are kept


def test_the_state_file_catches_a_cut_the_database_alone_hides(
    database_url: str, data_dir: Path, head: SignedHead
) -> None:
    assert audit_cli(database_url, data_dir, "verify").exit_code == 0

    async def cut(audit: Audit) -> None:
        async with tampering(audit.db) as session:
            await session.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
            await session.execute(delete(AuditTreeHead))
            await session.execute(update(AuditLogHead).values(size=4))

    with_audit(database_url, data_dir, cut)
    elsewhere = data_dir.parent / "fresh-state.json"
    fresh = audit_cli(database_url, data_dir, "verify", "--state", str(elsewhere))
    assert fresh.exit_code == 0, fresh.output  # no memory: nothing to contradict

    result = audit_cli(database_url, data_dir, "verify", "--json")

    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["findings"]
    assert [(f["kind"], f["seq"]) for f in findings] == [("truncated", 4)]


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stand-in for a server's public audit routes: the test sets what they answer."""
    answers: dict[str, Any] = {}

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "audit.example"
        if request.url.path == "/v1/audit/keys":
            return httpx.Response(200, json=answers["keys"])
        if answers.get("head") is None:
            return httpx.Response(404, json={"code": "no_tree_head"})
        return httpx.Response(200, json=answers["head"])

    client = functools.partial(httpx.Client, transport=httpx.MockTransport(handle))
    monkeypatch.setattr(httpx, "Client", client)
    return answers


def test_the_servers_published_head_is_compared_with_the_database(
    database_url: str, data_dir: Path, head: SignedHead, served: dict[str, Any]
) -> None:
    keys = with_audit(database_url, data_dir, lambda audit: _keys(audit))
    served.update(keys={"keys": keys}, head=head.as_json())
    server = ("--server", "http://audit.example")

    agreeing = audit_cli(database_url, data_dir, "verify", *server)
    assert agreeing.exit_code == 0, agreeing.output

    forked = with_audit(database_url, data_dir, lambda audit: _signed(audit, SIZE, bytes(32), head))
    served["head"] = forked.as_json()
    result = audit_cli(database_url, data_dir, "verify", *server, "--json")
    assert result.exit_code == 1, result.output
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["kind"], finding["seq"]) == ("inconsistent_heads", SIZE)
    assert "published head" in finding["message"]


async def _keys(audit: Audit) -> list[dict[str, str]]:
    return audit.log.published_keys()


async def _signed(audit: Audit, size: int, root: bytes, like: SignedHead) -> SignedHead:
    return audit.log.keyring.sign(size, root, like.signed_at)


def test_head_prints_the_latest_signed_head(
    database_url: str, data_dir: Path, head: SignedHead
) -> None:
    result = audit_cli(database_url, data_dir, "head", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == head.as_json()
    assert f"tree_size: {SIZE}" in audit_cli(database_url, data_dir, "head").stdout


def test_head_before_any_signature_says_so(database_url: str, data_dir: Path) -> None:
    result = audit_cli(database_url, data_dir, "head")

    assert result.exit_code == 2
    assert "no tree head has been signed yet" in result.output


def test_log_lists_entries_for_admins_and_records_a_look_at_one_user(
    database_url: str, data_dir: Path, head: SignedHead
) -> None:
    asyncio.run(add_operator(database_url, "ada", "admin"))
    asyncio.run(add_operator(database_url, "sam", "support"))

    refused = audit_cli(database_url, data_dir, "log", **operator_env("sam"))
    assert refused.exit_code == 3, refused.output

    listed = audit_cli(
        database_url, data_dir, "log", "--limit", "3", "--json", **operator_env("ada")
    )
    assert listed.exit_code == 0, listed.output
    assert [e["seq"] for e in json.loads(listed.stdout)] == [SIZE - 1, SIZE - 2, SIZE - 3]

    alice = audit_cli(
        database_url, data_dir, "log", "--user", "u-alice", "--json", **operator_env("ada")
    )
    assert alice.exit_code == 0, alice.output
    entries = json.loads(alice.stdout)
    assert entries
    assert {e["subject_user_id"] for e in entries} == {"u-alice"}
    latest = audit_cli(
        database_url, data_dir, "log", "--limit", "1", "--json", **operator_env("ada")
    )
    [looked] = json.loads(latest.stdout)
    assert (looked["operator"], looked["action"], looked["target"]) == (
        "ada", "audit.log.view", "user:u-alice",
    )  # fmt: skip
