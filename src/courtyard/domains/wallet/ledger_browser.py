"""The ledger as operators browse it: search, one account with its postings, one entry.

Each read that shows a user's, merchant's or biller's money appends an audit-log entry in the
same transaction as the read (docs/wallet.md, "Admin console pages"; docs/audit-log.md), so
the log cannot miss a view that happened, nor list one that failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.clock import Clock
from courtyard.core.ids import is_id
from courtyard.core.money import Money
from courtyard.db import Database, Tx, UTCDateTime
from courtyard.domains.accounts import get_profiles, get_user_id_by_username, record_operator_action
from courtyard.domains.wallet.commerce_models import Biller, Merchant
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting
from courtyard.domains.wallet.oversight_errors import LedgerAccountNotFound, LedgerEntryNotFound

PAGE_SIZE = 50
MAX_QUERY_CHARS = 64
# The flow kinds entries are written with. A search names the kinds so that it is a lookup in
# the index (flow_kind, flow_id), not a scan of every entry; a new flow kind is added here.
FLOW_KINDS = ("transfer", "red_packet", "operation", "payment", "bill")


@dataclass(frozen=True, slots=True)
class AccountLine:
    """An account as a row in a list; ``owner_name`` is the username, merchant or biller
    name; ``balance`` is the cached balance (None for system accounts, which keep none)."""

    account_id: str
    owner_kind: str
    owner_id: str | None
    owner_name: str | None
    purpose: str
    provider: str | None
    currency: str
    status: str
    balance: Money | None


@dataclass(frozen=True, slots=True)
class PostingLine:
    entry_id: str
    leg: int
    kind: str
    category: str
    amount: Money
    balance_after: Money | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AccountPage:
    """One account, its balance both ways, and a page of postings, newest first; ``older``
    is the cursor of the next page (None on the last)."""

    account: AccountLine
    allow_negative: bool
    derived: Money
    newest_balance_after: Money | None
    postings: list[PostingLine]
    older: str | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def consistent(self) -> bool:
        """Cached = derived (= the newest posting's balance) for a cached account."""
        cached = self.account.balance
        if cached is None:
            return True
        return cached == self.derived and self.newest_balance_after in (None, cached)


@dataclass(frozen=True, slots=True)
class EntryLeg:
    leg: int
    account: AccountLine
    amount: Money
    balance_after: Money | None


@dataclass(frozen=True, slots=True)
class EntryPage:
    entry_id: str
    kind: str
    category: str
    currency: str
    flow_kind: str | None
    flow_id: str | None
    initiator: str
    created_at: dt.datetime
    legs: list[EntryLeg]


@dataclass(frozen=True, slots=True)
class SearchResults:
    """What a query matched: a username's accounts, an account, an entry, flows."""

    query: str
    user_id: str | None = None
    username: str | None = None
    accounts: tuple[AccountLine, ...] = ()
    entry_ids: tuple[str, ...] = ()
    flows: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.user_id or self.accounts or self.entry_ids or self.flows)


class LedgerBrowser:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def search(self, operator_id: str, query: str) -> SearchResults:
        """Find ``query`` as a username, an account id, an entry id or a flow id."""
        query = query.strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            return SearchResults(query=query)
        async with self.db.transaction() as tx:
            session = tx.session
            user_id = await get_user_id_by_username(session, query)
            owned = (LedgerAccount.owner_kind == "user") & (LedgerAccount.owner_id == user_id)
            by_id = LedgerAccount.account_id == query
            rows = await session.scalars(
                select(LedgerAccount)
                .where(by_id | owned if user_id else by_id)
                .order_by(LedgerAccount.currency, LedgerAccount.account_id)
            )
            accounts = await account_lines(session, list(rows))
            entries = await session.scalars(
                select(LedgerEntry.entry_id).where(LedgerEntry.entry_id == query)
            )
            flows = await session.execute(
                select(LedgerEntry.flow_kind, LedgerEntry.flow_id)
                .where(LedgerEntry.flow_kind.in_(FLOW_KINDS), LedgerEntry.flow_id == query)
                .distinct()
            )
            profiles = await get_profiles(session, {user_id} if user_id else set())
            results = SearchResults(
                query=query,
                user_id=user_id,
                username=profiles[user_id][0] if user_id in profiles else None,
                accounts=tuple(accounts),
                entry_ids=tuple(entries),
                flows=tuple((str(kind), str(flow)) for kind, flow in flows),
            )
            if user_id:
                await self._record(tx, operator_id, "wallet.ledger.search", f"user:{user_id}")
            for line in accounts:
                if line.account_id == query and line.owner_kind != "system":
                    owner = line.owner_id if line.owner_kind == "user" else None
                    await self._record(
                        tx, operator_id, "wallet.ledger.search", f"account:{query}", owner
                    )
        return results

    async def access_account(
        self, operator_id: str, account_id: str, older: str | None = None
    ) -> AccountPage:
        """An account, cached vs derived balance (computed now), and a page of postings
        before the cursor ``older``; ``LedgerAccountNotFound`` if there is no such account."""
        async with self.db.transaction() as tx:
            session = tx.session
            row = await session.get(LedgerAccount, account_id)
            if row is None:
                raise LedgerAccountNotFound()
            [line] = await account_lines(session, [row])
            derived = await session.scalar(
                select(func.coalesce(func.sum(LedgerPosting.amount_minor), 0)).where(
                    LedgerPosting.account_id == account_id
                )
            )
            newest = None
            if row.last_entry_id is not None:
                newest = await session.scalar(
                    select(LedgerPosting.balance_after)
                    .where(
                        LedgerPosting.account_id == account_id,
                        LedgerPosting.entry_id == row.last_entry_id,
                    )
                    .order_by(LedgerPosting.leg.desc())
                    .limit(1)
                )
            postings, next_cursor = await _postings_page(session, row, older)
            if row.owner_kind != "system":
                owner = row.owner_id if row.owner_kind == "user" else None
                await self._record(
                    tx, operator_id, "wallet.account.view", f"account:{account_id}", owner
                )
        return AccountPage(
            account=line,
            allow_negative=row.allow_negative,
            derived=Money(int(derived or 0), row.currency),
            newest_balance_after=None if newest is None else Money(int(newest), row.currency),
            postings=postings,
            older=next_cursor,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    async def access_entry(self, operator_id: str, entry_id: str) -> EntryPage:
        """An entry and its postings; ``LedgerEntryNotFound`` if there is none."""
        async with self.db.transaction() as tx:
            entry = await tx.session.get(LedgerEntry, entry_id)
            if entry is None:
                raise LedgerEntryNotFound()
            [page] = await entry_pages(tx.session, [entry])
            if any(leg.account.owner_kind != "system" for leg in page.legs):
                await self._record(tx, operator_id, "wallet.entry.view", f"entry:{entry_id}")
        return page

    async def _record(
        self, tx: Tx, operator_id: str, action: str, target: str, subject: str | None = None
    ) -> None:
        await record_operator_action(
            tx, self.clock, operator_id, action, target, subject_user_id=subject
        )


async def account_lines(session: AsyncSession, rows: list[LedgerAccount]) -> list[AccountLine]:
    """``AccountLine`` for each row, with owners' names looked up in one query per kind."""
    names = await _owner_names(session, rows)
    return [
        AccountLine(
            account_id=row.account_id,
            owner_kind=row.owner_kind,
            owner_id=row.owner_id,
            owner_name=names.get((row.owner_kind, row.owner_id or "")),
            purpose=row.purpose,
            provider=row.provider,
            currency=row.currency,
            status=row.status,
            balance=None if row.balance_minor is None else Money(row.balance_minor, row.currency),
        )
        for row in rows
    ]


async def entry_pages(session: AsyncSession, entries: Iterable[LedgerEntry]) -> list[EntryPage]:
    """Each entry with its legs, in leg order (two queries whatever the count)."""
    entries = list(entries)
    ids = [entry.entry_id for entry in entries]
    rows = (
        await session.execute(
            select(LedgerPosting, LedgerAccount)
            .join(LedgerAccount, LedgerAccount.account_id == LedgerPosting.account_id)
            .where(LedgerPosting.entry_id.in_(ids))
            .order_by(LedgerPosting.entry_id, LedgerPosting.leg)
        )
    ).all()
    lines = {
        line.account_id: line
        for line in await account_lines(session, [account for _, account in rows])
    }
    legs: dict[str, list[EntryLeg]] = {entry_id: [] for entry_id in ids}
    for posting, account in rows:
        after = posting.balance_after
        legs[posting.entry_id].append(
            EntryLeg(
                leg=posting.leg,
                account=lines[account.account_id],
                amount=Money(posting.amount_minor, posting.currency),
                balance_after=None if after is None else Money(after, posting.currency),
            )
        )
    return [
        EntryPage(
            entry_id=entry.entry_id,
            kind=entry.kind,
            category=entry.category,
            currency=entry.currency,
            flow_kind=entry.flow_kind,
            flow_id=entry.flow_id,
            initiator=entry.initiator,
            created_at=entry.created_at,
            legs=legs[entry.entry_id],
        )
        for entry in entries
    ]


async def _postings_page(
    session: AsyncSession, account: LedgerAccount, older: str | None
) -> tuple[list[PostingLine], str | None]:
    """Up to ``PAGE_SIZE`` postings before the cursor (``<entry id>.<leg>``), newest first,
    in the order of the index ``(account_id, created_at, entry_id)``."""
    where = [LedgerPosting.account_id == account.account_id]
    cursor = await _cursor(session, account.account_id, older)
    if cursor is not None:
        where.append(
            tuple_(LedgerPosting.created_at, LedgerPosting.entry_id, LedgerPosting.leg)
            < tuple_(literal(cursor[0], UTCDateTime()), literal(cursor[1]), literal(cursor[2]))
        )
    rows = (
        await session.execute(
            select(LedgerPosting, LedgerEntry.kind, LedgerEntry.category)
            .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
            .where(and_(*where))
            .order_by(
                LedgerPosting.created_at.desc(),
                LedgerPosting.entry_id.desc(),
                LedgerPosting.leg.desc(),
            )
            .limit(PAGE_SIZE + 1)
        )
    ).all()
    lines = [
        PostingLine(
            entry_id=posting.entry_id,
            leg=posting.leg,
            kind=kind,
            category=category,
            amount=Money(posting.amount_minor, posting.currency),
            balance_after=(
                None
                if posting.balance_after is None
                else Money(posting.balance_after, posting.currency)
            ),
            created_at=posting.created_at,
        )
        for posting, kind, category in rows[:PAGE_SIZE]
    ]
    more = len(rows) > PAGE_SIZE
    return lines, f"{lines[-1].entry_id}.{lines[-1].leg}" if more else None


async def _cursor(
    session: AsyncSession, account_id: str, older: str | None
) -> tuple[dt.datetime, str, int] | None:
    """The (time, entry, leg) a cursor points at; a cursor that names no posting of this
    account means the first page."""
    entry_id, _, leg = (older or "").rpartition(".")
    if not is_id(entry_id) or not leg.isdigit() or len(leg) > 4:
        return None
    created_at = await session.scalar(
        select(LedgerPosting.created_at).where(
            LedgerPosting.account_id == account_id,
            LedgerPosting.entry_id == entry_id,
            LedgerPosting.leg == int(leg),
        )
    )
    return None if created_at is None else (created_at, entry_id, int(leg))


async def _owner_names(
    session: AsyncSession, rows: list[LedgerAccount]
) -> dict[tuple[str, str], str]:
    ids: dict[str, set[str]] = {"user": set(), "merchant": set(), "biller": set()}
    for row in rows:
        if row.owner_id is not None and row.owner_kind in ids:
            ids[row.owner_kind].add(row.owner_id)
    names = {
        ("user", user_id): username
        for user_id, (username, _display) in (await get_profiles(session, ids["user"])).items()
    }
    if ids["merchant"]:
        merchants = await session.execute(
            select(Merchant.merchant_id, Merchant.name).where(
                Merchant.merchant_id.in_(sorted(ids["merchant"]))
            )
        )
        names.update({("merchant", m): name for m, name in merchants})
    if ids["biller"]:
        billers = await session.execute(
            select(Biller.biller_id, Biller.name).where(Biller.biller_id.in_(sorted(ids["biller"])))
        )
        names.update({("biller", b): name for b, name in billers})
    return names
