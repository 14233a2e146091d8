"""Merchants, QR codes, payments and refunds; billers and bill payments.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
MERCHANT_CATEGORIES = (
    "'food', 'shopping', 'transport', 'entertainment', 'health', 'travel', 'other'"
)
BILLER_CATEGORIES = "'utilities', 'phone', 'internet', 'insurance', 'education', 'other'"


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(36), nullable=False),
        sa.Column("owner_user_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("currencies", sa.JSON(), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("merchant_id", name="pk_merchants"),
        sa.CheckConstraint(f"category IN ({MERCHANT_CATEGORIES})", name="ck_merchants_category"),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="ck_merchants_status"),
        sa.CheckConstraint("fee_bps >= 0 AND fee_bps < 10000", name="ck_merchants_fee_bps"),
    )
    op.create_index("ix_merchants_owner_user_id", "merchants", ["owner_user_id"])
    op.create_table(
        "merchant_qr_codes",
        sa.Column("merchant_id", sa.String(36), nullable=False),
        sa.Column("qr_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("merchant_id", "qr_id", name="pk_merchant_qr_codes"),
        sa.CheckConstraint("kind IN ('static', 'fixed')", name="ck_merchant_qr_codes_kind"),
        sa.CheckConstraint(
            "(kind = 'fixed' AND amount_minor > 0) OR (kind = 'static' AND amount_minor IS NULL)",
            name="ck_merchant_qr_codes_amount",
        ),
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("merchant_id", sa.String(36), nullable=False),
        sa.Column("payer_user_id", sa.String(36), nullable=False),
        sa.Column("qr_id", sa.String(36), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("order_ref", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payments"),
        sa.CheckConstraint(
            "state IN ('completed', 'partially_refunded', 'refunded')", name="ck_payments_state"
        ),
        sa.CheckConstraint(
            "amount_minor > 0 AND fee_minor >= 0 AND fee_minor <= amount_minor",
            name="ck_payments_amounts",
        ),
        sa.CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="ck_payments_refunded"
        ),
    )
    op.create_index("ix_payments_merchant_time", "payments", ["merchant_id", "created_at"])
    op.create_table(
        "payment_refunds",
        sa.Column("payment_id", sa.String(36), nullable=False),
        sa.Column("refund_id", sa.String(36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("by_user_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("payment_id", "refund_id", name="pk_payment_refunds"),
        sa.CheckConstraint("amount_minor > 0", name="ck_payment_refunds_positive"),
    )
    op.create_table(
        "billers",
        sa.Column("biller_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reference_pattern", sa.String(200), nullable=False),
        sa.Column("reference_hint", sa.String(120), nullable=False),
        sa.Column("min_minor", sa.BigInteger(), nullable=False),
        sa.Column("max_minor", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("biller_id", name="pk_billers"),
        sa.CheckConstraint(f"category IN ({BILLER_CATEGORIES})", name="ck_billers_category"),
        sa.CheckConstraint("min_minor > 0 AND max_minor >= min_minor", name="ck_billers_bounds"),
    )
    op.create_table(
        "bill_payments",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("bill_id", sa.String(36), nullable=False),
        sa.Column("biller_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "bill_id", name="pk_bill_payments"),
        sa.CheckConstraint("state IN ('completed')", name="ck_bill_payments_state"),
        sa.CheckConstraint("amount_minor > 0", name="ck_bill_payments_positive"),
    )
    op.create_index("ix_bill_payments_biller_time", "bill_payments", ["biller_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_bill_payments_biller_time", table_name="bill_payments")
    op.drop_table("bill_payments")
    op.drop_table("billers")
    op.drop_table("payment_refunds")
    op.drop_index("ix_payments_merchant_time", table_name="payments")
    op.drop_table("payments")
    op.drop_table("merchant_qr_codes")
    op.drop_index("ix_merchants_owner_user_id", table_name="merchants")
    op.drop_table("merchants")
