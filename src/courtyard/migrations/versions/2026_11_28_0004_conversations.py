"""Conversations: members, the per-user index, timeline events, message transaction ids.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_conversations"),
    )
    op.create_table(
        "direct_conversations",
        sa.Column("pair_key", sa.String(length=80), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("pair_key", name="pk_direct_conversations"),
    )
    op.create_table(
        "message_txns",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("sender_device_id", sa.String(length=36), nullable=False),
        sa.Column("txn_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint(
            "conversation_id", "sender_device_id", "txn_id", name="pk_message_txns"
        ),
    )
    op.create_table(
        "user_conversations",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "conversation_id", name="pk_user_conversations"),
    )
    op.create_table(
        "conversation_members",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("since_seq", sa.BigInteger(), nullable=False),
        sa.Column("read_seq", sa.BigInteger(), nullable=False),
        sa.Column("invited_by", sa.String(length=36), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name="fk_conversation_members_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "user_id", name="pk_conversation_members"),
    )
    op.create_table(
        "timeline_events",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("sender_user_id", sa.String(length=36), nullable=False),
        sa.Column("sender_device_id", sa.String(length=36), nullable=True),
        sa.Column("content", JSON_OBJECT, nullable=False),
        sa.Column("recalled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name="fk_timeline_events_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "seq", name="pk_timeline_events"),
    )


def downgrade() -> None:
    op.drop_table("timeline_events")
    op.drop_table("conversation_members")
    op.drop_table("user_conversations")
    op.drop_table("message_txns")
    op.drop_table("direct_conversations")
    op.drop_table("conversations")
