"""Index stream events by event id, to rewrite every inbox copy of a recalled message.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stream_events_event_id", "stream_events", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_stream_events_event_id", table_name="stream_events")
