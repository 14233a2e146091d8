"""Review (accept, narrow, reject — with reasons) and two-person approval, both checked
against the rules (docs/legal-desk.md, "Review and approval")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from courtyard.core.errors import InvalidInput
from courtyard.domains.legal.errors import (
    InsufficientProcess,
    NothingNarrowed,
    OutOfJurisdiction,
    ReasonsRequired,
    SameOperator,
    ScopeWidened,
)
from courtyard.domains.legal.intake import clean_text
from courtyard.domains.legal.models import LegalCase, LegalCaseTarget
from courtyard.domains.legal.rules import (
    CATEGORIES,
    INSUFFICIENT_PROCESS,
    OUT_OF_JURISDICTION,
    Rules,
    TargetFacts,
    label,
)
from courtyard.domains.legal.store import require_status

Outcome = Literal["accept", "narrow", "reject"]
OUTCOME_COLUMN = {"accept": "accepted", "narrow": "narrowed", "reject": "rejected"}


@dataclass(frozen=True, slots=True)
class Review:
    """A reviewer's decision. For ``narrow``: the categories kept, the dates (None keeps the
    requested bound) and the targets excluded, each with its reason."""

    outcome: Outcome
    reason: str = ""
    categories: tuple[str, ...] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    exclusions: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a review puts up for approval."""

    categories: list[str]
    date_from: dt.date | None
    date_to: dt.date | None
    excluded: dict[int, str]


def _narrowed_scope(case: LegalCase, targets: Sequence[LegalCaseTarget], review: Review) -> Scope:
    kept = list(case.categories) if review.categories is None else list(review.categories)
    if extra := sorted(set(kept) - set(case.categories)):
        raise ScopeWidened(f"Not requested: {', '.join(extra)}")
    if not kept:
        raise InvalidInput("Keep at least one category, or reject the request")
    start = review.date_from or case.date_from
    end = review.date_to or case.date_to
    if case.date_from and start and start < case.date_from:
        raise ScopeWidened("The dates start before the requested range")
    if case.date_to and end and end > case.date_to:
        raise ScopeWidened("The dates end after the requested range")
    if start and end and start > end:
        raise InvalidInput("The date range ends before it starts")
    pending = {t.target_no for t in targets if t.decision == "pending"}
    excluded: dict[int, str] = {}
    for no, why in review.exclusions.items():
        if no not in pending:
            raise InvalidInput(f"Target {no} is not a found, pending target of this case")
        if not (
            reason := clean_text(why, f"The reason for excluding target {no}", 500, required=False)
        ):
            raise ReasonsRequired(f"Say why target {no} is excluded")
        excluded[no] = reason
    if pending and set(excluded) == pending:
        raise InvalidInput("Every found target is excluded: reject the request instead")
    scope = Scope([c for c in CATEGORIES if c in kept], start, end, excluded)
    if (
        len(scope.categories) == len(case.categories)
        and (scope.date_from, scope.date_to) == (case.date_from, case.date_to)
        and not excluded
    ):
        raise NothingNarrowed()
    return scope


def check_scope(
    rules: Rules,
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    categories: Sequence[str],
    excluded: Mapping[int, str],
) -> None:
    """Refuse a scope that includes a category or a target the rules refuse."""
    evaluation = rules.evaluate(
        case.country,
        case.process_type,
        categories,
        [
            TargetFacts(t.target_no, t.identifier, t.user_region)
            for t in targets
            if t.user_id is not None and t.target_no not in excluded
        ],
    )
    refused = [a for a in evaluation.categories if a.code == INSUFFICIENT_PROCESS]
    if refused:
        raise InsufficientProcess(
            "; ".join(a.reason for a in refused) + f" (this is a {label(case.process_type)})",
            categories=[a.subject for a in refused],
        )
    outside = [(no, a) for no, a in evaluation.targets if a.code == OUT_OF_JURISDICTION]
    if outside:
        raise OutOfJurisdiction(
            "; ".join(f"target {no} ({a.subject}) is {a.reason}" for no, a in outside),
            targets=[no for no, _ in outside],
        )


def apply_review(
    rules: Rules,
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    review: Review,
    *,
    operator_id: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """Check ``review`` and write it on the case and its targets; returns the timeline
    detail."""
    require_status(case, "received", step="a review")
    reason = clean_text(review.reason, "The reason", 2000, required=False)
    if review.outcome not in OUTCOME_COLUMN:
        raise InvalidInput("The outcome is accept, narrow or reject")
    if review.outcome in ("narrow", "reject") and not reason:
        raise ReasonsRequired(f"Say why you {review.outcome} the request")
    if review.outcome == "reject":
        for target in targets:
            if target.decision == "pending":
                target.decision, target.decision_reason = "excluded", reason[:500]
        case.status = "rejected"
        detail: dict[str, Any] = {"outcome": "rejected", "reason": reason}
    else:
        scope = (
            _narrowed_scope(case, targets, review)
            if review.outcome == "narrow"
            else Scope(list(case.categories), case.date_from, case.date_to, {})
        )
        check_scope(rules, case, targets, scope.categories, scope.excluded)
        for target in targets:
            if target.decision != "pending":
                continue
            if target.target_no in scope.excluded:
                target.decision = "excluded"
                target.decision_reason = scope.excluded[target.target_no]
            else:
                target.decision = "included"
        case.approved_categories = scope.categories
        case.approved_from, case.approved_to = scope.date_from, scope.date_to
        case.status = "reviewed"
        detail = {
            "outcome": OUTCOME_COLUMN[review.outcome],
            "reason": reason,
            "categories": scope.categories,
            "date_from": _iso(scope.date_from),
            "date_to": _iso(scope.date_to),
            "excluded": {str(k): v for k, v in scope.excluded.items()},
        }
    case.review_outcome = OUTCOME_COLUMN[review.outcome]
    case.review_reasons = _reasons_text(reason, detail.get("excluded", {}))
    case.reviewer_id, case.reviewed_at = operator_id, now
    return detail


def apply_approval(
    rules: Rules,
    case: LegalCase,
    targets: Sequence[LegalCaseTarget],
    *,
    operator_id: str,
    now: dt.datetime,
) -> None:
    """Approve the reviewed scope: another operator than the reviewer, still within the
    rules, and never for a preservation request."""
    require_status(case, "reviewed", step="approval")
    if case.reviewer_id == operator_id:
        raise SameOperator()
    if case.process_type in rules.preservation_only:
        raise InsufficientProcess(
            f"A {label(case.process_type)} preserves data; it is never produced"
        )
    excluded = {t.target_no: "" for t in targets if t.decision != "included"}
    check_scope(rules, case, targets, case.approved_categories or [], excluded)
    case.approver_id, case.approved_at = operator_id, now
    case.status = "approved"


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _reasons_text(reason: str, excluded: Mapping[str, str]) -> str | None:
    lines = [reason] if reason else []
    lines += [f"target {no} excluded: {why}" for no, why in excluded.items()]
    return "\n".join(lines) or None
