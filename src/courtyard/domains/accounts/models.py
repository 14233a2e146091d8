"""Account tables. Sharded tables lead their primary key with ``user_id`` (DESIGN §3);
``usernames`` and ``access_tokens`` are lookup tables keyed by what is looked up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, UTCDateTime


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(2))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Username(Base):
    """Unique usernames live in their own table so ``users`` can be sharded by ``user_id``."""

    __tablename__ = "usernames"

    username: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))


class Device(Base):
    """A logged-in device: created by each login, gone at logout or removal."""

    __tablename__ = "devices"

    user_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The stream position the device has acknowledged; sync resumes after it.
    acked_position: Mapped[int] = mapped_column(BigInteger, default=0)


class AccessToken(Base):
    """A bearer token, stored only as its SHA-256 hash."""

    __tablename__ = "access_tokens"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_access_tokens_user_device", "user_id", "device_id"),)


class LoginFailure(Base):
    """One failed login, counted against a throttle key for a sliding window, then purged.

    ``scope_key`` is ``acct:<username>`` (whether or not the account exists, so throttling
    reveals nothing) or ``addr:<sha256 of the client address>``; operator sign-ins count
    under ``op:acct:…`` and ``op:addr:…``.
    """

    __tablename__ = "login_failures"

    scope_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failure_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    failed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_login_failures_scope_time", "scope_key", "failed_at"),
        Index("ix_login_failures_failed_at", "failed_at"),
    )


class Operator(Base):
    """A person who runs the server (admin console, legal desk); not a chat user."""

    __tablename__ = "operators"

    operator_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class OperatorSession(Base):
    """A signed-in operator's console session, stored only as the SHA-256 of its cookie
    token. It ends after 30 idle minutes, 12 hours in all, or at sign-out."""

    __tablename__ = "operator_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    operator_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("operators.operator_id", ondelete="CASCADE")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_operator_sessions_operator_id", "operator_id"),
        Index("ix_operator_sessions_last_seen_at", "last_seen_at"),
    )
