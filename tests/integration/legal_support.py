"""Helpers for the lawful-request desk's tests: operators for each part, members with a
conversation, an encrypted message, an uploaded blob and a ledger entry, requests to take in,
documents, and reading packages."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from courtyard.domains.legal import Intake, LegalDesk, Review, Upload, verify_signature
from tests.conftest import PASSWORD, bearer, register
from tests.integration.conversation_support import create, send
from tests.integration.wallet_support import fund

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
BLOB = bytes(range(256)) * 4  # an "encrypted attachment": bytes the server cannot read
STATEMENT = (
    "Courtyard is end-to-end encrypted. The operator holds no keys that can decrypt this "
    "content; it is provided exactly as stored.\n"
)


def desk(app: FastAPI) -> LegalDesk:
    found: LegalDesk = app.state.runtime.legal
    return found


async def add_operator(app: FastAPI, username: str, *roles: str) -> str:
    operator = await app.state.runtime.operators.do_create_operator(username, PASSWORD, list(roles))
    operator_id: str = operator.operator_id
    return operator_id


@dataclass
class Staff:
    """Operator ids: a reviewer, two approvers, and one who holds both roles."""

    reviewer: str
    approver: str
    second_approver: str
    both: str


async def make_staff(app: FastAPI) -> Staff:
    return Staff(
        await add_operator(app, "rita", "legal_reviewer"),
        await add_operator(app, "axel", "legal_approver"),
        await add_operator(app, "anna", "legal_approver"),
        await add_operator(app, "bea", "legal_reviewer", "legal_approver"),
    )


@dataclass
class Members:
    """alice and bob (DE) in a direct conversation (a message each way), jean (FR); alice
    uploaded ``BLOB`` and has a funded wallet."""

    alice: dict[str, str]
    bob: dict[str, str]
    jean: dict[str, str]
    conversation_id: str
    media_id: str
    sent: list[int] = field(default_factory=list)


async def make_members(app: FastAPI, http: httpx.AsyncClient) -> Members:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    jean = await register(http, "jean", region="FR")
    made = await create(http, alice, "direct", [bob])
    assert made.status_code in (200, 201), made.text
    conversation_id = made.json()["conversation_id"]
    seqs = []
    for sender, words in ((alice, "meet at noon"), (bob, "ok")):
        sent = await send(http, sender, conversation_id, words)
        assert sent.status_code in (200, 201), sent.text
        seqs.append(sent.json()["seq"])
    uploaded = await http.post(
        "/v1/media", content=BLOB,
        headers={"Content-Type": "application/octet-stream", **bearer(alice)},
    )  # fmt: skip
    assert uploaded.status_code == 201, uploaded.text
    await fund(app, alice["user_id"], 50_00)
    return Members(alice, bob, jean, conversation_id, uploaded.json()["media_id"], seqs)


def served(**changes: Any) -> Intake:
    """A court order from Germany for alice's subscriber data and connection logs in
    December and January, with no non-disclosure order; ``changes`` override."""
    import datetime as dt

    base: dict[str, Any] = {
        "authority": "Landeskriminalamt Berlin",
        "country": "DE",
        "process_type": "court_order",
        "targets": ("alice",),
        "categories": ("subscriber", "connection_logs"),
        "authority_reference": "LKA-2026-117",
        "date_from": dt.date(2025, 12, 1),
        "date_to": dt.date(2026, 1, 31),
    }
    return Intake(**{**base, **changes})


ORDER = Upload("court-order.pdf", PDF)
ACCEPT = Review("accept")


async def produced(app: FastAPI, staff: Staff, intake: Intake) -> str:
    """Take ``intake`` in, accept, approve and package it; returns the case id."""
    legal = desk(app)
    case = await legal.do_intake(intake, [ORDER], operator_id=staff.reviewer)
    await legal.do_review(case.case_id, ACCEPT, operator_id=staff.reviewer)
    await legal.do_approve(case.case_id, operator_id=staff.approver)
    await legal.do_package(case.case_id, operator_id=staff.approver)
    return case.case_id


@dataclass
class Opened:
    """A package's files by name, its parsed manifest and category files."""

    files: dict[str, bytes]
    manifest: dict[str, Any]

    def json(self, name: str) -> Any:
        return json.loads(self.files[name])


def open_package(archive: bytes) -> Opened:
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        files = {name: zipped.read(name) for name in zipped.namelist()}
    return Opened(files, json.loads(files["manifest.json"]))


async def published_key(http: httpx.AsyncClient) -> tuple[str, bytes]:
    """The key id and raw public key ``GET /v1/legal/keys`` publishes."""
    answer = await http.get("/v1/legal/keys")
    assert answer.status_code == 200, answer.text
    [key] = answer.json()["keys"]
    raw = base64.urlsafe_b64decode(key["public_key"] + "=" * (-len(key["public_key"]) % 4))
    return key["key_id"], raw


def signature_holds(opened: Opened, public_key: bytes) -> bool:
    return verify_signature(public_key, opened.files["manifest.json"], opened.files["manifest.sig"])


async def sql(app: FastAPI, statement: str, **params: Any) -> list[dict[str, Any]]:
    async with app.state.runtime.db.read() as session:
        rows = await session.execute(text(statement), params)
        return [dict(row._mapping) for row in rows]


@dataclass
class DeskPages:
    """A produced case (targets: alice) with its served document and its package, for the
    console's page-by-role matrix."""

    case_id: str
    document_id: str
    package_id: str

    def pages(self) -> dict[str, str]:
        """The desk's GET pages: name → path."""
        case = f"/admin/legal/cases/{self.case_id}"
        return {
            "legal cases": "/admin/legal/cases?status=produced",
            "legal intake": "/admin/legal/intake",
            "legal rules": "/admin/legal/rules",
            "legal case": case,
            "legal document": f"{case}/documents/{self.document_id}",
            "legal package": f"{case}/packages/{self.package_id}",
        }


async def make_desk_pages(app: FastAPI) -> DeskPages:
    """Produce a case through the desk, as a reviewer and an approver (ids only) would."""
    legal = desk(app)
    case = await legal.do_intake(served(), [ORDER], operator_id="matrix-reviewer")
    await legal.do_review(case.case_id, ACCEPT, operator_id="matrix-reviewer")
    await legal.do_approve(case.case_id, operator_id="matrix-approver")
    done = await legal.do_package(case.case_id, operator_id="matrix-approver")
    return DeskPages(case.case_id, done.documents[0].document_id, done.packages[0].package_id)
