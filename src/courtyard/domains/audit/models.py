"""The audit log's tables: the entries (one Merkle leaf each, in order), the single head row
that hands out positions, and the signed tree heads (docs/privacy.md, "Audit log")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class AuditEntry(Base):
    """One action of an operator, the legal desk, the system or a mini-app, at position
    ``seq`` (0, 1, 2, … with no gaps). ``leaf_hash`` is RFC 6962's ``SHA-256(0x00 || leaf)``
    over the entry's canonical encoding; rows are append-only (triggers)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[str] = mapped_column(String(36), unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(160))
    subject_user_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (
        Index("ix_audit_log_subject_user_id", "subject_user_id", "seq"),
        Index("ix_audit_log_actor", "actor", "seq"),
        Index("ix_audit_log_target", "target"),
    )


class AuditLogHead(Base):
    """The one row (``head_id`` 1) whose lock serialises appends and whose ``size`` is the
    next entry's position."""

    __tablename__ = "audit_log_head"

    head_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class AuditTreeHead(Base):
    """A signed statement of the log's size and Merkle root at a time (Ed25519)."""

    __tablename__ = "audit_tree_heads"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
