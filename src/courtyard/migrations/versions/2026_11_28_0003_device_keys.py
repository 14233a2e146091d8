"""Device keys: identity keys, one-time keys and fallback keys of each device.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _device_fk(table: str) -> sa.ForeignKeyConstraint:
    # Removing a device removes its keys; Citus co-locates both tables by user_id.
    return sa.ForeignKeyConstraint(
        ["user_id", "device_id"],
        ["devices.user_id", "devices.device_id"],
        name=f"fk_{table}_user_id_devices",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "device_keys",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("curve25519", sa.String(64), nullable=False),
        sa.Column("ed25519", sa.String(64), nullable=False),
        sa.Column("algorithms", sa.JSON(), nullable=False),
        sa.Column("signed", JSON_OBJECT, nullable=False),
        sa.Column("uploaded_at", UTC, nullable=False),
        _device_fk("device_keys"),
        sa.PrimaryKeyConstraint("user_id", "device_id", name="pk_device_keys"),
    )
    op.create_table(
        "one_time_keys",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("signed", JSON_OBJECT, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _device_fk("one_time_keys"),
        sa.PrimaryKeyConstraint("user_id", "device_id", "key_id", name="pk_one_time_keys"),
    )
    op.create_table(
        "fallback_keys",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("signed", JSON_OBJECT, nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _device_fk("fallback_keys"),
        sa.PrimaryKeyConstraint("user_id", "device_id", name="pk_fallback_keys"),
    )


def downgrade() -> None:
    op.drop_table("fallback_keys")
    op.drop_table("one_time_keys")
    op.drop_table("device_keys")
