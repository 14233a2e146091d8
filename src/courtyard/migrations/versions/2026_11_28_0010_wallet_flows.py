"""Wallet flows: idempotency keys, payment PINs, user flow index, transfers, provider
operations and their callbacks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(36), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "wallet_idempotency",
        _id("user_id"),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("response", JSON_OBJECT, nullable=True),
        _id("flow_id", nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "idempotency_key", name="pk_wallet_idempotency"),
        sa.CheckConstraint(
            "outcome IN ('result', 'refusal')", name="ck_wallet_idempotency_outcome"
        ),
    )
    op.create_index("ix_wallet_idempotency_expires_at", "wallet_idempotency", ["expires_at"])
    op.create_table(
        "wallet_pins",
        _id("user_id"),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("pending_count", sa.Integer(), nullable=False),
        sa.Column("pending_since", UTC, nullable=True),
        sa.Column("locked_until", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_wallet_pins"),
    )
    op.create_table(
        "wallet_user_flows",
        _id("user_id"),
        _id("flow_id"),
        sa.Column("flow_kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "flow_id", name="pk_wallet_user_flows"),
    )
    op.create_index(
        "ix_wallet_user_flows_user_time", "wallet_user_flows", ["user_id", "created_at"]
    )
    op.create_table(
        "transfers",
        _id("transfer_id"),
        _id("sender_user_id"),
        _id("recipient_user_id"),
        _id("conversation_id"),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("resolved_at", UTC, nullable=True),
        _id("send_entry_id"),
        _id("resolve_entry_id", nullable=True),
        _id("memo_conversation_id", nullable=True),
        sa.Column("memo_seq", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name="pk_transfers"),
        sa.CheckConstraint(
            "state IN ('pending', 'accepted', 'returned', 'refunded')", name="ck_transfers_state"
        ),
        sa.CheckConstraint("amount_minor > 0", name="ck_transfers_positive"),
    )
    op.create_table(
        "provider_operations",
        _id("operation_id"),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        _id("user_id"),
        _id("account_id"),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(64), nullable=True),
        sa.Column("next_action", JSON_OBJECT, nullable=True),
        sa.Column("destination", sa.String(128), nullable=True),
        sa.Column("behaviour", JSON_OBJECT, nullable=True),
        sa.Column("failure_code", sa.String(64), nullable=True),
        _id("hold_entry_id", nullable=True),
        _id("final_entry_id", nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("operation_id", name="pk_provider_operations"),
        sa.CheckConstraint("kind IN ('topup', 'withdrawal')", name="ck_provider_operations_kind"),
        sa.CheckConstraint(
            "state IN ('created', 'pending', 'held', 'submitted', 'succeeded', 'failed', "
            "'expired', 'review')",
            name="ck_provider_operations_state",
        ),
        sa.CheckConstraint(
            "amount_minor > 0 AND fee_minor >= 0", name="ck_provider_operations_amounts"
        ),
    )
    op.create_index(
        "ix_provider_operations_state_updated", "provider_operations", ["state", "updated_at"]
    )
    op.create_index("ix_provider_operations_user_id", "provider_operations", ["user_id"])
    op.create_table(
        "provider_callbacks",
        _id("operation_id"),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("operation_id", "event_id", name="pk_provider_callbacks"),
    )


def downgrade() -> None:
    op.drop_table("provider_callbacks")
    op.drop_index("ix_provider_operations_user_id", table_name="provider_operations")
    op.drop_index("ix_provider_operations_state_updated", table_name="provider_operations")
    op.drop_table("provider_operations")
    op.drop_table("transfers")
    op.drop_index("ix_wallet_user_flows_user_time", table_name="wallet_user_flows")
    op.drop_table("wallet_user_flows")
    op.drop_table("wallet_pins")
    op.drop_index("ix_wallet_idempotency_expires_at", table_name="wallet_idempotency")
    op.drop_table("wallet_idempotency")
