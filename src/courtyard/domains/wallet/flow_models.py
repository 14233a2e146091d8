"""The wallet's flow tables: idempotency keys, PINs, transfers, provider operations.

Each flow is a row with a state; every transition is a compare-and-set on that state in the
same transaction as its ledger entry (docs/wallet.md, "Flows").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, JSONObject, UTCDateTime


class WalletIdempotency(Base):
    """The first answer to a money-moving request, written in the same transaction as its
    postings: a retry with the same key and body gets it again."""

    __tablename__ = "wallet_idempotency"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16))
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    flow_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("outcome IN ('result', 'refusal')", name="outcome"),
        Index("ix_wallet_idempotency_expires_at", "expires_at"),
    )


class WalletPin(Base):
    """A payment PIN's argon2id hash (over a peppered HMAC) and its lockout counter."""

    __tablename__ = "wallet_pins"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    failed_count: Mapped[int] = mapped_column(Integer)
    # Checks under way (argon2id running); a crashed node's are forgotten once stale.
    pending_count: Mapped[int] = mapped_column(Integer)
    pending_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class WalletUserFlow(Base):
    """Which flows a user is party to, so "my transfers" is read from one shard."""

    __tablename__ = "wallet_user_flows"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow_kind: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_wallet_user_flows_user_time", "user_id", "created_at"),)


class Transfer(Base):
    """A P2P transfer, sent as a card in the pair's direct conversation."""

    __tablename__ = "transfers"

    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender_user_id: Mapped[str] = mapped_column(String(36))
    recipient_user_id: Mapped[str] = mapped_column(String(36))
    conversation_id: Mapped[str] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    send_entry_id: Mapped[str] = mapped_column(String(36))
    resolve_entry_id: Mapped[str | None] = mapped_column(String(36))
    memo_conversation_id: Mapped[str | None] = mapped_column(String(36))
    memo_seq: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("state IN ('pending', 'accepted', 'returned', 'refunded')", name="state"),
        CheckConstraint("amount_minor > 0", name="positive"),
    )


class ProviderOperation(Base):
    """A top-up or withdrawal through the payment provider; the provider deduplicates by
    ``operation_id``."""

    __tablename__ = "provider_operations"

    operation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    destination: Mapped[str | None] = mapped_column(String(128))
    behaviour: Mapped[dict[str, Any] | None] = mapped_column(JSONObject)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    hold_entry_id: Mapped[str | None] = mapped_column(String(36))
    final_entry_id: Mapped[str | None] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('topup', 'withdrawal')", name="kind"),
        CheckConstraint(
            "state IN ('created', 'pending', 'held', 'submitted', 'succeeded', 'failed', "
            "'expired', 'review')",
            name="state",
        ),
        CheckConstraint("amount_minor > 0 AND fee_minor >= 0", name="amounts"),
        Index("ix_provider_operations_state_updated", "state", "updated_at"),
        Index("ix_provider_operations_user_id", "user_id"),
    )


class ProviderCallback(Base):
    """Every signed callback the provider sent, so a duplicate is recognised."""

    __tablename__ = "provider_callbacks"

    operation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(16))
    body_sha256: Mapped[str] = mapped_column(String(64))


class RedPacket(Base):
    """A red packet: its total drawn into shares at creation, held in escrow until grabbed
    or refunded at expiry."""

    __tablename__ = "red_packets"

    packet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender_user_id: Mapped[str] = mapped_column(String(36))
    conversation_id: Mapped[str] = mapped_column(String(36))
    audience: Mapped[str] = mapped_column(String(8))
    to_user_id: Mapped[str | None] = mapped_column(String(36))
    split: Mapped[str] = mapped_column(String(8))
    share_count: Mapped[int] = mapped_column(Integer)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    create_entry_id: Mapped[str] = mapped_column(String(36))
    refund_entry_id: Mapped[str | None] = mapped_column(String(36))
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    memo_conversation_id: Mapped[str | None] = mapped_column(String(36))
    memo_seq: Mapped[int | None] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("state IN ('open', 'expired', 'finished')", name="state"),
        CheckConstraint("audience IN ('person', 'group')", name="audience"),
        CheckConstraint("split IN ('fixed', 'random')", name="split"),
        CheckConstraint("total_minor > 0 AND share_count > 0", name="positive"),
    )


class RedPacketShare(Base):
    """One share of a packet; ``UNIQUE (packet_id, grabbed_by)`` is "at most one grab per
    user", enforced by the database."""

    __tablename__ = "red_packet_shares"

    packet_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    share_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    grabbed_by: Mapped[str | None] = mapped_column(String(36))
    grabbed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    entry_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        UniqueConstraint("packet_id", "grabbed_by", name="uq_red_packet_shares_grabber"),
        CheckConstraint("amount_minor > 0", name="positive"),
    )
