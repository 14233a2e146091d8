"""Conversation members keep the signed admission that brought them in.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("conversation_members") as batch:
        batch.add_column(sa.Column("admission", JSON_OBJECT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation_members") as batch:
        batch.drop_column("admission")
