"""Re-check the whole ledger against its invariants; report findings, change nothing.

Run by ``courtyard admin wallet audit`` and by the tests after every step of the state
machine and at the end of the bank-under-fire run. Each check is one query over what the
database holds, so it finds a corrupted row however it got there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.db import Database
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    subject: str
    detail: dict[str, Any]


@dataclass(slots=True)
class AuditReport:
    accounts: int = 0
    entries: int = 0
    postings: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


async def audit_ledger(db: Database) -> AuditReport:
    """Every entry balanced per currency with ≥ 2 postings and no orphans; the ledger sums to
    zero per currency; cached balances equal the postings' sum and the newest
    ``balance_after``; no account below zero that may not be."""
    report = AuditReport()
    async with db.read() as session:
        report.accounts = await session.scalar(select(func.count()).select_from(LedgerAccount)) or 0
        report.entries = await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        report.postings = await session.scalar(select(func.count()).select_from(LedgerPosting)) or 0
        for check in (_unbalanced, _orphans, _currency_totals, _cached_balances, _negatives):
            report.findings.extend(await check(session))
    return report


async def _unbalanced(session: AsyncSession) -> list[Finding]:
    rows = await session.execute(
        select(LedgerPosting.entry_id, LedgerPosting.currency, func.sum(LedgerPosting.amount_minor))
        .group_by(LedgerPosting.entry_id, LedgerPosting.currency)
        .having((func.sum(LedgerPosting.amount_minor) != 0) | (func.count() < 2))
    )
    return [
        Finding("entry_balanced", entry_id, {"currency": currency, "sum_minor": int(total)})
        for entry_id, currency, total in rows
    ]


async def _orphans(session: AsyncSession) -> list[Finding]:
    postings = await session.scalars(
        select(LedgerPosting.entry_id)
        .where(~exists().where(LedgerEntry.entry_id == LedgerPosting.entry_id))
        .distinct()
    )
    entries = await session.scalars(
        select(LedgerEntry.entry_id).where(
            ~exists().where(LedgerPosting.entry_id == LedgerEntry.entry_id)
        )
    )
    found = [Finding("posting_has_entry", e, {}) for e in postings]
    found += [Finding("entry_has_postings", e, {}) for e in entries]
    currencies = await session.execute(
        select(LedgerPosting.entry_id, LedgerEntry.currency, LedgerPosting.currency)
        .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
        .where(LedgerEntry.currency != LedgerPosting.currency)
    )
    found += [
        Finding("entry_currency", e, {"entry": ec, "posting": pc}) for e, ec, pc in currencies
    ]
    return found


async def _currency_totals(session: AsyncSession) -> list[Finding]:
    rows = await session.execute(
        select(LedgerPosting.currency, func.sum(LedgerPosting.amount_minor))
        .group_by(LedgerPosting.currency)
        .having(func.sum(LedgerPosting.amount_minor) != 0)
    )
    return [Finding("ledger_sums_to_zero", c, {"sum_minor": int(t)}) for c, t in rows]


async def _cached_balances(session: AsyncSession) -> list[Finding]:
    derived = (
        select(
            LedgerPosting.account_id.label("account_id"),
            func.sum(LedgerPosting.amount_minor).label("total"),
        )
        .group_by(LedgerPosting.account_id)
        .subquery()
    )
    newest = (
        select(LedgerPosting.balance_after)
        .where(
            and_(
                LedgerPosting.account_id == LedgerAccount.account_id,
                LedgerPosting.entry_id == LedgerAccount.last_entry_id,
            )
        )
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            LedgerAccount.account_id,
            LedgerAccount.balance_minor,
            func.coalesce(derived.c.total, literal(0)),
            newest,
        )
        .outerjoin(derived, derived.c.account_id == LedgerAccount.account_id)
        .where(LedgerAccount.cached.is_(True))
    )
    found = []
    for account_id, cached, total, last_after in rows:
        total = int(total)
        if cached != total or (last_after is not None and last_after != cached):
            detail = {"cached": cached, "derived": total, "newest_balance_after": last_after}
            found.append(Finding("cached_equals_derived", account_id, detail))
    return found


async def _negatives(session: AsyncSession) -> list[Finding]:
    total = func.sum(LedgerPosting.amount_minor)
    rows = await session.execute(
        select(LedgerAccount.account_id, LedgerAccount.purpose, total)
        .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.account_id)
        .where(LedgerAccount.allow_negative.is_(False))
        .group_by(LedgerAccount.account_id, LedgerAccount.purpose)
        .having(total < 0)
    )
    return [
        Finding("not_negative", a, {"purpose": purpose, "derived": int(t)})
        for a, purpose, t in rows
    ]
