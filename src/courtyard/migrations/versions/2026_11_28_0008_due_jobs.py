"""Due-time jobs: "do X once at time T", claimed by whichever node polls first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_table(
        "due_jobs",
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ref_id", sa.String(128), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("bucket", "job_id", name="pk_due_jobs"),
        sa.CheckConstraint("state IN ('pending', 'done', 'failed')", name="ck_due_jobs_state"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('applied', 'skipped')", name="ck_due_jobs_outcome"
        ),
    )
    op.create_index("ix_due_jobs_job_id", "due_jobs", ["job_id"], unique=True)
    op.create_index(
        "ix_due_jobs_pending_due_at",
        "due_jobs",
        ["due_at"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_due_jobs_pending_due_at", table_name="due_jobs")
    op.drop_index("ix_due_jobs_job_id", table_name="due_jobs")
    op.drop_table("due_jobs")
