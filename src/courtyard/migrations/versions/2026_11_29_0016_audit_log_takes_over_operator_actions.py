"""The audit log takes over ``operator_actions`` (docs/audit-log.md, "Taking over").

Every ``operator_actions`` row is copied, oldest first, to the end of ``audit_log`` with its
leaf hash, ``audit_log_head.size`` follows, and the table goes (its triggers first). The leaf
encoding is a frozen copy of version 1 (``domains/audit/leaves.py``): a migration must give the
same bytes whatever the code becomes later (tests/unit/test_audit_migration_encoding.py pins
it). The downgrade recreates the empty table; the copied entries stay in the append-only log.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = sa.DateTime(timezone=True)
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BATCH = 1000
DETAIL = {"from": "operator_actions"}

operator_actions = sa.table(
    "operator_actions",
    sa.column("action_id", sa.String()),
    sa.column("operator_id", sa.String()),
    sa.column("action", sa.String()),
    sa.column("target", sa.String()),
    sa.column("note", sa.String()),
    sa.column("at", UTC),
)
audit_log = sa.table(
    "audit_log",
    sa.column("seq", sa.BigInteger()),
    sa.column("entry_id", sa.String()),
    sa.column("at", UTC),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("target", sa.String()),
    sa.column("subject_user_id", sa.String()),
    sa.column("note", sa.String()),
    sa.column("detail", JSON_OBJECT),
    sa.column("leaf_hash", sa.LargeBinary()),
)
audit_log_head = sa.table(
    "audit_log_head", sa.column("head_id", sa.Integer()), sa.column("size", sa.BigInteger())
)


def encode_entry_v1(
    *,
    seq: int,
    entry_id: str,
    at: dt.datetime,
    actor: str,
    action: str,
    target: str,
    subject_user_id: str | None,
    note: str | None,
    detail: dict[str, Any] | None,
) -> bytes:
    """Frozen copy of ``leaves.encode_entry`` (version 1): sorted-key compact JSON."""
    document = {
        "v": 1,
        "seq": seq,
        "entry_id": entry_id,
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor,
        "action": action,
        "target": target,
        "subject_user_id": subject_user_id,
        "note": note,
        "detail": detail,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def leaf_hash_v1(encoded: bytes) -> bytes:
    """RFC 6962: ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + encoded).digest()


def entry_from_action(row: Any, seq: int, sqlite: bool) -> dict[str, Any]:
    """The ``audit_log`` row for one ``operator_actions`` row, placed at ``seq``."""
    at = row.at if row.at.tzinfo is not None else row.at.replace(tzinfo=dt.UTC)
    operator_id = str(row.operator_id)
    actor = operator_id if operator_id.startswith("cli") else f"operator:{operator_id}"
    target = str(row.target)
    subject = target.removeprefix("user:") if target.startswith("user:") else None
    fields: dict[str, Any] = {
        "seq": seq,
        "entry_id": str(row.action_id),
        "at": at,
        "actor": actor[:64],
        "action": str(row.action)[:64],
        "target": target[:160],
        "subject_user_id": subject if subject and len(subject) <= 36 else None,
        "note": row.note[:500] if row.note else None,
        "detail": dict(DETAIL),
    }
    digest = leaf_hash_v1(encode_entry_v1(**fields))
    # SQLite keeps naive UTC times, as the models' UTCDateTime does.
    stored_at = at.astimezone(dt.UTC).replace(tzinfo=None) if sqlite else at
    return {**fields, "at": stored_at, "leaf_hash": digest}


def _copy_actions() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    last = bind.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar()
    seq = 0 if last is None else int(last) + 1
    rows = bind.execute(
        sa.select(operator_actions).order_by(operator_actions.c.at, operator_actions.c.action_id)
    ).all()
    for start in range(0, len(rows), BATCH):
        batch = [
            entry_from_action(row, seq + i, sqlite)
            for i, row in enumerate(rows[start : start + BATCH], start)
        ]
        op.bulk_insert(audit_log, batch)
    size = seq + len(rows)
    if bind.execute(sa.select(audit_log_head.c.size).where(audit_log_head.c.head_id == 1)).first():
        bind.execute(audit_log_head.update().where(audit_log_head.c.head_id == 1).values(size=size))
    else:
        op.bulk_insert(audit_log_head, [{"head_id": 1, "size": size}])


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS operator_actions_append_only ON operator_actions")
        op.execute("DROP TRIGGER IF EXISTS operator_actions_no_truncate ON operator_actions")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS operator_actions_no_{action}")


def upgrade() -> None:
    _copy_actions()
    _drop_triggers()
    op.drop_index("ix_operator_actions_target", table_name="operator_actions")
    op.drop_index("ix_operator_actions_at", table_name="operator_actions")
    op.drop_table("operator_actions")


def downgrade() -> None:
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
