"""The consent gate: may this user use the service (or the wallet) now? One small query for
what the user consented to; the current versions come from the node's cache
(docs/privacy-consent.md, "The consent gate")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.regions import policy_region
from courtyard.db import Database
from courtyard.domains.accounts import get_user_region
from courtyard.domains.privacy.consent_errors import ConsentRequired
from courtyard.domains.privacy.models import PurposeConsent, UserConsent
from courtyard.domains.privacy.policy_store import CurrentPolicies, PolicyHead

Scope = Literal["all", "wallet"]
GATES_BY_SCOPE: dict[Scope, frozenset[str]] = {
    "all": frozenset({"all"}),
    "wallet": frozenset({"all", "wallet"}),
}


@dataclass(frozen=True)
class HeldConsent:
    """What a user has consented to: a policy version (0: none yet) and each purpose."""

    policy_region: str
    policy_version: int
    version_hash: str | None = None
    consented_at: dt.datetime | None = None
    granted: dict[str, bool] = field(default_factory=dict)


_HELD = (
    select(
        UserConsent.policy_region, UserConsent.policy_version, UserConsent.version_hash,
        UserConsent.consented_at, PurposeConsent.purpose, PurposeConsent.granted,
    )
    .outerjoin(PurposeConsent, PurposeConsent.user_id == UserConsent.user_id)
)  # fmt: skip


async def load_held(session: AsyncSession, user_id: str) -> HeldConsent:
    """The user's consent in one query (a second, for the region, only if they never
    consented, e.g. an account older than consent)."""
    rows = (await session.execute(_HELD.where(UserConsent.user_id == user_id))).all()
    if not rows:
        country = await get_user_region(session, user_id)
        return HeldConsent(policy_region(country or ""), 0)
    first = rows[0]
    granted = {row.purpose: bool(row.granted) for row in rows if row.purpose is not None}
    return HeldConsent(
        first.policy_region, first.policy_version, first.version_hash, first.consented_at, granted
    )


class ConsentGate:
    """Judges a user's consent against the current version of their policy region."""

    def __init__(self, db: Database, current: CurrentPolicies) -> None:
        self.db = db
        self.current = current

    async def check(self, user_id: str, scope: Scope = "all") -> HeldConsent:
        """Raise ``ConsentRequired`` unless the user may use ``scope`` now; return what they
        hold (a socket keeps it and judges again later without a query)."""
        held = await self.load(user_id)
        await self.judge(held, scope)
        return held

    async def load(self, user_id: str) -> HeldConsent:
        """What the user consented to (one query)."""
        async with self.db.read() as session:
            return await load_held(session, user_id)

    async def judge(self, held: HeldConsent, scope: Scope = "all") -> None:
        """Raise ``ConsentRequired`` unless ``held`` is enough for ``scope`` now."""
        head = await self.head_for(held)
        if held.policy_version != head.version:
            raise _refusal(head)
        for name, purpose in head.purposes.items():
            if purpose.get("gates") in GATES_BY_SCOPE[scope] and not held.granted.get(name):
                raise _refusal(head, name)

    async def head_for(self, held: HeldConsent) -> PolicyHead:
        """The current version of the user's region. A consented version newer than the
        cached one means another node published it: the cache is re-read at once."""
        head = await self.current.get(held.policy_region)
        if held.policy_version > head.version:
            self.current.invalidate()
            head = await self.current.get(held.policy_region)
        return head


def _refusal(head: PolicyHead, purpose: str | None = None) -> ConsentRequired:
    return ConsentRequired(
        policy_region=head.policy_region,
        current_version=head.version,
        current_version_hash=head.version_hash,
        purpose=purpose,
    )
