"""Statements: one line per posting on the user's main account, newest first, as JSON pages
or CSV; and spending per category for the chart (docs/wallet.md, "Statements and
categories")."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.money import Money
from courtyard.db import Database
from courtyard.domains.accounts import get_profiles
from courtyard.domains.wallet.accounts import AccountDirectory
from courtyard.domains.wallet.commerce_models import Biller, BillPayment, Merchant, Payment
from courtyard.domains.wallet.context import iso
from courtyard.domains.wallet.errors import RangeTooLong
from courtyard.domains.wallet.flow_models import ProviderOperation, Transfer
from courtyard.domains.wallet.models import LedgerEntry, LedgerPosting

MAX_RANGE = dt.timedelta(days=366)
CSV_COLUMNS = (
    "posted_at", "entry_id", "kind", "category", "counterparty", "amount", "currency",
    "balance_after", "flow_kind", "flow_id",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Spending: debits the user started, less their reversals, per category; money received from
# others is income, not negative spending. Top-ups, withdrawals and adjustments are neither.
SPENDING_KINDS = ("transfer_send", "red_packet_create", "payment", "bill_payment")
REVERSAL_KINDS = ("transfer_return", "transfer_refund", "red_packet_refund", "payment_refund")
INCOME_KINDS = ("transfer_accept", "red_packet_grab")


@dataclass(frozen=True, slots=True)
class StatementQuery:
    currency: str
    start: dt.datetime
    end: dt.datetime
    cursor: tuple[dt.datetime, str] | None = None
    limit: int = 100


class Statements:
    def __init__(self, db: Database, accounts: AccountDirectory) -> None:
        self.db = db
        self.accounts = accounts

    async def lines(self, user_id: str, query: StatementQuery) -> list[dict[str, Any]]:
        """A page of statement lines in ``[start, end)``, newest first, after ``cursor``."""
        _check_range(query.start, query.end)
        account = await self.accounts.find_user(user_id, query.currency)
        if account is None:
            return []
        return await self._account_lines(account.account_id, user_id, query)

    async def merchant_lines(self, merchant_id: str, query: StatementQuery) -> list[dict[str, Any]]:
        """The same for a merchant's account (its owner's view): payers as counterparties."""
        _check_range(query.start, query.end)
        account = await self.accounts.find_merchant(merchant_id, query.currency)
        if account is None:
            return []
        return await self._account_lines(account.account_id, None, query)

    async def _account_lines(
        self, account_id: str, user_id: str | None, query: StatementQuery
    ) -> list[dict[str, Any]]:
        """Lines of one account; ``user_id`` is its owner, None for a merchant's account."""
        statement = (
            select(LedgerPosting, LedgerEntry)
            .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
            .where(
                LedgerPosting.account_id == account_id,
                LedgerPosting.created_at >= query.start,
                LedgerPosting.created_at < query.end,
            )
            .order_by(LedgerPosting.created_at.desc(), LedgerPosting.entry_id.desc())
            .limit(query.limit)
        )
        if query.cursor is not None:
            statement = statement.where(
                tuple_(LedgerPosting.created_at, LedgerPosting.entry_id) < tuple_(*query.cursor)
            )
        async with self.db.read() as session:
            rows = (await session.execute(statement)).all()
            parties = await _counterparties(session, user_id, [entry for _, entry in rows])
        return [_line(posting, entry, parties) for posting, entry in rows]

    async def spending(
        self, user_id: str, currency: str, start: dt.datetime, end: dt.datetime
    ) -> dict[str, Any]:
        """What the user spent per category in ``[start, end)`` (categories with nothing
        spent left out, largest first) and what they received, from one ``GROUP BY`` over
        their main account's postings."""
        _check_range(start, end)
        rows: list[tuple[str, int, int]] = []
        account = await self.accounts.find_user(user_id, currency)
        if account is not None:
            amount = LedgerPosting.amount_minor
            spent = case((LedgerEntry.kind.in_(SPENDING_KINDS + REVERSAL_KINDS), -amount), else_=0)
            received = case((LedgerEntry.kind.in_(INCOME_KINDS), amount), else_=0)
            query = (
                select(LedgerEntry.category, func.sum(spent), func.sum(received))
                .select_from(LedgerPosting)
                .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
                .where(
                    LedgerPosting.account_id == account.account_id,
                    LedgerPosting.created_at >= start,
                    LedgerPosting.created_at < end,
                    LedgerEntry.kind.in_(SPENDING_KINDS + REVERSAL_KINDS + INCOME_KINDS),
                )
                .group_by(LedgerEntry.category)
            )
            async with self.db.read() as session:
                # int(): PostgreSQL sums BIGINT into NUMERIC.
                rows = [(c, int(s or 0), int(r or 0)) for c, s, r in await session.execute(query)]
        categories = sorted(((c, s) for c, s, _ in rows if s > 0), key=lambda cs: (-cs[1], cs[0]))
        return {
            "currency": currency,
            "from": iso(start),
            "to": iso(end),
            "categories": [
                {"category": c, "spent": Money(s, currency).to_wire()} for c, s in categories
            ],
            "income": Money(sum(r for _, _, r in rows), currency).to_wire(),
        }


def to_csv(lines: Iterable[dict[str, Any]]) -> str:
    """The CSV statement; text cells that a spreadsheet would run as a formula are quoted."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        party = line["counterparty"]
        flow = line["flow"] or {}
        writer.writerow(
            [
                line["posted_at"], line["entry_id"], line["kind"], line["category"],
                _cell(party["name"] or party["kind"]), line["amount"]["amount"],
                line["amount"]["currency"], line["balance_after"]["amount"],
                flow.get("kind", ""), flow.get("id", ""),
            ]
        )  # fmt: skip
    return out.getvalue()


def _check_range(start: dt.datetime, end: dt.datetime) -> None:
    if end - start > MAX_RANGE or end <= start:
        raise RangeTooLong("from must be before to, at most 366 days apart")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _line(
    posting: LedgerPosting, entry: LedgerEntry, parties: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    flow = {"kind": entry.flow_kind, "id": entry.flow_id} if entry.flow_id else None
    balance = posting.balance_after if posting.balance_after is not None else 0
    return {
        "posted_at": iso(posting.created_at),
        "entry_id": entry.entry_id,
        "kind": entry.kind,
        "category": entry.category,
        "flow": flow,
        "counterparty": parties.get(entry.entry_id, {"kind": "system", "id": None, "name": None}),
        "amount": Money(posting.amount_minor, posting.currency).to_wire(),
        "balance_after": Money(balance, posting.currency).to_wire(),
    }


async def _counterparties(
    session: AsyncSession, user_id: str | None, entries: list[LedgerEntry]
) -> dict[str, dict[str, Any]]:
    """Who was on the other side of each entry, with names resolved now ("deleted user"
    once an account is erased); ``user_id`` None is a merchant's account."""
    if user_id is None:
        payers = await _payment_parties(session, entries, merchant_view=True)
        return {e.entry_id: payers[e.flow_id] for e in entries if e.flow_id in payers}
    transfer_ids = {e.flow_id for e in entries if e.flow_kind == "transfer" and e.flow_id}
    operation_ids = {e.flow_id for e in entries if e.flow_kind == "operation" and e.flow_id}
    others: dict[str, str] = {}
    if transfer_ids:
        for row in await session.scalars(
            select(Transfer).where(Transfer.transfer_id.in_(sorted(transfer_ids)))
        ):
            mine = row.sender_user_id == user_id
            others[row.transfer_id] = row.recipient_user_id if mine else row.sender_user_id
    providers: dict[str, str] = {}
    if operation_ids:
        for op in await session.scalars(
            select(ProviderOperation).where(ProviderOperation.operation_id.in_(operation_ids))
        ):
            providers[op.operation_id] = op.provider
    profiles = await get_profiles(session, set(others.values()))
    parties: dict[str, dict[str, Any]] = {}
    payees = await _bill_payees(session, user_id, entries)
    payees.update(await _payment_parties(session, entries, merchant_view=False))
    for entry in entries:
        if entry.flow_id in others:
            other = others[entry.flow_id]
            name = profiles[other][1] if other in profiles else "deleted user"
            parties[entry.entry_id] = {"kind": "user", "id": other, "name": name}
        elif entry.flow_id in providers:
            provider = providers[entry.flow_id]
            parties[entry.entry_id] = {"kind": "provider", "id": provider, "name": provider}
        elif entry.flow_id in payees:
            parties[entry.entry_id] = payees[entry.flow_id]
    return parties


async def _bill_payees(
    session: AsyncSession, user_id: str, entries: list[LedgerEntry]
) -> dict[str, dict[str, Any]]:
    """The biller each of the user's bill entries paid, by bill id."""
    bill_ids = {e.flow_id for e in entries if e.flow_kind == "bill" and e.flow_id}
    if not bill_ids:
        return {}
    rows = await session.execute(
        select(BillPayment.bill_id, Biller.biller_id, Biller.name)
        .join(Biller, Biller.biller_id == BillPayment.biller_id)
        .where(BillPayment.user_id == user_id, BillPayment.bill_id.in_(sorted(bill_ids)))
    )
    return {bill: {"kind": "biller", "id": biller, "name": name} for bill, biller, name in rows}


async def _payment_parties(
    session: AsyncSession, entries: list[LedgerEntry], *, merchant_view: bool
) -> dict[str, dict[str, Any]]:
    """By payment id: the merchant a user paid, or (``merchant_view``) the payer who paid."""
    payment_ids = {e.flow_id for e in entries if e.flow_kind == "payment" and e.flow_id}
    if not payment_ids:
        return {}
    rows = (
        await session.execute(
            select(Payment.payment_id, Payment.payer_user_id, Merchant.merchant_id, Merchant.name)
            .join(Merchant, Merchant.merchant_id == Payment.merchant_id)
            .where(Payment.payment_id.in_(sorted(payment_ids)))
        )
    ).all()
    if not merchant_view:
        return {p: {"kind": "merchant", "id": m, "name": name} for p, _, m, name in rows}
    profiles = await get_profiles(session, {payer for _, payer, _, _ in rows})
    return {
        p: {
            "kind": "user",
            "id": payer,
            "name": profiles[payer][1] if payer in profiles else "deleted user",
        }
        for p, payer, _, _ in rows
    }
