"""The privacy domain's tables: policies and consents, erasure requests, complaints, legal
holds and notices to users (docs/privacy.md, "Tables"). Per-user tables lead their primary
key with ``user_id``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class PrivacyPolicy(Base):
    """One version of one policy region's privacy policy (``CN``, ``EU``, ``default``).
    ``version_hash`` is the SHA-256 of the exact text a user consents to."""

    __tablename__ = "privacy_policies"

    policy_region: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # {"purpose": {"required": bool, "label": str}} for the per-purpose consents it asks.
    purposes: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    published_by: Mapped[str] = mapped_column(String(64))


class UserConsent(Base):
    """The policy version a user last consented to (read on every request)."""

    __tablename__ = "user_consents"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    policy_region: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    device_id: Mapped[str | None] = mapped_column(String(36))


class PurposeConsent(Base):
    """Whether a user currently grants one purpose (sensitive data, cross-border transfer,
    marketing)."""

    __tablename__ = "purpose_consents"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConsentRecord(Base):
    """Every consent given or withdrawn, kept as evidence: the policy and its hash, the
    purposes, when and from which device. Append-only."""

    __tablename__ = "consent_records"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # policy | purpose
    policy_region: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str | None] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    device_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ErasureRequest(Base):
    """A user's request to be erased: carried out at ``due_at`` (30 days' grace) unless
    cancelled; an active legal hold defers it with the reason recorded."""

    __tablename__ = "erasure_requests"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    device_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))  # pending | held | cancelled | done
    held_reason: Mapped[str | None] = mapped_column(String(500))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    pseudonym: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_erasure_requests_status_due", "status", "due_at"),)


class Complaint(Base):
    """A user's complaint about how their data is handled; the operator must answer by
    ``due_at`` (the region policy's deadline)."""

    __tablename__ = "complaints"

    complaint_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # open | answered
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(36))
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_complaints_user_id", "user_id", "created_at"),
        Index("ix_complaints_status_due", "status", "due_at"),
    )


class LegalHold(Base):
    """A hold on one user's data: while unreleased, neither erasure nor the retention purge
    deletes it. Placed by the legal desk (with its case) or an admin."""

    __tablename__ = "legal_holds"

    hold_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    case_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    placed_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[str | None] = mapped_column(String(64))
    release_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_legal_holds_user_id", "user_id"),
        Index("ix_legal_holds_case_id", "case_id"),
    )


class UserNotice(Base):
    """A notice to a user from the operator: a lawful request about their data (at once, or
    when its non-disclosure order expires), an answered complaint, a new policy version."""

    __tablename__ = "user_notices"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
