"""Merchants, their QR codes, payments and refunds; billers and bill payments.

A merchant or biller owns ledger accounts (``owner_kind`` ``merchant`` / ``biller``); a
payment or bill is one entry from the payer's main account to that account
(docs/wallet.md, "Merchants and QR payments", "Bills").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from courtyard.db import Base, UTCDateTime

MERCHANT_CATEGORIES = (
    "food",
    "shopping",
    "transport",
    "entertainment",
    "health",
    "travel",
    "other",
)
BILLER_CATEGORIES = ("utilities", "phone", "internet", "insurance", "education", "other")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Merchant(Base):
    """A shop that takes QR payments; registered by an operator, run by its owner (a user)."""

    __tablename__ = "merchants"

    merchant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_user_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(16))
    currencies: Mapped[list[str]] = mapped_column(JSON)
    fee_bps: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("category", MERCHANT_CATEGORIES), name="category"),
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint("fee_bps >= 0 AND fee_bps < 10000", name="fee_bps"),
        Index("ix_merchants_owner_user_id", "owner_user_id"),
    )


class MerchantQrCode(Base):
    """A static (payer enters the amount) or fixed-amount code; its payload is signed with
    the server's Ed25519 key ``key_id``. Revoked codes stay, so old payments keep their code."""

    __tablename__ = "merchant_qr_codes"

    merchant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    qr_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    label: Mapped[str] = mapped_column(String(80))
    key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('static', 'fixed')", name="kind"),
        CheckConstraint(
            "(kind = 'fixed' AND amount_minor > 0) OR (kind = 'static' AND amount_minor IS NULL)",
            name="amount",
        ),
    )


class Payment(Base):
    """A payer paid a merchant by QR; refunded in part or whole within the refund window."""

    __tablename__ = "payments"

    payment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(36))
    payer_user_id: Mapped[str] = mapped_column(String(36))
    qr_id: Mapped[str | None] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    entry_id: Mapped[str] = mapped_column(String(36))
    order_ref: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('completed', 'partially_refunded', 'refunded')", name="state"),
        CheckConstraint(
            "amount_minor > 0 AND fee_minor >= 0 AND fee_minor <= amount_minor", name="amounts"
        ),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refunded"),
        Index("ix_payments_merchant_time", "merchant_id", "created_at"),
    )


class PaymentRefund(Base):
    """One (partial) refund of a payment, by the merchant's owner."""

    __tablename__ = "payment_refunds"

    payment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[str] = mapped_column(String(36))
    by_user_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("amount_minor > 0", name="positive"),)


class Biller(Base):
    """A registered payee for bills (a utility, a phone operator); the reference a payer
    gives must fully match ``reference_pattern``."""

    __tablename__ = "billers"

    biller_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    category: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    reference_pattern: Mapped[str] = mapped_column(String(200))
    reference_hint: Mapped[str] = mapped_column(String(120))
    min_minor: Mapped[int] = mapped_column(BigInteger)
    max_minor: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[str] = mapped_column(String(36))
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_in("category", BILLER_CATEGORIES), name="category"),
        CheckConstraint("min_minor > 0 AND max_minor >= min_minor", name="bounds"),
    )


class BillPayment(Base):
    """A bill a user paid to a biller with a reference number."""

    __tablename__ = "bill_payments"

    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bill_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    biller_id: Mapped[str] = mapped_column(String(36))
    reference: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("state IN ('completed')", name="state"),
        CheckConstraint("amount_minor > 0", name="positive"),
        Index("ix_bill_payments_biller_time", "biller_id", "created_at"),
    )
