"""Media: one row per client-encrypted blob; the bytes live in the blob store.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("media_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("media_id", name="pk_media"),
    )
    op.create_index("ix_media_user_id", "media", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_media_user_id", table_name="media")
    op.drop_table("media")
