"""What operators check the wallet with: audit runs, and provider reconciliation runs and
their items (docs/wallet.md, "Audit", "Reconciliation")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class WalletAuditRun(Base):
    """One run of the ledger audit (the 10-minute job or ``courtyard admin wallet audit``)."""

    __tablename__ = "wallet_audit_runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    watermark: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    findings: Mapped[dict[str, Any]] = mapped_column(JSONObject)

    __table_args__ = (
        CheckConstraint("scope IN ('incremental', 'full')", name="scope"),
        Index("ix_wallet_audit_runs_started_at", "started_at"),
    )


class ReconciliationRun(Base):
    """One day's comparison of our provider operations with the provider's own report."""

    __tablename__ = "reconciliation_runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('running', 'finished', 'failed')", name="state"),
        Index("ix_reconciliation_runs_provider_day", "provider", "day"),
    )


class ReconciliationItem(Base):
    """An exception a run found (``missing_there``, ``mismatch``, ``stuck``, ``balance``) or
    a lost callback it ``fixed``; exceptions wait for a finance operator's resolution."""

    __tablename__ = "reconciliation_items"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    operation_id: Mapped[str | None] = mapped_column(String(36))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    resolved_by: Mapped[str | None] = mapped_column(String(36))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        CheckConstraint(
            "kind IN ('fixed', 'missing_there', 'missing_here', 'mismatch', 'stuck', 'balance')",
            name="kind",
        ),
        CheckConstraint(
            "resolution IS NULL OR resolution IN "
            "('applied_provider_status', 'adjusted', 'dismissed')",
            name="resolution",
        ),
    )
