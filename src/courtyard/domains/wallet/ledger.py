"""Double-entry bookkeeping: accounts, locked balances and balanced, immutable entries.

Every movement of money is one ``EntryDraft`` posted through a ``Book``, the ledger's view
of one write transaction. A book locks cached accounts in ascending id order (the global
lock order of docs/wallet.md), refuses debits that would overdraw, freeze or exceed the day's
limit, writes the entry and its postings, and on leaving checks in SQL that everything it
wrote sums to zero per currency. Stream events are appended last, in user-id order.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update

from courtyard.core.clock import Clock
from courtyard.core.ids import new_id
from courtyard.core.money import Money
from courtyard.db import Tx
from courtyard.domains.wallet.accounts import AccountRef
from courtyard.domains.wallet.commerce_models import Merchant
from courtyard.domains.wallet.errors import (
    AccountFrozen,
    DailyLimitExceeded,
    InsufficientFunds,
    UnbalancedEntry,
)
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting
from courtyard.streams import StreamStore

BALANCE_EVENT = "wallet.balance"


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting to be written. ``daily_limit_minor`` marks a debit the user started, which
    counts against that day's limit (docs/wallet.md, "Limits")."""

    account: AccountRef
    amount_minor: int
    daily_limit_minor: int | None = None


@dataclass(frozen=True, slots=True)
class EntryDraft:
    kind: str
    category: str
    legs: tuple[Leg, ...]
    initiator: str
    flow_kind: str | None = None
    flow_id: str | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    """A written entry and the cached balances it left, by account id."""

    entry_id: str
    kind: str
    currency: str
    created_at: dt.datetime
    balances: dict[str, int]


@dataclass(slots=True)
class LockedAccount:
    """A cached account's row as read under its lock, as the transaction has left it."""

    balance: int
    allow_negative: bool
    status: str
    limit_day: dt.date | None
    limit_used: int


@dataclass
class Book:
    """The ledger's part of one transaction; make one with ``Ledger.book(tx)``."""

    tx: Tx
    clock: Clock
    streams: StreamStore
    _locked: dict[str, LockedAccount] = field(default_factory=dict)
    _entries: list[str] = field(default_factory=list)
    _events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def lock(self, accounts: Iterable[AccountRef]) -> None:
        """Lock the cached accounts among ``accounts`` (ascending id), once per transaction."""
        wanted = sorted({a.account_id for a in accounts if a.cached} - self._locked.keys())
        if not wanted:
            return
        if self._locked and wanted[0] < max(self._locked):
            raise RuntimeError("accounts must be locked in one call, or in ascending order")
        rows = await self.tx.session.execute(
            select(
                LedgerAccount.account_id,
                LedgerAccount.balance_minor,
                LedgerAccount.allow_negative,
                LedgerAccount.status,
                LedgerAccount.limit_day,
                LedgerAccount.limit_used_minor,
            )
            .where(LedgerAccount.account_id.in_(wanted))
            .order_by(LedgerAccount.account_id)
            .with_for_update()
        )
        for row in rows:
            self._locked[row.account_id] = LockedAccount(
                balance=row.balance_minor,
                allow_negative=row.allow_negative,
                status=row.status,
                limit_day=row.limit_day,
                limit_used=row.limit_used_minor,
            )
        if missing := set(wanted) - self._locked.keys():
            raise LookupError(f"ledger accounts do not exist: {sorted(missing)}")

    def balance(self, account: AccountRef) -> int:
        """The locked balance of a cached account as this transaction has left it."""
        return self._locked[account.account_id].balance

    async def post(self, draft: EntryDraft) -> Posted:
        """Write ``draft`` as one entry; raise before writing anything if a debit is refused."""
        currency = _check_balanced(draft)
        await self.lock(leg.account for leg in draft.legs)
        now = self.clock.now()
        after = self._apply(draft, now.date())
        entry_id = new_id()
        session = self.tx.session
        await session.execute(
            insert(LedgerEntry).values(
                entry_id=entry_id,
                kind=draft.kind,
                category=draft.category,
                currency=currency,
                flow_kind=draft.flow_kind,
                flow_id=draft.flow_id,
                initiator=draft.initiator,
                created_at=now,
            )
        )
        await session.execute(
            insert(LedgerPosting),
            [
                {
                    "account_id": leg.account.account_id,
                    "entry_id": entry_id,
                    "leg": number,
                    "currency": leg.account.currency,
                    "amount_minor": leg.amount_minor,
                    "balance_after": after.get(leg.account.account_id),
                    "created_at": now,
                }
                for number, leg in enumerate(draft.legs)
            ],
        )
        for account_id, balance in after.items():
            await self._write_balance(account_id, balance, entry_id, now)
        self._entries.append(entry_id)
        posted = Posted(entry_id, draft.kind, currency, now, after)
        self._announce(draft, posted, await self._merchant_owners(draft, after))
        return posted

    def emit(self, user_id: str, type_: str, content: dict[str, Any]) -> None:
        """Queue a stream event for ``user_id``; appended when the book closes."""
        self._events.append((user_id, type_, content))

    async def close(self) -> None:
        """Append the queued stream events (heads in user-id order) and prove, against what
        the database holds, that every entry of this transaction balances."""
        for user_id, type_, content in sorted(self._events, key=lambda e: e[0]):
            await self.streams.append(self.tx, user_id, type_, content)
        self._events.clear()
        if not self._entries:
            return
        unbalanced = await self.tx.session.execute(
            select(LedgerPosting.entry_id, LedgerPosting.currency)
            .where(LedgerPosting.entry_id.in_(self._entries))
            .group_by(LedgerPosting.entry_id, LedgerPosting.currency)
            .having((func.sum(LedgerPosting.amount_minor) != 0) | (func.count() < 2))
        )
        if bad := unbalanced.all():
            raise UnbalancedEntry(f"entries do not balance: {bad}")

    def _apply(self, draft: EntryDraft, today: dt.date) -> dict[str, int]:
        return apply_draft(self._locked, draft, today)

    async def _write_balance(
        self, account_id: str, balance: int, entry_id: str, now: dt.datetime
    ) -> None:
        locked = self._locked[account_id]
        result = await self.tx.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.account_id == account_id)
            .values(
                balance_minor=balance,
                last_entry_id=entry_id,
                limit_day=locked.limit_day,
                limit_used_minor=locked.limit_used,
                updated_at=now,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError(f"ledger account {account_id} vanished under its lock")

    async def _merchant_owners(self, draft: EntryDraft, after: dict[str, int]) -> dict[str, str]:
        """Account id -> owning user, for the merchant accounts whose balance this entry
        changed: a merchant's owner is told its balance as a user is told theirs."""
        merchants = {
            leg.account.owner_id: leg.account.account_id
            for leg in draft.legs
            if leg.account.owner_kind == "merchant"
            and leg.account.owner_id is not None
            and leg.account.account_id in after
        }
        if not merchants:
            return {}
        rows = await self.tx.session.execute(
            select(Merchant.merchant_id, Merchant.owner_user_id).where(
                Merchant.merchant_id.in_(sorted(merchants))
            )
        )
        return {merchants[merchant_id]: owner for merchant_id, owner in rows}

    def _announce(self, draft: EntryDraft, posted: Posted, merchant_owners: dict[str, str]) -> None:
        flow = {"kind": draft.flow_kind, "id": draft.flow_id} if draft.flow_id else None
        for leg in draft.legs:
            account = leg.account
            if account.account_id not in posted.balances:
                continue
            if account.owner_kind == "user":
                owner = account.owner_id
            else:
                owner = merchant_owners.get(account.account_id)
            if owner is None:
                continue
            self.emit(
                owner,
                BALANCE_EVENT,
                {
                    "account_id": account.account_id,
                    "currency": account.currency,
                    "balance": Money(
                        posted.balances[account.account_id], account.currency
                    ).to_wire(),
                    "entry_id": posted.entry_id,
                    "kind": draft.kind,
                    "flow": flow,
                },
            )


def _check_balanced(draft: EntryDraft) -> str:
    """Refuse a draft that could never be right; return its (single) currency."""
    if len(draft.legs) < 2:
        raise UnbalancedEntry(f"{draft.kind}: an entry needs at least two postings")
    sums: dict[str, int] = defaultdict(int)
    for leg in draft.legs:
        if type(leg.amount_minor) is not int or leg.amount_minor == 0:
            raise UnbalancedEntry(f"{draft.kind}: amounts are non-zero integers")
        sums[leg.account.currency] += leg.amount_minor
    if any(sums.values()):
        raise UnbalancedEntry(f"{draft.kind}: postings do not sum to zero: {dict(sums)}")
    if len(sums) != 1:
        raise UnbalancedEntry(f"{draft.kind}: an entry moves one currency")
    return next(iter(sums))


def apply_draft(
    locked: dict[str, LockedAccount], draft: EntryDraft, today: dt.date
) -> dict[str, int]:
    """New balances of the cached accounts ``draft`` touches, with the debit checks
    (``account_frozen``, ``insufficient_funds``, ``daily_limit_exceeded``); ``locked`` is
    updated only if every leg passes. Pure: a batch of transfers applies its drafts in memory
    with the same rules (transfer_batch.py)."""
    after: dict[str, int] = {}
    limits: dict[str, int] = {}  # account id -> today's new total; kept only if all pass
    for leg in draft.legs:
        if not leg.account.cached:
            continue
        state = locked[leg.account.account_id]
        balance = after.get(leg.account.account_id, state.balance) + leg.amount_minor
        if leg.amount_minor < 0:
            if state.status != "open":
                raise AccountFrozen()
            if balance < 0 and not state.allow_negative:
                raise InsufficientFunds(
                    balance=Money(state.balance, leg.account.currency).to_wire()
                )
            if leg.daily_limit_minor is not None:
                used = limits.get(leg.account.account_id)
                if used is None:
                    used = state.limit_used if state.limit_day == today else 0
                limits[leg.account.account_id] = _within_limit(used, -leg.amount_minor, leg, today)
        after[leg.account.account_id] = balance
    for account_id, balance in after.items():
        locked[account_id].balance = balance
    for account_id, used in limits.items():
        locked[account_id].limit_day = today
        locked[account_id].limit_used = used
    return after


def _within_limit(used: int, debit: int, leg: Leg, today: dt.date) -> int:
    """Today's total after ``debit``, or ``DailyLimitExceeded``."""
    limit = leg.daily_limit_minor
    assert limit is not None
    if used + debit > limit:
        currency = leg.account.currency
        resets = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
        raise DailyLimitExceeded(
            limit=Money(limit, currency).to_wire(),
            used=Money(used, currency).to_wire(),
            resets_at=resets.isoformat().replace("+00:00", "Z"),
        )
    return used + debit


class Ledger:
    """Makes books; the one way money moves."""

    def __init__(self, clock: Clock, streams: StreamStore) -> None:
        self.clock = clock
        self.streams = streams

    @asynccontextmanager
    async def book(self, tx: Tx) -> AsyncIterator[Book]:
        book = Book(tx, self.clock, self.streams)
        yield book
        await book.close()
