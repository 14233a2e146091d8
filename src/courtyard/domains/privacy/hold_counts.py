"""Which legal holds were active at a given instant, as a query other domains can join
(the transparency report counts a case's holds at the end of a period)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Subquery, or_, select

from courtyard.domains.privacy.models import LegalHold


def case_holds_active_at(at: dt.datetime) -> Subquery:
    """One row (``case_id``) per hold placed for a case at or before ``at`` and not released
    by then; holds placed without a case are left out."""
    return (
        select(LegalHold.case_id)
        .where(
            LegalHold.case_id.is_not(None),
            LegalHold.placed_at <= at,
            or_(LegalHold.released_at.is_(None), LegalHold.released_at > at),
        )
        .subquery("active_case_holds")
    )
