"""Reads for the lawful-request desk's ``transactions`` category (docs/legal-desk.md): a
user's own wallet accounts, the ledger entries in a time window that post to them with all
their postings, and the transfers, merchant payments and bills they took part in. Runs in
the caller's session; amounts stay integer minor units."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from courtyard.domains.wallet.commerce_models import BillPayment, Payment
from courtyard.domains.wallet.flow_models import Transfer, WalletUserFlow
from courtyard.domains.wallet.models import LedgerAccount, LedgerEntry, LedgerPosting


def _within(
    statement: Select[Any], column: Any, start: dt.datetime | None, end: dt.datetime | None
) -> Select[Any]:
    if start is not None:
        statement = statement.where(column >= start)
    if end is not None:
        statement = statement.where(column < end)
    return statement


async def get_transaction_records(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> dict[str, Any]:
    """Everything of the ``transactions`` category for ``user_id`` in ``[start, end)``."""
    accounts = list(
        await session.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.owner_kind == "user", LedgerAccount.owner_id == user_id)
            .order_by(LedgerAccount.created_at, LedgerAccount.account_id)
        )
    )
    account_ids = [a.account_id for a in accounts]
    entry_ids: list[str] = []
    if account_ids:
        entry_ids = sorted(
            set(
                await session.scalars(
                    _within(
                        select(LedgerPosting.entry_id).where(
                            LedgerPosting.account_id.in_(account_ids)
                        ),
                        LedgerPosting.created_at,
                        start,
                        end,
                    )
                )
            )
        )
    return {
        "accounts": [
            {
                "account_id": a.account_id,
                "currency": a.currency,
                "purpose": a.purpose,
                "status": a.status,
                "created_at": a.created_at,
            }
            for a in accounts
        ],
        "entries": await _entries(session, entry_ids),
        "transfers": await _transfers(session, user_id, start, end),
        "payments": await _payments(session, user_id, start, end),
        "bills": [
            {
                "bill_id": b.bill_id,
                "biller_id": b.biller_id,
                "reference": b.reference,
                "amount_minor": b.amount_minor,
                "currency": b.currency,
                "state": b.state,
                "entry_id": b.entry_id,
                "created_at": b.created_at,
            }
            for b in await session.scalars(
                _within(
                    select(BillPayment).where(BillPayment.user_id == user_id),
                    BillPayment.created_at,
                    start,
                    end,
                ).order_by(BillPayment.created_at)
            )
        ],
    }


async def _entries(session: AsyncSession, entry_ids: list[str]) -> list[dict[str, Any]]:
    if not entry_ids:
        return []
    postings: dict[str, list[dict[str, Any]]] = {}
    for p in await session.scalars(
        select(LedgerPosting)
        .where(LedgerPosting.entry_id.in_(entry_ids))
        .order_by(LedgerPosting.entry_id, LedgerPosting.leg)
    ):
        postings.setdefault(p.entry_id, []).append(
            {
                "account_id": p.account_id,
                "leg": p.leg,
                "currency": p.currency,
                "amount_minor": p.amount_minor,
                "balance_after": p.balance_after,
            }
        )
    entries = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.entry_id.in_(entry_ids))
        .order_by(LedgerEntry.created_at, LedgerEntry.entry_id)
    )
    return [
        {
            "entry_id": e.entry_id,
            "kind": e.kind,
            "category": e.category,
            "currency": e.currency,
            "flow_kind": e.flow_kind,
            "flow_id": e.flow_id,
            "created_at": e.created_at,
            "postings": postings.get(e.entry_id, []),
        }
        for e in entries
    ]


async def _flow_ids(
    session: AsyncSession,
    user_id: str,
    kind: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> list[str]:
    statement = select(WalletUserFlow.flow_id).where(
        WalletUserFlow.user_id == user_id, WalletUserFlow.flow_kind == kind
    )
    return sorted(
        set(await session.scalars(_within(statement, WalletUserFlow.created_at, start, end)))
    )


async def _transfers(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> list[dict[str, Any]]:
    ids = await _flow_ids(session, user_id, "transfer", start, end)
    if not ids:
        return []
    rows = await session.scalars(
        select(Transfer).where(Transfer.transfer_id.in_(ids)).order_by(Transfer.created_at)
    )
    return [
        {
            "transfer_id": t.transfer_id,
            "sender_user_id": t.sender_user_id,
            "recipient_user_id": t.recipient_user_id,
            "conversation_id": t.conversation_id,
            "amount_minor": t.amount_minor,
            "currency": t.currency,
            "state": t.state,
            "created_at": t.created_at,
            "resolved_at": t.resolved_at,
            "send_entry_id": t.send_entry_id,
            "resolve_entry_id": t.resolve_entry_id,
        }
        for t in rows
    ]


async def _payments(
    session: AsyncSession, user_id: str, start: dt.datetime | None, end: dt.datetime | None
) -> list[dict[str, Any]]:
    ids = await _flow_ids(session, user_id, "payment", start, end)
    if not ids:
        return []
    rows = await session.scalars(
        select(Payment)
        .where(Payment.payment_id.in_(ids), Payment.payer_user_id == user_id)
        .order_by(Payment.created_at)
    )
    return [
        {
            "payment_id": p.payment_id,
            "merchant_id": p.merchant_id,
            "qr_id": p.qr_id,
            "amount_minor": p.amount_minor,
            "currency": p.currency,
            "refunded_minor": p.refunded_minor,
            "state": p.state,
            "entry_id": p.entry_id,
            "created_at": p.created_at,
        }
        for p in rows
    ]
