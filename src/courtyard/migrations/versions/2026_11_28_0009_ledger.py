"""The wallet's ledger: accounts, owner keys, append-only entries and postings.

Entries and postings refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) through raising
triggers, so no application path can rewrite history (docs/wallet.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
APPEND_ONLY = ("ledger_entries", "ledger_postings")


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("owner_kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("limit_day", sa.Date(), nullable=True),
        sa.Column("limit_used_minor", sa.BigInteger(), nullable=False),
        sa.Column("last_entry_id", sa.String(36), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("account_id", "currency", name="uq_ledger_accounts_account_currency"),
        sa.CheckConstraint(
            "balance_minor IS NULL OR allow_negative OR balance_minor >= 0",
            name="ck_ledger_accounts_not_negative",
        ),
        sa.CheckConstraint(
            "cached = (balance_minor IS NOT NULL)", name="ck_ledger_accounts_cached_has_balance"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'frozen', 'closed')", name="ck_ledger_accounts_status"
        ),
        sa.CheckConstraint(
            "owner_kind IN ('user', 'merchant', 'biller', 'system')",
            name="ck_ledger_accounts_owner_kind",
        ),
        sa.CheckConstraint("limit_used_minor >= 0", name="ck_ledger_accounts_limit_used"),
    )
    op.create_index("ix_ledger_accounts_owner_id", "ledger_accounts", ["owner_id"])
    op.create_table(
        "ledger_account_keys",
        sa.Column("owner_key", sa.String(160), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("owner_key", name="pk_ledger_account_keys"),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("flow_kind", sa.String(32), nullable=True),
        sa.Column("flow_id", sa.String(64), nullable=True),
        sa.Column("initiator", sa.String(120), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_ledger_entries"),
    )
    op.create_index("ix_ledger_entries_flow", "ledger_entries", ["flow_kind", "flow_id"])
    op.create_table(
        "ledger_postings",
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("leg", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "entry_id", "leg", name="pk_ledger_postings"),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"],
            ["ledger_accounts.account_id", "ledger_accounts.currency"],
            name="fk_ledger_postings_account_currency",
        ),
        sa.CheckConstraint("amount_minor <> 0", name="ck_ledger_postings_not_zero"),
    )
    op.create_index("ix_ledger_postings_entry_id", "ledger_postings", ["entry_id"])
    op.create_index(
        "ix_ledger_postings_account_time",
        "ledger_postings",
        ["account_id", "created_at", "entry_id"],
    )
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_index("ix_ledger_postings_account_time", table_name="ledger_postings")
    op.drop_index("ix_ledger_postings_entry_id", table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index("ix_ledger_entries_flow", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_account_keys")
    op.drop_index("ix_ledger_accounts_owner_id", table_name="ledger_accounts")
    op.drop_table("ledger_accounts")


def _create_append_only_triggers() -> None:
    # Raising, not DO INSTEAD NOTHING: a silently ignored UPDATE would hide the bug that sent it.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION courtyard_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION courtyard_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION courtyard_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS courtyard_append_only()")
        return
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
