"""To-device tables, distributed by the recipient's (or sender's) ``user_id``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class ToDeviceMessage(Base):
    """One queued Olm envelope for one device; ``seq`` is its hint's position in the
    recipient's stream. Deleted once the device acknowledges that position."""

    __tablename__ = "to_device_inbox"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sender_user_id: Mapped[str] = mapped_column(String(36))
    sender_device_id: Mapped[str] = mapped_column(String(36))
    content: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        ForeignKeyConstraint(
            ["user_id", "device_id"],
            ["devices.user_id", "devices.device_id"],
            ondelete="CASCADE",
            name="fk_to_device_inbox_device",
        ),
    )


class ToDeviceTxn(Base):
    """A sending device's transaction id, so a retried send is applied once."""

    __tablename__ = "to_device_txns"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_to_device_txns_created_at", "created_at"),)
