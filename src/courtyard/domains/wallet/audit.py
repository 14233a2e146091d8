"""Re-check the ledger against its invariants; report findings, change nothing.

Run by the 10-minute ``wallet.audit`` job and ``courtyard admin wallet audit`` (through
``audit_runs``), and by the tests after every step of the state machine and at the end of the
bank-under-fire run. Each check is one query over what the database holds, so it finds a
corrupted row however it got there. Given an ``AuditWindow`` the per-entry and per-account
checks look only at what was written in that window (docs/wallet.md, "Audit").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from courtyard.db import Database
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting

# Which findings name an entry and which an account: a later incremental run re-checks them.
ENTRY_CHECKS = frozenset({"entry_balanced", "posting_has_entry", "entry_has_postings",
                          "entry_currency"})  # fmt: skip
ACCOUNT_CHECKS = frozenset({"cached_equals_derived", "not_negative"})
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


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


@dataclass(frozen=True, slots=True)
class AuditWindow:
    """Limit the per-entry and per-account checks to entries and postings created in
    ``[since, until)`` (``since`` None: from the beginning), plus the ``entries`` and
    ``accounts`` named here (an earlier run's findings, so a finding stays until it is gone).

    Cached-versus-derived balances of the accounts in scope are still summed over all their
    postings, and the whole-ledger sums per currency are always checked in full.
    """

    since: dt.datetime | None
    until: dt.datetime
    entries: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()

    def postings_written(self) -> ColumnElement[bool]:
        return _within(LedgerPosting.created_at, self.since, self.until)

    def entry_in_scope(self, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """``column`` names an entry written in the window (by its entry row or by any of
        its postings) or one of ``entries``."""
        written = union(
            select(LedgerPosting.entry_id).where(self.postings_written()),
            select(LedgerEntry.entry_id).where(
                _within(LedgerEntry.created_at, self.since, self.until)
            ),
        )
        return column.in_(written) | column.in_(sorted(self.entries))

    def account_in_scope(self, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
        """``column`` names an account with a posting written in the window or on one of
        ``entries``, or one of ``accounts``."""
        touched = select(LedgerPosting.account_id).where(
            self.postings_written() | LedgerPosting.entry_id.in_(sorted(self.entries))
        )
        return column.in_(touched) | column.in_(sorted(self.accounts))


def _within(
    column: InstrumentedAttribute[dt.datetime], since: dt.datetime | None, until: dt.datetime
) -> ColumnElement[bool]:
    before = column < until
    return before if since is None else and_(column >= since, before)


def _scoped(query: _Query, condition: ColumnElement[bool] | None) -> _Query:
    return query if condition is None else query.where(condition)


async def audit_ledger(db: Database, window: AuditWindow | None = None) -> AuditReport:
    """Every entry balanced per currency with ≥ 2 postings and no orphans; the ledger sums to
    zero per currency; cached balances equal the postings' sum and the newest
    ``balance_after``; no account below zero that may not be. Without ``window``, everything;
    the counts in the report are of what was checked."""
    report = AuditReport()
    async with db.read() as session:
        report.accounts, report.entries, report.postings = await _counts(session, window)
        for check in (_unbalanced, _orphans, _currency_totals, _cached_balances, _negatives):
            report.findings.extend(await check(session, window))
    return report


async def _counts(session: AsyncSession, window: AuditWindow | None) -> tuple[int, int, int]:
    def count(model: Any, condition: ColumnElement[bool] | None) -> Any:
        return _scoped(select(func.count()).select_from(model), condition)

    accounts = window.account_in_scope(LedgerAccount.account_id) if window else None
    entries = window.entry_in_scope(LedgerEntry.entry_id) if window else None
    postings = window.postings_written() if window else None
    return (
        await session.scalar(count(LedgerAccount, accounts)) or 0,
        await session.scalar(count(LedgerEntry, entries)) or 0,
        await session.scalar(count(LedgerPosting, postings)) or 0,
    )


async def _unbalanced(session: AsyncSession, window: AuditWindow | None) -> list[Finding]:
    query = (
        select(LedgerPosting.entry_id, LedgerPosting.currency, func.sum(LedgerPosting.amount_minor))
        .group_by(LedgerPosting.entry_id, LedgerPosting.currency)
        .having((func.sum(LedgerPosting.amount_minor) != 0) | (func.count() < 2))
    )
    rows = await session.execute(
        _scoped(query, window.entry_in_scope(LedgerPosting.entry_id) if window else None)
    )
    return [
        Finding("entry_balanced", entry_id, {"currency": currency, "sum_minor": int(total)})
        for entry_id, currency, total in rows
    ]


async def _orphans(session: AsyncSession, window: AuditWindow | None) -> list[Finding]:
    in_postings = window.entry_in_scope(LedgerPosting.entry_id) if window else None
    in_entries = window.entry_in_scope(LedgerEntry.entry_id) if window else None
    postings = await session.scalars(
        _scoped(
            select(LedgerPosting.entry_id)
            .where(~exists().where(LedgerEntry.entry_id == LedgerPosting.entry_id))
            .distinct(),
            in_postings,
        )
    )
    entries = await session.scalars(
        _scoped(
            select(LedgerEntry.entry_id).where(
                ~exists().where(LedgerPosting.entry_id == LedgerEntry.entry_id)
            ),
            in_entries,
        )
    )
    found = [Finding("posting_has_entry", e, {}) for e in postings]
    found += [Finding("entry_has_postings", e, {}) for e in entries]
    currencies = await session.execute(
        _scoped(
            select(LedgerPosting.entry_id, LedgerEntry.currency, LedgerPosting.currency)
            .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
            .where(LedgerEntry.currency != LedgerPosting.currency),
            in_postings,
        )
    )
    found += [
        Finding("entry_currency", e, {"entry": ec, "posting": pc}) for e, ec, pc in currencies
    ]
    return found


async def _currency_totals(session: AsyncSession, _window: AuditWindow | None) -> list[Finding]:
    # Always the whole ledger: a forged posting anywhere, in any window, shows here.
    rows = await session.execute(
        select(LedgerPosting.currency, func.sum(LedgerPosting.amount_minor))
        .group_by(LedgerPosting.currency)
        .having(func.sum(LedgerPosting.amount_minor) != 0)
    )
    return [Finding("ledger_sums_to_zero", c, {"sum_minor": int(t)}) for c, t in rows]


async def _cached_balances(session: AsyncSession, window: AuditWindow | None) -> list[Finding]:
    in_scope = window.account_in_scope(LedgerPosting.account_id) if window else None
    derived = _scoped(
        select(
            LedgerPosting.account_id.label("account_id"),
            func.sum(LedgerPosting.amount_minor).label("total"),
        ).group_by(LedgerPosting.account_id),
        in_scope,
    ).subquery()
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
        _scoped(
            select(
                LedgerAccount.account_id,
                LedgerAccount.balance_minor,
                func.coalesce(derived.c.total, literal(0)),
                newest,
            )
            .outerjoin(derived, derived.c.account_id == LedgerAccount.account_id)
            .where(LedgerAccount.cached.is_(True)),
            window.account_in_scope(LedgerAccount.account_id) if window else None,
        )
    )
    found = []
    for account_id, cached, total, last_after in rows:
        total = int(total)
        if cached != total or (last_after is not None and last_after != cached):
            detail = {"cached": cached, "derived": total, "newest_balance_after": last_after}
            found.append(Finding("cached_equals_derived", account_id, detail))
    return found


async def _negatives(session: AsyncSession, window: AuditWindow | None) -> list[Finding]:
    total = func.sum(LedgerPosting.amount_minor)
    rows = await session.execute(
        _scoped(
            select(LedgerAccount.account_id, LedgerAccount.purpose, total)
            .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.account_id)
            .where(LedgerAccount.allow_negative.is_(False))
            .group_by(LedgerAccount.account_id, LedgerAccount.purpose)
            .having(total < 0),
            window.account_in_scope(LedgerAccount.account_id) if window else None,
        )
    )
    return [
        Finding("not_negative", a, {"purpose": purpose, "derived": int(t)})
        for a, purpose, t in rows
    ]
