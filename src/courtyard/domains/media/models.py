"""The media table: one row per stored blob, distributed by ``media_id``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, UTCDateTime


class Media(Base):
    """An opaque (client-encrypted) blob: who uploaded it, its size and the SHA-256 of the
    ciphertext. The bytes live in the blob store under ``media_id``."""

    __tablename__ = "media"

    media_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(127))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    # For per-user accounting (quotas, removing an account's uploads).
    __table_args__ = (Index("ix_media_user_id", "user_id"),)
