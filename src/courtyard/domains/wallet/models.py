"""The ledger's tables: accounts, their owner keys, journal entries and immutable postings.

Amounts are signed integer minor units (``BIGINT``) with a three-letter ISO 4217 code beside
them. Entries and postings are append-only: triggers made by the migration refuse ``UPDATE``
and ``DELETE`` on both backends (docs/wallet.md, "Immutability of entries and postings").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, UTCDateTime


class LedgerAccount(Base):
    """One account of one owner, purpose and currency. User, merchant and biller accounts
    carry a cached balance changed only under their row lock; system accounts (escrows,
    clearing) carry none and are never locked, so they are no hot spot."""

    __tablename__ = "ledger_accounts"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    cached: Mapped[bool] = mapped_column(Boolean)
    balance_minor: Mapped[int | None] = mapped_column(BigInteger)
    allow_negative: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    limit_day: Mapped[dt.date | None] = mapped_column(Date)
    limit_used_minor: Mapped[int] = mapped_column(BigInteger)
    last_entry_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("account_id", "currency", name="uq_ledger_accounts_account_currency"),
        CheckConstraint(
            "balance_minor IS NULL OR allow_negative OR balance_minor >= 0",
            name="not_negative",
        ),
        CheckConstraint("cached = (balance_minor IS NOT NULL)", name="cached_has_balance"),
        CheckConstraint("status IN ('open', 'frozen', 'closed')", name="status"),
        CheckConstraint(
            "owner_kind IN ('user', 'merchant', 'biller', 'system')", name="owner_kind"
        ),
        CheckConstraint("limit_used_minor >= 0", name="limit_used"),
        Index("ix_ledger_accounts_owner_id", "owner_id"),
    )


class LedgerAccountKey(Base):
    """``owner_key`` → account: "one account per owner, purpose and currency", which cannot
    be a unique index on a sharded ``ledger_accounts`` (DESIGN §3)."""

    __tablename__ = "ledger_account_keys"

    owner_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))


class LedgerEntry(Base):
    """One movement of money; its postings sum to zero per currency. Append-only."""

    __tablename__ = "ledger_entries"

    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    flow_kind: Mapped[str | None] = mapped_column(String(32))
    flow_id: Mapped[str | None] = mapped_column(String(64))
    initiator: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_ledger_entries_flow", "flow_kind", "flow_id"),)


class LedgerPosting(Base):
    """One leg of an entry on one account; ``balance_after`` is the account's cached balance
    after it (null for uncached accounts). Append-only."""

    __tablename__ = "ledger_postings"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    leg: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The composite key makes a posting in another currency than its account impossible.
        ForeignKeyConstraint(
            ["account_id", "currency"],
            ["ledger_accounts.account_id", "ledger_accounts.currency"],
            name="fk_ledger_postings_account_currency",
        ),
        CheckConstraint("amount_minor <> 0", name="not_zero"),
        Index("ix_ledger_postings_entry_id", "entry_id"),
        Index("ix_ledger_postings_account_time", "account_id", "created_at", "entry_id"),
    )
