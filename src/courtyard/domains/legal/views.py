"""What the console and the CLI see of cases: plain dataclasses, never the models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from courtyard.domains.legal.models import (
    LegalCase,
    LegalCaseDocument,
    LegalCaseEvent,
    LegalCaseTarget,
)
from courtyard.domains.legal.rules import Advice, Evaluation


def gag_label(case: LegalCase) -> str:
    """``none``, ``until 2026-03-01`` or ``indefinite``."""
    if not case.gag:
        return "none"
    if case.gag_until is None:
        return "indefinite"
    return f"until {case.gag_until.date().isoformat()}"


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case_id: str
    reference: str
    authority: str
    country: str
    process_type: str
    status: str
    received_at: dt.datetime
    gag: str

    @classmethod
    def of(cls, case: LegalCase) -> CaseSummary:
        return cls(
            case.case_id,
            case.reference,
            case.authority,
            case.country,
            case.process_type,
            case.status,
            case.received_at,
            gag_label(case),
        )


@dataclass(frozen=True, slots=True)
class TargetView:
    target_no: int
    identifier: str
    user_id: str | None
    user_region: str | None
    decision: str
    decision_reason: str | None
    advice: Advice | None
    hold_id: str | None  # this case's active hold on the target, if any
    notice_due_at: dt.datetime | None
    notified_at: dt.datetime | None

    @classmethod
    def of(cls, row: LegalCaseTarget, advice: Advice | None, hold_id: str | None) -> TargetView:
        return cls(
            row.target_no,
            row.identifier,
            row.user_id,
            row.user_region,
            row.decision,
            row.decision_reason,
            advice,
            hold_id,
            row.notice_due_at,
            row.notified_at,
        )


@dataclass(frozen=True, slots=True)
class DocumentView:
    document_id: str
    filename: str
    media_type: str
    sha256: str
    size: int
    added_at: dt.datetime
    added_by: str

    @classmethod
    def of(cls, row: LegalCaseDocument, names: dict[str, str]) -> DocumentView:
        return cls(
            row.document_id,
            row.filename,
            row.media_type,
            row.sha256,
            row.size,
            row.added_at,
            names.get(row.added_by, row.added_by),
        )


@dataclass(frozen=True, slots=True)
class EventView:
    event_no: int
    at: dt.datetime
    actor: str  # the operator's username, or "system"
    kind: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: LegalCaseEvent, names: dict[str, str]) -> EventView:
        actor = row.actor.removeprefix("operator:")
        return cls(row.event_no, row.at, names.get(actor, row.actor), row.kind, row.detail)

    def lines(self) -> list[tuple[str, str]]:
        """The detail as ``(key, text)`` lines: lists joined, mappings as ``k: v``, empty
        values left out."""
        return [(key, _text(value)) for key, value in self.detail.items() if value not in
                (None, "", [], {})]  # fmt: skip


def _text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


@dataclass(frozen=True, slots=True)
class PackageView:
    package_id: str
    filename: str
    created_at: dt.datetime
    created_by: str
    categories: list[str]
    sha256: str
    key_id: str
    size: int


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case with everything its page shows."""

    summary: CaseSummary
    authority_reference: str | None
    date_from: dt.date | None
    date_to: dt.date | None
    categories: list[str]
    gag_until: dt.datetime | None
    created_by: str
    reviewer: str | None
    reviewer_id: str | None
    reviewed_at: dt.datetime | None
    review_outcome: str | None
    review_reasons: str | None
    approved_categories: list[str] | None
    approved_from: dt.date | None
    approved_to: dt.date | None
    approver: str | None
    approved_at: dt.datetime | None
    produced_at: dt.datetime | None
    closed_at: dt.datetime | None
    evaluation: Evaluation
    targets: list[TargetView]
    documents: list[DocumentView]
    events: list[EventView]
    packages: list[PackageView]

    @property
    def case_id(self) -> str:
        return self.summary.case_id

    @property
    def reference(self) -> str:
        return self.summary.reference

    @property
    def status(self) -> str:
        return self.summary.status

    @property
    def active_holds(self) -> int:
        return sum(1 for t in self.targets if t.hold_id is not None)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A document or a package to send to an operator's browser or disk."""

    filename: str
    media_type: str
    content: bytes
