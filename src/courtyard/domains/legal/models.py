"""The lawful-request desk's tables: cases, their targets, documents, timeline and
disclosure packages (docs/privacy.md, "Lawful-request desk")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class LegalCase(Base):
    """One request from an authority, from intake to closing."""

    __tablename__ = "legal_cases"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    authority: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    process_type: Mapped[str] = mapped_column(String(32))
    authority_reference: Mapped[str | None] = mapped_column(String(120))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    date_from: Mapped[dt.date | None] = mapped_column(Date)
    date_to: Mapped[dt.date | None] = mapped_column(Date)
    categories: Mapped[list[str]] = mapped_column(JSONObject)
    # Non-disclosure order: none, until a date, or indefinite (reviewed periodically).
    gag: Mapped[bool] = mapped_column(Boolean)
    gag_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(24))
    created_by: Mapped[str] = mapped_column(String(36))
    reviewer_id: Mapped[str | None] = mapped_column(String(36))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_outcome: Mapped[str | None] = mapped_column(String(16))  # rejected|narrowed|accepted
    review_reasons: Mapped[str | None] = mapped_column(Text)
    approved_categories: Mapped[list[str] | None] = mapped_column(JSONObject)
    approved_from: Mapped[dt.date | None] = mapped_column(Date)
    approved_to: Mapped[dt.date | None] = mapped_column(Date)
    approver_id: Mapped[str | None] = mapped_column(String(36))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    produced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_legal_cases_received_at", "received_at"),
        Index("ix_legal_cases_status", "status"),
    )


class LegalCaseTarget(Base):
    """One account a case names, as the authority named it, and what the desk decided."""

    __tablename__ = "legal_case_targets"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    target_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    identifier: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(36))
    user_region: Mapped[str | None] = mapped_column(String(2))
    decision: Mapped[str] = mapped_column(String(16))  # pending | included | excluded
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    notice_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_legal_case_targets_user_id", "user_id"),)


class LegalCaseDocument(Base):
    """A document the authority served (the order, the warrant), kept with its hash."""

    __tablename__ = "legal_case_documents"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(String(36))


class LegalCaseEvent(Base):
    """One step of a case's timeline (intake, review, approval, hold, package, notice)."""

    __tablename__ = "legal_case_events"

    case_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONObject)


class LegalPackage(Base):
    """A signed disclosure archive: only the approved categories, content only as
    ciphertext, with the statement that the operator holds no keys."""

    __tablename__ = "legal_packages"

    package_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(36))
    categories: Mapped[list[str]] = mapped_column(JSONObject)
    sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    size: Mapped[int] = mapped_column(Integer)
    archive: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (Index("ix_legal_packages_case_id", "case_id"),)
