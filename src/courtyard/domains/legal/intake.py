"""Intake: checking what an authority served and writing the case, its targets and its
documents (docs/legal-desk.md, "Intake")."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import new_id
from courtyard.core.regions import is_country_code
from courtyard.db import Tx
from courtyard.domains.accounts import find_accounts
from courtyard.domains.jobs import schedule
from courtyard.domains.legal.errors import (
    DocumentTooLarge,
    InvalidDocument,
    ReasonsRequired,
    TooManyDocuments,
)
from courtyard.domains.legal.models import LegalCase, LegalCaseDocument, LegalCaseTarget
from courtyard.domains.legal.rules import CATEGORIES, PROCESS_TYPES
from courtyard.domains.legal.store import NOTICE_JOB, next_reference

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MAX_DOCUMENTS = 10
MAX_TARGETS = 100
# What a console intake may send: every document at its largest, and the form around them.
MAX_INTAKE_BYTES = MAX_DOCUMENTS * MAX_DOCUMENT_BYTES + 1024 * 1024
GAG_KINDS = ("none", "until", "indefinite")
NOT_FOUND_REASON = "not found"
# First bytes → media type: a document is what it is, whatever its name says.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass(frozen=True, slots=True)
class Intake:
    """A request as served: ``gag`` is ``none``, ``until`` (with ``gag_until``) or
    ``indefinite``; ``targets`` are usernames or user ids as the authority wrote them."""

    authority: str
    country: str
    process_type: str
    targets: tuple[str, ...]
    categories: tuple[str, ...]
    authority_reference: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    gag: str = "none"
    gag_until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    """A document as uploaded: its name (any path is dropped) and its bytes."""

    filename: str
    content: bytes


def clean_text(text: str, what: str, limit: int, *, required: bool) -> str:
    text = text.strip()
    if required and not text:
        raise InvalidInput(f"{what} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{what} is at most {limit} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        raise InvalidInput(f"{what} must not contain control characters")
    return text


def required_reason(text: str, message: str) -> str:
    """The trimmed reason; ``ReasonsRequired`` with ``message`` if there is none."""
    cleaned = clean_text(text, "The reason", 500, required=False)
    if not cleaned:
        raise ReasonsRequired(message)
    return cleaned


def check_targets(targets: tuple[str, ...]) -> list[str]:
    """The identifiers, trimmed, each once, in the order given."""
    seen: dict[str, str] = {}
    for raw in targets:
        identifier = clean_text(raw, "A target", 64, required=False)
        if identifier:
            seen.setdefault(identifier.lower(), identifier)
    if not seen:
        raise InvalidInput("Name at least one target (a username or a user id)")
    if len(seen) > MAX_TARGETS:
        raise InvalidInput(f"A case names at most {MAX_TARGETS} targets")
    return list(seen.values())


def check_intake(intake: Intake, now: dt.datetime) -> dict[str, Any]:
    """The case's columns from ``intake``, or ``InvalidInput`` naming what is wrong."""
    country = intake.country.strip().upper()
    if not is_country_code(country):
        raise InvalidInput("The country is an ISO 3166-1 alpha-2 code, e.g. DE")
    if intake.process_type not in PROCESS_TYPES:
        raise InvalidInput(f"The process type is one of {', '.join(PROCESS_TYPES)}")
    categories = [c for c in CATEGORIES if c in set(intake.categories)]
    if not categories or len(set(intake.categories)) != len(categories):
        raise InvalidInput(f"Ask for one or more of {', '.join(CATEGORIES)}")
    if intake.date_from and intake.date_to and intake.date_from > intake.date_to:
        raise InvalidInput("The date range ends before it starts")
    if intake.gag not in GAG_KINDS:
        raise InvalidInput("The non-disclosure order is none, until a date, or indefinite")
    gag_until = None
    if intake.gag == "until":
        if intake.gag_until is None:
            raise InvalidInput("Give the date the non-disclosure order ends")
        gag_until = dt.datetime.combine(intake.gag_until, dt.time(), dt.UTC)
        if gag_until <= now:
            raise InvalidInput("The non-disclosure order's end must be in the future")
    return {
        "authority": clean_text(intake.authority, "The authority", 200, required=True),
        "country": country,
        "process_type": intake.process_type,
        "authority_reference": clean_text(
            intake.authority_reference, "The authority's reference", 120, required=False
        )
        or None,
        "date_from": intake.date_from,
        "date_to": intake.date_to,
        "categories": categories,
        "gag": intake.gag != "none",
        "gag_until": gag_until,
    }


def sniff(upload: Upload) -> str:
    """The document's media type from its first bytes; ``InvalidDocument`` if it is not a
    PDF or an image we take."""
    head = upload.content[:16]
    for signature, media_type in SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidDocument(f"{upload.filename or 'A document'} is not a PDF or an image")


def document_name(filename: str) -> str:
    """The file's own name (no directories), without control characters, ≤ 200 chars."""
    name = PurePosixPath(PureWindowsPath(filename).name).name
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf")).strip()
    return name[-200:] or "document"


def check_uploads(uploads: list[Upload]) -> list[tuple[Upload, str]]:
    if len(uploads) > MAX_DOCUMENTS:
        raise TooManyDocuments()
    checked = []
    for upload in uploads:
        if len(upload.content) > MAX_DOCUMENT_BYTES:
            raise DocumentTooLarge(f"{document_name(upload.filename)} is over 10 MB")
        checked.append((upload, sniff(upload)))
    return checked


async def write_case(
    tx: Tx, clock: Clock, intake: Intake, uploads: list[Upload], *, operator_id: str
) -> tuple[LegalCase, list[LegalCaseTarget], list[LegalCaseDocument]]:
    """Insert the case, its targets and documents (and the notice job of a dated order)."""
    now = clock.now()
    columns = check_intake(intake, now)
    identifiers = check_targets(intake.targets)
    documents = check_uploads(uploads)
    case = LegalCase(
        case_id=new_id(),
        reference=await next_reference(tx.session, now),
        received_at=now,
        status="received",
        created_by=operator_id,
        **columns,
    )
    tx.session.add(case)
    accounts = await find_accounts(tx.session, identifiers)
    targets = []
    for no, identifier in enumerate(identifiers, start=1):
        found = accounts.get(identifier)
        targets.append(
            LegalCaseTarget(
                case_id=case.case_id,
                target_no=no,
                identifier=identifier,
                user_id=found.user_id if found else None,
                user_region=found.region if found else None,
                decision="pending" if found else "excluded",
                decision_reason=None if found else NOT_FOUND_REASON,
            )
        )
    rows = [
        LegalCaseDocument(
            case_id=case.case_id,
            document_id=new_id(),
            filename=document_name(u.filename),
            media_type=media_type,
            sha256=hashlib.sha256(u.content).hexdigest(),
            size=len(u.content),
            content=u.content,
            added_at=now,
            added_by=operator_id,
        )
        for u, media_type in documents
    ]
    tx.session.add_all([*targets, *rows])
    await tx.session.flush()
    if case.gag_until is not None:
        await schedule(tx, NOTICE_JOB, case.case_id, case.gag_until, now=now)
    return case, targets, rows
