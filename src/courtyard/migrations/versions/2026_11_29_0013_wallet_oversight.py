"""Wallet oversight: audit runs, reconciliation runs and items, operator actions.

``operator_actions`` is append-only like the ledger (the PostgreSQL trigger function
``courtyard_append_only`` comes from 0009).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "wallet_audit_runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("watermark", UTC, nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("findings", JSON_OBJECT, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_wallet_audit_runs"),
        sa.CheckConstraint("scope IN ('incremental', 'full')", name="ck_wallet_audit_runs_scope"),
    )
    op.create_index("ix_wallet_audit_runs_started_at", "wallet_audit_runs", ["started_at"])
    op.create_table(
        "reconciliation_runs",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("counts", JSON_OBJECT, nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_reconciliation_runs"),
        sa.CheckConstraint(
            "state IN ('running', 'finished', 'failed')", name="ck_reconciliation_runs_state"
        ),
    )
    op.create_index(
        "ix_reconciliation_runs_provider_day", "reconciliation_runs", ["provider", "day"]
    )
    op.create_table(
        "reconciliation_items",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("item_no", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("operation_id", sa.String(36), nullable=True),
        sa.Column("provider_ref", sa.String(64), nullable=True),
        sa.Column("detail", JSON_OBJECT, nullable=False),
        sa.Column("resolved_by", sa.String(36), nullable=True),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("resolution", sa.String(32), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "item_no", name="pk_reconciliation_items"),
        sa.CheckConstraint(
            "kind IN ('fixed', 'missing_there', 'missing_here', 'mismatch', 'stuck', 'balance')",
            name="ck_reconciliation_items_kind",
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN "
            "('applied_provider_status', 'adjusted', 'dismissed')",
            name="ck_reconciliation_items_resolution",
        ),
    )
    op.create_table(
        "operator_actions",
        sa.Column("action_id", sa.String(36), nullable=False),
        sa.Column("operator_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(160), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("action_id", name="pk_operator_actions"),
    )
    op.create_index("ix_operator_actions_at", "operator_actions", ["at"])
    op.create_index("ix_operator_actions_target", "operator_actions", ["target"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER operator_actions_append_only BEFORE UPDATE OR DELETE ON "
            "operator_actions FOR EACH ROW EXECUTE FUNCTION courtyard_append_only()"
        )
        op.execute(
            "CREATE TRIGGER operator_actions_no_truncate BEFORE TRUNCATE ON operator_actions "
            "FOR EACH STATEMENT EXECUTE FUNCTION courtyard_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER operator_actions_no_{action.lower()} BEFORE {action} ON "
                "operator_actions BEGIN SELECT RAISE(ABORT, 'operator_actions is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS operator_actions_append_only ON operator_actions")
        op.execute("DROP TRIGGER IF EXISTS operator_actions_no_truncate ON operator_actions")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS operator_actions_no_{action}")
    op.drop_index("ix_operator_actions_target", table_name="operator_actions")
    op.drop_index("ix_operator_actions_at", table_name="operator_actions")
    op.drop_table("operator_actions")
    op.drop_table("reconciliation_items")
    op.drop_index("ix_reconciliation_runs_provider_day", table_name="reconciliation_runs")
    op.drop_table("reconciliation_runs")
    op.drop_index("ix_wallet_audit_runs_started_at", table_name="wallet_audit_runs")
    op.drop_table("wallet_audit_runs")
