"""Privacy, the lawful-request desk and the audit log (docs/privacy.md, "Tables").

``audit_log``, ``audit_tree_heads``, ``consent_records`` and ``legal_case_events`` are
append-only like the ledger: the PostgreSQL trigger function ``courtyard_append_only`` (made
by 0009) refuses UPDATE, DELETE and TRUNCATE; SQLite triggers refuse UPDATE and DELETE.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
APPEND_ONLY = ("audit_log", "audit_tree_heads", "consent_records", "legal_case_events")


def _audit_tables() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(160), nullable=False),
        sa.Column("subject_user_id", sa.String(36), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("detail", JSON_OBJECT, nullable=True),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        sa.UniqueConstraint("entry_id", name="uq_audit_log_entry_id"),
    )
    op.create_index("ix_audit_log_subject_user_id", "audit_log", ["subject_user_id", "seq"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor", "seq"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    head = op.create_table(
        "audit_log_head",
        sa.Column("head_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("head_id", name="pk_audit_log_head"),
    )
    op.bulk_insert(head, [{"head_id": 1, "size": 0}])
    op.create_table(
        "audit_tree_heads",
        sa.Column("tree_size", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signed_at", UTC, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_tree_heads"),
    )


def _privacy_tables() -> None:
    op.create_table(
        "privacy_policies",
        sa.Column("policy_region", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purposes", JSON_OBJECT, nullable=False),
        sa.Column("published_at", UTC, nullable=False),
        sa.Column("published_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("policy_region", "version", name="pk_privacy_policies"),
    )
    op.create_table(
        "user_consents",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("policy_region", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("consented_at", UTC, nullable=False),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_consents"),
    )
    op.create_table(
        "purpose_consents",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "purpose", name="pk_purpose_consents"),
    )
    op.create_table(
        "consent_records",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("policy_region", sa.String(16), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=True),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "record_id", name="pk_consent_records"),
    )
    op.create_table(
        "erasure_requests",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("requested_at", UTC, nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("device_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("held_reason", sa.String(500), nullable=True),
        sa.Column("completed_at", UTC, nullable=True),
        sa.Column("pseudonym", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_erasure_requests"),
    )
    op.create_index("ix_erasure_requests_status_due", "erasure_requests", ["status", "due_at"])
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(36), nullable=True),
        sa.Column("answered_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("complaint_id", name="pk_complaints"),
    )
    op.create_index("ix_complaints_user_id", "complaints", ["user_id", "created_at"])
    op.create_index("ix_complaints_status_due", "complaints", ["status", "due_at"])
    op.create_table(
        "legal_holds",
        sa.Column("hold_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("placed_at", UTC, nullable=False),
        sa.Column("placed_by", sa.String(64), nullable=False),
        sa.Column("released_at", UTC, nullable=True),
        sa.Column("released_by", sa.String(64), nullable=True),
        sa.Column("release_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("hold_id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_user_id", "legal_holds", ["user_id"])
    op.create_index("ix_legal_holds_case_id", "legal_holds", ["case_id"])
    op.create_table(
        "user_notices",
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("notice_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "notice_id", name="pk_user_notices"),
    )


def _legal_tables() -> None:
    op.create_table(
        "legal_cases",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("authority", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("process_type", sa.String(32), nullable=False),
        sa.Column("authority_reference", sa.String(120), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("date_from", sa.Date(), nullable=True),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("categories", JSON_OBJECT, nullable=False),
        sa.Column("gag", sa.Boolean(), nullable=False),
        sa.Column("gag_until", UTC, nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("reviewer_id", sa.String(36), nullable=True),
        sa.Column("reviewed_at", UTC, nullable=True),
        sa.Column("review_outcome", sa.String(16), nullable=True),
        sa.Column("review_reasons", sa.Text(), nullable=True),
        sa.Column("approved_categories", JSON_OBJECT, nullable=True),
        sa.Column("approved_from", sa.Date(), nullable=True),
        sa.Column("approved_to", sa.Date(), nullable=True),
        sa.Column("approver_id", sa.String(36), nullable=True),
        sa.Column("approved_at", UTC, nullable=True),
        sa.Column("produced_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("case_id", name="pk_legal_cases"),
        sa.UniqueConstraint("reference", name="uq_legal_cases_reference"),
    )
    op.create_index("ix_legal_cases_received_at", "legal_cases", ["received_at"])
    op.create_index("ix_legal_cases_status", "legal_cases", ["status"])
    op.create_table(
        "legal_case_targets",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("target_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("identifier", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("user_region", sa.String(2), nullable=True),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decision_reason", sa.String(500), nullable=True),
        sa.Column("notice_due_at", UTC, nullable=True),
        sa.Column("notified_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("case_id", "target_no", name="pk_legal_case_targets"),
    )
    op.create_index("ix_legal_case_targets_user_id", "legal_case_targets", ["user_id"])
    op.create_table(
        "legal_case_documents",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", UTC, nullable=False),
        sa.Column("added_by", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "document_id", name="pk_legal_case_documents"),
    )
    op.create_table(
        "legal_case_events",
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("event_no", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", JSON_OBJECT, nullable=False),
        sa.PrimaryKeyConstraint("case_id", "event_no", name="pk_legal_case_events"),
    )
    op.create_table(
        "legal_packages",
        sa.Column("package_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        sa.Column("categories", JSON_OBJECT, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("package_id", name="pk_legal_packages"),
    )
    op.create_index("ix_legal_packages_case_id", "legal_packages", ["case_id"])


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION courtyard_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION courtyard_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def upgrade() -> None:
    _audit_tables()
    _privacy_tables()
    _legal_tables()
    for table in APPEND_ONLY:
        _append_only(table)


def downgrade() -> None:
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    for table in (
        "legal_packages", "legal_case_events", "legal_case_documents", "legal_case_targets",
        "legal_cases", "user_notices", "legal_holds", "complaints", "erasure_requests",
        "consent_records", "purpose_consents", "user_consents", "privacy_policies",
        "audit_tree_heads", "audit_log_head", "audit_log",
    ):  # fmt: skip
        op.drop_table(table)
