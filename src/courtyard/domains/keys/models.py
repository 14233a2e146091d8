"""Key tables, sharded by ``user_id`` (DESIGN §3). Every row belongs to a row of ``devices``
and goes with it: the foreign keys cascade, so removing a device removes its keys."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


def _device_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["user_id", "device_id"], ["devices.user_id", "devices.device_id"], ondelete="CASCADE"
    )


class DeviceKeys(Base):
    """A device's identity keys, uploaded once; ``signed`` is the object exactly as verified."""

    __tablename__ = "device_keys"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    curve25519: Mapped[str] = mapped_column(String(64))
    ed25519: Mapped[str] = mapped_column(String(64))
    algorithms: Mapped[list[str]] = mapped_column(JSON)
    signed: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (_device_fk(),)


class OneTimeKey(Base):
    """An unclaimed one-time key; a claim deletes it."""

    __tablename__ = "one_time_keys"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    signed: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (_device_fk(),)


class FallbackKey(Base):
    """A device's one fallback key, handed out when its one-time keys run out; kept when used."""

    __tablename__ = "fallback_keys"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    signed: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    used: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (_device_fk(),)
