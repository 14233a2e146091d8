"""Preservation holds for a case's targets, through the privacy domain's holds (so erasure
and the retention purge respect them): placed on found, not excluded targets the rules
admit, released together with a reason (docs/legal-desk.md, "Preservation holds")."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.db import Tx
from courtyard.domains.legal.models import LegalCase, LegalCaseTarget
from courtyard.domains.legal.rules import ALLOWED, Rules, TargetFacts
from courtyard.domains.legal.steps import record_step
from courtyard.domains.privacy import get_active_holds, place_hold, release_hold


async def case_holds(
    session: AsyncSession, case_id: str, targets: Sequence[LegalCaseTarget]
) -> dict[int, str]:
    """``target_no → hold_id`` of the case's active holds."""
    holds: dict[int, str] = {}
    for target in targets:
        if target.user_id is None:
            continue
        for hold in await get_active_holds(session, target.user_id):
            if hold.case_id == case_id:
                holds[target.target_no] = hold.hold_id
    return holds


def admitted(rules: Rules, case: LegalCase, target: LegalCaseTarget) -> bool:
    """Whether the rules let the case reach this target (found, in jurisdiction)."""
    facts = TargetFacts(target.target_no, target.identifier, target.user_region)
    return rules.target_advice(case.country, case.process_type, facts).code == ALLOWED


async def place_case_holds(
    tx: Tx,
    clock: Clock,
    rules: Rules,
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    *,
    actor: str,
    reason: str,
) -> list[LegalCaseTarget]:
    """Hold every eligible target that this case does not hold yet; returns those held."""
    held = await case_holds(tx.session, case.case_id, targets)
    chosen = [
        t
        for t in targets
        if t.user_id is not None
        and t.decision != "excluded"
        and t.target_no not in held
        and admitted(rules, case, t)
    ]
    placed = {}
    for target in chosen:
        assert target.user_id is not None
        placed[target.target_no] = await place_hold(
            tx,
            clock,
            user_id=target.user_id,
            reason=reason,
            placed_by=actor,
            case_id=case.case_id,
        )
    if chosen:
        await record_step(
            tx,
            clock,
            case,
            [],
            actor=actor,
            kind="hold_placed",
            action="legal.case.hold",
            detail={"targets": sorted(placed), "reason": reason},
        )
    return chosen


async def release_case_holds(
    tx: Tx,
    clock: Clock,
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    *,
    actor: str,
    reason: str,
) -> list[int]:
    """Release the case's active holds; returns the target numbers released."""
    held = await case_holds(tx.session, case.case_id, targets)
    for hold_id in held.values():
        await release_hold(tx, clock, hold_id, released_by=actor, reason=reason)
    if held:
        await record_step(
            tx,
            clock,
            case,
            [],
            actor=actor,
            kind="hold_released",
            action="legal.case.release",
            detail={"targets": sorted(held), "reason": reason},
        )
    return sorted(held)
