"""Conversation tables. Timeline tables are distributed by ``conversation_id``; the per-user
index of conversations by ``user_id`` (DESIGN §3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class Conversation(Base):
    """A 1:1 or group conversation; ``last_seq`` orders its timeline (row-locked on append)."""

    __tablename__ = "conversations"

    conversation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "direct" | "group"
    name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class DirectPair(Base):
    """The one direct conversation between two users (``pair_key`` = sorted ids)."""

    __tablename__ = "direct_conversations"

    pair_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(36))


class Member(Base):
    """A user's place in a conversation: invited or joined, with a role."""

    __tablename__ = "conversation_members"

    conversation_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("conversations.conversation_id", ondelete="CASCADE"),
        primary_key=True,
    )
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))  # "invited" | "joined"
    role: Mapped[str] = mapped_column(String(8))  # "owner" | "admin" | "member"
    # The first timeline position this member may read (history starts when they join).
    since_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    invited_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The inviter's signed admission (clients verify it; the server only checks its shape).
    admission: Mapped[dict[str, Any] | None] = mapped_column(JSONObject, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class UserConversation(Base):
    """The reverse index: which conversations a user is in (sharded with the user)."""

    __tablename__ = "user_conversations"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))


class TimelineEvent(Base):
    """One event in a conversation's timeline, at ``seq``.

    ``type`` is ``m.encrypted`` (``content`` is a Megolm envelope the server cannot read) or
    one of the membership and settings events the server itself writes.
    """

    __tablename__ = "timeline_events"

    conversation_id: Mapped[str] = mapped_column(
        String(36),
        ForeignKey("conversations.conversation_id", ondelete="CASCADE"),
        primary_key=True,
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(32))
    sender_user_id: Mapped[str] = mapped_column(String(36))
    sender_device_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSONObject)
    recalled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class MessageTxn(Base):
    """A sending device's transaction id per conversation: a retried send lands once."""

    __tablename__ = "message_txns"

    conversation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender_device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
