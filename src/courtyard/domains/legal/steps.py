"""Recording a step of a case: a timeline row and, in the same transaction, the audit
entries — one per found target with ``subject_user_id``, or one without a subject when the
case names no account (docs/legal-desk.md, "Timeline and audit")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from courtyard.core.clock import Clock
from courtyard.db import Tx
from courtyard.domains.audit import append_audit_entry
from courtyard.domains.legal.models import LegalCase, LegalCaseEvent, LegalCaseTarget
from courtyard.domains.legal.store import next_event_no


def operator_actor(operator_id: str) -> str:
    return f"operator:{operator_id}"


async def record_step(
    tx: Tx,
    clock: Clock,
    case: LegalCase,
    subjects: Sequence[LegalCaseTarget],
    *,
    actor: str,
    kind: str,
    action: str,
    detail: dict[str, Any],
    note: str | None = None,
) -> None:
    """Append the timeline event ``kind`` and the audit action ``action`` for ``subjects``
    (the targets the step concerns; those without an account get no entry of their own)."""
    tx.session.add(
        LegalCaseEvent(
            case_id=case.case_id,
            event_no=await next_event_no(tx.session, case.case_id),
            at=clock.now(),
            actor=actor[:64],
            kind=kind,
            detail=detail,
        )
    )
    await tx.session.flush()
    await record_audit(
        tx, clock, case, subjects, actor=actor, action=action, detail=detail, note=note
    )


async def record_audit(
    tx: Tx,
    clock: Clock,
    case: LegalCase,
    subjects: Sequence[LegalCaseTarget],
    *,
    actor: str,
    action: str,
    detail: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    """The audit entries alone (views and downloads have no timeline row of their own)."""
    full = {"case_id": case.case_id, "reference": case.reference, **(detail or {})}
    found = sorted({t.user_id for t in subjects if t.user_id is not None})
    user_ids: list[str | None] = [*found] or [None]
    for user_id in user_ids:
        await append_audit_entry(
            tx,
            clock,
            actor=actor,
            action=action,
            target=f"legal_case:{case.case_id}",
            subject_user_id=user_id,
            note=note,
            detail=full,
        )
