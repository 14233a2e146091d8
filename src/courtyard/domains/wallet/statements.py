"""Statements: one line per posting on the user's main account, newest first, as JSON pages
or CSV (docs/wallet.md, "Statements and categories")."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.core.money import Money
from courtyard.db import Database
from courtyard.domains.accounts import get_profiles
from courtyard.domains.wallet.accounts import AccountDirectory
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
        if query.end - query.start > MAX_RANGE or query.end <= query.start:
            raise RangeTooLong("from must be before to, at most 366 days apart")
        account = await self.accounts.find_user(user_id, query.currency)
        if account is None:
            return []
        statement = (
            select(LedgerPosting, LedgerEntry)
            .join(LedgerEntry, LedgerEntry.entry_id == LedgerPosting.entry_id)
            .where(
                LedgerPosting.account_id == account.account_id,
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
    session: AsyncSession, user_id: str, entries: list[LedgerEntry]
) -> dict[str, dict[str, Any]]:
    """Who was on the other side of each entry, with names resolved now ("deleted user"
    once an account is erased)."""
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
    for entry in entries:
        if entry.flow_id in others:
            other = others[entry.flow_id]
            name = profiles[other][1] if other in profiles else "deleted user"
            parties[entry.entry_id] = {"kind": "user", "id": other, "name": name}
        elif entry.flow_id in providers:
            provider = providers[entry.flow_id]
            parties[entry.entry_id] = {"kind": "provider", "id": provider, "name": provider}
    return parties
