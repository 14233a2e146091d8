"""Foundation: users, usernames, devices, access tokens, login failures, operators, streams.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("region", sa.String(2), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("password_changed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
    )
    op.create_table(
        "usernames",
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_usernames"),
    )
    op.create_table(
        "devices",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("display_name", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("acked_position", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_devices_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "device_id", name="pk_devices"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_access_tokens"),
    )
    op.create_index("ix_access_tokens_user_device", "access_tokens", ["user_id", "device_id"])
    op.create_table(
        "login_failures",
        sa.Column("scope_key", sa.String(80), nullable=False),
        sa.Column("failure_id", sa.String(36), nullable=False),
        sa.Column("failed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("scope_key", "failure_id", name="pk_login_failures"),
    )
    op.create_index("ix_login_failures_scope_time", "login_failures", ["scope_key", "failed_at"])
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])
    op.create_table(
        "operators",
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("operator_id", name="pk_operators"),
        sa.UniqueConstraint("username", name="uq_operators_username"),
    )
    op.create_table(
        "stream_heads",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_stream_heads"),
    )
    op.create_table(
        "stream_events",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("content", JSON_OBJECT, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "position", name="pk_stream_events"),
    )


def downgrade() -> None:
    op.drop_table("stream_events")
    op.drop_table("stream_heads")
    op.drop_table("operators")
    op.drop_index("ix_login_failures_failed_at", table_name="login_failures")
    op.drop_index("ix_login_failures_scope_time", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_access_tokens_user_device", table_name="access_tokens")
    op.drop_table("access_tokens")
    op.drop_table("devices")
    op.drop_table("usernames")
    op.drop_table("users")
