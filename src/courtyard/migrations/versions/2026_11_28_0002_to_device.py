"""To-device messages: the per-device inbox and sending transaction ids.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "to_device_inbox",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_user_id", sa.String(36), nullable=False),
        sa.Column("sender_device_id", sa.String(36), nullable=False),
        sa.Column("content", JSON_OBJECT, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id", "device_id"],
            ["devices.user_id", "devices.device_id"],
            name="fk_to_device_inbox_device",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "device_id", "seq", name="pk_to_device_inbox"),
    )
    op.create_table(
        "to_device_txns",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("txn_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "device_id", "txn_id", name="pk_to_device_txns"),
    )
    op.create_index("ix_to_device_txns_created_at", "to_device_txns", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_to_device_txns_created_at", table_name="to_device_txns")
    op.drop_table("to_device_txns")
    op.drop_table("to_device_inbox")
