"""Operator console sessions: one row per signed-in browser, keyed by the SHA-256 of its token.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_operator_sessions"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.operator_id"],
            name="fk_operator_sessions_operator_id_operators",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_operator_sessions_operator_id", "operator_sessions", ["operator_id"])
    op.create_index("ix_operator_sessions_last_seen_at", "operator_sessions", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_operator_sessions_last_seen_at", table_name="operator_sessions")
    op.drop_index("ix_operator_sessions_operator_id", table_name="operator_sessions")
    op.drop_table("operator_sessions")
