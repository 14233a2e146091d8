"""The due_jobs table: one row per "do X once at time T", distributed by ``bucket``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, UTCDateTime

BUCKETS = 64
PENDING = text("state = 'pending'")


class DueJob(Base):
    """A job, its due time and how it ended. ``job_id`` is deterministic (``<kind>:<ref>``)
    so scheduling twice is a no-op; ``bucket`` (``crc32(job_id) % 64``) is the shard key."""

    __tablename__ = "due_jobs"

    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    ref_id: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), server_default="pending")
    outcome: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # A problem code or an exception class name; never the message (it may carry data).
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('pending', 'done', 'failed')", name="state"),
        CheckConstraint("outcome IS NULL OR outcome IN ('applied', 'skipped')", name="outcome"),
        # Job ids are global: the bucket is derived from the id, never a second namespace.
        Index("ix_due_jobs_job_id", "job_id", unique=True),
        # What the poll scans: only pending rows, in due order.
        Index(
            "ix_due_jobs_pending_due_at", "due_at", sqlite_where=PENDING, postgresql_where=PENDING
        ),
    )
