"""``courtyard admin legal …``: a case from intake to a package on disk and closing, from the
host's shell, each command as an operator with the desk's roles (who may run each command is
checked for every role by test_admin_cli_roles.py)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from courtyard.cli.main import app as cli
from tests.conftest import PASSWORD
from tests.integration.legal_support import (
    PDF,
    Members,
    add_operator,
    desk,
    make_members,
    open_package,
    published_key,
    signature_holds,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


async def legal(where: dict[str, str], operator: str, *args: str) -> Result:
    env = {**where, "COURTYARD_OPERATOR": operator, "COURTYARD_OPERATOR_PASSWORD": PASSWORD}

    def invoke() -> Result:
        return CliRunner().invoke(cli, ["admin", "legal", *args], env=env)

    return await asyncio.to_thread(invoke)


def reference_in(output: str) -> str:
    found = re.search(r"LR-\d{4}-\d{4}", output)
    assert found is not None, output
    return found.group(0)


@pytest.fixture
def where(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The app's database and data directory (so the CLI signs with the server's key)."""
    return {"COURTYARD_DATABASE_URL": database_url, "COURTYARD_DATA_DIR": str(tmp_path)}


@pytest.fixture
async def members(app: FastAPI, client: httpx.AsyncClient) -> Members:
    return await make_members(app, client)


async def test_a_case_from_intake_to_a_package_on_disk_from_the_shell(
    app: FastAPI, client: httpx.AsyncClient, members: Members, where: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    await add_operator(app, "rita", "legal_reviewer")
    await add_operator(app, "axel", "legal_approver")
    await add_operator(app, "olga", "admin")
    order = tmp_path / "order.pdf"
    order.write_bytes(PDF)
    taken = await legal(
        where, "rita", "intake", "--authority", "Landeskriminalamt Berlin", "--country", "DE",
        "--process", "court_order", "--target", "alice", "--target", "ghost",
        "--category", "subscriber", "--category", "connection_logs", "--reference", "LKA-117",
        "--from", "2026-01-01", "--to", "2026-12-31", "--document", str(order),
    )  # fmt: skip
    assert taken.exit_code == 0, taken.output
    ref = reference_in(taken.output)  # the CLI runs on the host's clock: this year's number
    assert f"{ref}  received" in taken.output
    assert "target 2 ghost: excluded (not found); not_found" in taken.output
    listed = await legal(where, "olga", "list", "--status", "received")
    assert listed.exit_code == 0, listed.output
    assert f"{ref}  received" in listed.output
    shown = await legal(where, "olga", "show", ref, "--json")
    assert shown.exit_code == 0, shown.output
    case = json.loads(shown.output)
    assert case["summary"]["reference"] == ref
    assert [t["advice"]["code"] for t in case["targets"]] == ["allowed", "not_found"]

    assert (await legal(where, "axel", "review", ref, "--outcome", "accept")).exit_code == 3
    narrowed = await legal(
        where, "rita", "review", ref, "--outcome", "narrow",
        "--reason", "Connection logs are not named in the order", "--category", "subscriber",
    )  # fmt: skip
    assert narrowed.exit_code == 0, narrowed.output
    assert "review: narrowed by rita" in narrowed.output
    assert (await legal(where, "rita", "approve", ref)).exit_code == 3
    approved = await legal(where, "axel", "approve", ref, "--note", "Checked")
    assert approved.exit_code == 0, approved.output
    assert "approved by axel" in approved.output

    out = tmp_path / "package.zip"
    packaged = await legal(where, "axel", "package", ref, "--out", str(out))
    assert packaged.exit_code == 0, packaged.output
    opened = open_package(out.read_bytes())
    assert set(opened.files) == {"manifest.json", "manifest.sig", "STATEMENT.txt",
                                 "subscriber.json"}  # fmt: skip
    _, public_key = await published_key(client)
    assert signature_holds(opened, public_key)  # the CLI signed with the server's key
    again = tmp_path / "again.zip"
    assert (await legal(where, "axel", "package", case["summary"]["case_id"], "--out",
                        str(again))).exit_code == 0  # fmt: skip
    assert again.read_bytes() == out.read_bytes()  # the package it has, not a new one

    notified = await legal(where, "rita", "notify", ref)
    assert notified.exit_code == 0, notified.output
    assert "notified" in notified.output
    closed = await legal(where, "rita", "close", ref, "--reason", "Done")
    assert closed.exit_code == 0, closed.output
    assert f"{ref}  closed" in closed.output
    view = await desk(app).get_case(ref)
    assert [e.kind for e in view.events] == [
        "intake", "review", "approval", "package", "notice_sent", "package_download",
        "package_download", "closed",
    ]  # fmt: skip
    rules = await legal(where, "olga", "rules")
    assert rules.exit_code == 0, rules.output
    assert json.loads(rules.output)["production"]["content"] == [
        "search_warrant", "mutual_legal_assistance",
    ]  # fmt: skip


async def test_refusals_are_one_line_and_exit_1(
    app: FastAPI, members: Members, where: dict[str, str]
) -> None:
    await add_operator(app, "rita", "legal_reviewer")
    missing = await legal(where, "rita", "show", "LR-2026-0042")
    assert missing.exit_code == 1
    assert "case_not_found" in missing.output
    bad = await legal(
        where, "rita", "intake", "--authority", "A", "--country", "DE", "--process", "letter",
        "--target", "alice", "--category", "subscriber",
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "invalid_input" in bad.output
    gagged = await legal(
        where, "rita", "intake", "--authority", "A", "--country", "DE", "--process", "subpoena",
        "--target", "alice", "--category", "subscriber", "--gag", "indefinite",
    )  # fmt: skip
    assert gagged.exit_code == 0, gagged.output
    ref = reference_in(gagged.output)
    lift = await legal(where, "rita", "lift-gag", ref, "--reason", " ")
    assert lift.exit_code == 1
    assert "reasons_required" in lift.output
    exclude = await legal(where, "rita", "review", ref, "--outcome", "narrow",
                          "--reason", "r", "--exclude", "one")  # fmt: skip
    assert exclude.exit_code == 1
    assert "NUMBER:REASON" in exclude.output
