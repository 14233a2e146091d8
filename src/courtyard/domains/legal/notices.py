"""Telling users: once a case is decided (rejected, produced or closed) every found target
gets a ``legal_request`` notice — at once, when the non-disclosure order expires (the due job
``legal.notice:<case_id>``), or when an operator lifts it (docs/legal-desk.md, "Notices")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from courtyard.core.clock import Clock
from courtyard.db import Tx
from courtyard.domains.legal.errors import NoGag, NoticeNotDue
from courtyard.domains.legal.models import LegalCase, LegalCaseTarget
from courtyard.domains.legal.rules import label
from courtyard.domains.legal.steps import record_step
from courtyard.domains.legal.store import gag_allows_notice, is_decided
from courtyard.domains.privacy import add_user_notice

E2EE_NOTE = (
    "Message content, if any, was disclosed only as the end-to-end encrypted ciphertext we "
    "store; we hold no keys that can decrypt it."
)


def waiting(targets: Sequence[LegalCaseTarget]) -> list[LegalCaseTarget]:
    """Found targets not told yet."""
    return [t for t in targets if t.user_id is not None and t.notified_at is None]


def notice_text(case: LegalCase, target: LegalCaseTarget) -> tuple[str, str]:
    """The notice's title and body for one target."""
    asked = (
        f"On {case.received_at.date().isoformat()}, {case.authority} ({case.country}) asked "
        f"Courtyard for data about your account under a {label(case.process_type)}"
        + (f" (their reference: {case.authority_reference})" if case.authority_reference else "")
        + f". Our reference is {case.reference}."
    )
    if case.produced_at is not None and target.decision == "included":
        categories = ", ".join(label(c) for c in case.approved_categories or [])
        span = f"from {case.approved_from or 'the start'} to {case.approved_to or 'the end'}"
        outcome = f"We disclosed: {categories}, {span}. {E2EE_NOTE}"
    elif case.review_outcome == "rejected":
        outcome = "We refused the request. Nothing about you was disclosed."
    else:
        outcome = "Nothing about you was disclosed."
    # A lifted order keeps ``gag`` true with ``gag_until`` at the lifting (see lift_gag).
    gagged = " A non-disclosure order kept us from telling you until now." if case.gag else ""
    return f"A lawful request named your account ({case.reference})", f"{asked} {outcome}{gagged}"


async def send_due(
    tx: Tx, clock: Clock, case: LegalCase, targets: Sequence[LegalCaseTarget], *, actor: str
) -> list[LegalCaseTarget]:
    """Notify every waiting target whose notice is due; returns those told."""
    now = clock.now()
    due = [t for t in waiting(targets) if t.notice_due_at is not None and t.notice_due_at <= now]
    for target in due:
        assert target.user_id is not None
        title, body = notice_text(case, target)
        await add_user_notice(
            tx, clock, user_id=target.user_id, kind="legal_request", title=title, body=body
        )
        target.notified_at = now
    if due:
        await record_step(
            tx,
            clock,
            case,
            due,
            actor=actor,
            kind="notice_sent",
            action="legal.notice.send",
            detail={"targets": [t.target_no for t in due]},
        )
    return due


async def on_decision(
    tx: Tx, clock: Clock, case: LegalCase, targets: Sequence[LegalCaseTarget], *, actor: str
) -> None:
    """The case was just decided: schedule every waiting target's notice for now, the
    order's end, or (indefinite order) nothing yet; send what is due."""
    now = clock.now()
    due_at: dt.datetime | None = now if gag_allows_notice(case, now) else case.gag_until
    later = waiting(targets)
    if due_at is None or not later:
        return
    for target in later:
        target.notice_due_at = due_at
    if due_at > now:
        await record_step(
            tx,
            clock,
            case,
            [],
            actor=actor,
            kind="notice_scheduled",
            action="legal.notice.schedule",
            detail={"targets": [t.target_no for t in later], "due_at": due_at.isoformat()},
        )
    await send_due(tx, clock, case, targets, actor=actor)


async def send_now(
    tx: Tx, clock: Clock, case: LegalCase, targets: Sequence[LegalCaseTarget], *, actor: str
) -> list[LegalCaseTarget]:
    """An operator's "send due notices": ``NoticeNotDue`` while the case is undecided or its
    order runs; otherwise every waiting target is told."""
    now = clock.now()
    if not is_decided(case):
        raise NoticeNotDue(f"{case.reference} has no decision yet; notices follow it")
    if not gag_allows_notice(case, now):
        until = case.gag_until.isoformat() if case.gag_until else "until it is lifted"
        raise NoticeNotDue(f"The non-disclosure order runs {until}")
    for target in waiting(targets):
        if target.notice_due_at is None or target.notice_due_at > now:
            target.notice_due_at = now
    return await send_due(tx, clock, case, targets, actor=actor)


async def lift_gag(
    tx: Tx,
    clock: Clock,
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    *,
    actor: str,
    reason: str,
) -> list[LegalCaseTarget]:
    """End the case's non-disclosure order now: ``gag_until`` becomes this moment (``gag``
    stays true, so the record shows there was one). A decided case's waiting targets are
    told at once; an undecided one's at its decision."""
    now = clock.now()
    if not case.gag or (case.gag_until is not None and case.gag_until <= now):
        raise NoGag()
    case.gag_until = now
    await record_step(
        tx,
        clock,
        case,
        targets,
        actor=actor,
        kind="gag_lifted",
        action="legal.gag.lift",
        detail={"reason": reason},
        note=reason,
    )
    if not is_decided(case):
        return []
    for target in waiting(targets):
        target.notice_due_at = now
    return await send_due(tx, clock, case, targets, actor=actor)
