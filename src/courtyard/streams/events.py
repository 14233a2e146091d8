"""Stream tables: one head row per user (the next position) and the events themselves.

Both are keyed by ``user_id`` first, the distribution column when sharded (DESIGN §3).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class StreamHead(Base):
    """The last position handed out in a user's stream; its row lock orders the writers."""

    __tablename__ = "stream_heads"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class StreamEvent(Base):
    """One fact a user's devices must learn, at a position in the user's stream."""

    __tablename__ = "stream_events"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    # Finds every copy of a fanned-out event (one per member stream) to rewrite it.
    __table_args__ = (Index("ix_stream_events_event_id", "event_id"),)

    def to_wire(self) -> dict[str, Any]:
        return wire_event(self.position, self.event_id, self.type, self.content, self.created_at)


def wire_event(
    position: int, event_id: str, type_: str, content: dict[str, Any], created_at: dt.datetime
) -> dict[str, Any]:
    """A stream event as devices receive it (and as the bus attaches it to a hint)."""
    return {
        "position": position,
        "event_id": event_id,
        "type": type_,
        "content": content,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
    }
