"""Red packets and their shares (drawn at creation; one grab per user per packet).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "red_packets",
        sa.Column("packet_id", sa.String(36), nullable=False),
        sa.Column("sender_user_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("audience", sa.String(8), nullable=False),
        sa.Column("to_user_id", sa.String(36), nullable=True),
        sa.Column("split", sa.String(8), nullable=False),
        sa.Column("share_count", sa.Integer(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("create_entry_id", sa.String(36), nullable=False),
        sa.Column("refund_entry_id", sa.String(36), nullable=True),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("memo_conversation_id", sa.String(36), nullable=True),
        sa.Column("memo_seq", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("packet_id", name="pk_red_packets"),
        sa.CheckConstraint("state IN ('open', 'expired', 'finished')", name="ck_red_packets_state"),
        sa.CheckConstraint("audience IN ('person', 'group')", name="ck_red_packets_audience"),
        sa.CheckConstraint("split IN ('fixed', 'random')", name="ck_red_packets_split"),
        sa.CheckConstraint("total_minor > 0 AND share_count > 0", name="ck_red_packets_positive"),
    )
    op.create_table(
        "red_packet_shares",
        sa.Column("packet_id", sa.String(36), nullable=False),
        sa.Column("share_no", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("grabbed_by", sa.String(36), nullable=True),
        sa.Column("grabbed_at", UTC, nullable=True),
        sa.Column("entry_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("packet_id", "share_no", name="pk_red_packet_shares"),
        sa.UniqueConstraint("packet_id", "grabbed_by", name="uq_red_packet_shares_grabber"),
        sa.CheckConstraint("amount_minor > 0", name="ck_red_packet_shares_positive"),
    )


def downgrade() -> None:
    op.drop_table("red_packet_shares")
    op.drop_table("red_packets")
