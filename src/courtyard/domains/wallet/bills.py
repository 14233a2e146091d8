"""Bill payments: a user pays a registered biller with the reference the biller issued them
(a meter number, a phone number). One transaction per bill: the idempotency key, the
``bill_payment`` entry from the payer to the biller's account, the bill row, the payer's
``wallet_user_flows`` row and the ``wallet.bill`` event (docs/wallet.md, "Bills").

What needs no lock is checked first and binds nothing: the biller (a stale read is fine: its
pattern and bounds are reference data), the reference, the amount's currency and bounds, the
PIN. Funds and the daily limit are judged under the payer's account lock and stored with the
key, like every debit's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from courtyard.core.errors import InvalidInput
from courtyard.core.ids import is_id, new_id
from courtyard.core.money import CurrencyMismatch, Money
from courtyard.db import Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.wallet.billers import BillerRegistry, biller_wire
from courtyard.domains.wallet.commerce_models import Biller, BillPayment
from courtyard.domains.wallet.context import Flow, WalletContext, iso
from courtyard.domains.wallet.errors import (
    AmountOutOfBounds,
    BillerNotFound,
    BillNotFound,
    InvalidReference,
)
from courtyard.domains.wallet.flow_models import WalletUserFlow
from courtyard.domains.wallet.idempotency import Answer, Request, request_hash
from courtyard.domains.wallet.ledger import EntryDraft, Leg

BILL_EVENT = "wallet.bill"
MAX_REFERENCE = 64  # the column's width; no biller issues longer references


@dataclass(frozen=True, slots=True)
class BillRequest:
    biller_id: str
    reference: str
    amount: Money
    pin: object


def bill_wire(row: BillPayment, biller: Biller | None) -> dict[str, Any]:
    payee = {"biller_id": row.biller_id, "name": None, "category": None}
    if biller is not None:
        payee.update(name=biller.name, category=biller.category)
    return {
        "bill_id": row.bill_id,
        "biller": payee,
        "reference": row.reference,
        "amount": Money(row.amount_minor, row.currency).to_wire(),
        "state": row.state,
        "created_at": iso(row.created_at),
    }


class Bills(Flow):
    def __init__(self, context: WalletContext, billers: BillerRegistry) -> None:
        super().__init__(context)
        self.billers = billers

    async def payable_billers(self) -> list[dict[str, Any]]:
        """The billers that take payments now, by name."""
        return [biller_wire(row) for row in await self.billers.billers(enabled_only=True)]

    async def do_pay(self, identity: Identity, key: str, req: BillRequest) -> Answer:
        """Pay ``req.amount`` to the biller for ``req.reference``; exactly once per key."""
        self.policy.check_single(req.amount)
        request = Request(
            identity.user_id,
            key,
            "bill.create",
            request_hash(
                "bill.create",
                {
                    "biller_id": req.biller_id,
                    "reference": req.reference,
                    "amount_minor": req.amount.amount_minor,
                    "currency": req.amount.currency,
                },
            ),
        )
        if (replay := await self.idempotency.replay(request)) is not None:
            return replay
        biller = await self._check_payable(req)
        await self.pins.check(identity.user_id, req.pin)
        payer = await self.accounts.ensure_user(identity.user_id, biller.currency)
        payee = await self.accounts.ensure_biller(biller.biller_id, biller.currency)
        daily = self.policy.daily_limit(biller.currency).amount_minor
        bill_id = new_id()

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            now = self.clock.now()
            async with self.ledger.book(tx) as book:
                posted = await book.post(
                    EntryDraft(
                        "bill_payment",
                        biller.category,
                        (
                            Leg(payer, -req.amount.amount_minor, daily_limit_minor=daily),
                            Leg(payee, req.amount.amount_minor),
                        ),
                        initiator=f"user:{identity.user_id}",
                        flow_kind="bill",
                        flow_id=bill_id,
                    )
                )
                row = BillPayment(
                    user_id=identity.user_id,
                    bill_id=bill_id,
                    biller_id=biller.biller_id,
                    reference=req.reference,
                    amount_minor=req.amount.amount_minor,
                    currency=req.amount.currency,
                    state="completed",
                    entry_id=posted.entry_id,
                    idempotency_key=key,
                    created_at=now,
                )
                tx.session.add(row)
                await tx.session.flush()
                await tx.session.execute(
                    insert(WalletUserFlow).values(
                        user_id=identity.user_id, flow_id=bill_id, flow_kind="bill",
                        role="payer", created_at=now,
                    )
                )  # fmt: skip
                book.emit(identity.user_id, BILL_EVENT, _event(row))
            return bill_wire(row, biller), bill_id

        return await self.idempotency.run(request, effect)

    async def _check_payable(self, req: BillRequest) -> Biller:
        """The enabled biller ``req`` names, if it would take this reference and amount."""
        biller = await self.billers.get_biller(req.biller_id)
        if biller is None or not biller.enabled:
            raise BillerNotFound()
        if req.amount.currency != biller.currency:
            raise CurrencyMismatch(
                f"{biller.name} takes {biller.currency} only", currency=biller.currency
            )
        if len(req.reference) > MAX_REFERENCE or not re.fullmatch(
            biller.reference_pattern, req.reference
        ):
            hint = biller.reference_hint or "the reference on your bill"
            raise InvalidReference(
                f"{biller.name} expects {hint}", reference_hint=biller.reference_hint
            )
        low = Money(biller.min_minor, biller.currency)
        high = Money(biller.max_minor, biller.currency)
        if req.amount < low or high < req.amount:
            raise AmountOutOfBounds(
                f"{biller.name} takes bills from {low} to {high}",
                min=low.to_wire(),
                max=high.to_wire(),
            )
        return biller

    async def list_bills(
        self, identity: Identity, before: str | None, limit: int
    ) -> dict[str, Any]:
        """The caller's bills, newest first (ids are time-ordered), ``limit`` a page."""
        query = (
            select(BillPayment)
            .where(BillPayment.user_id == identity.user_id)
            .order_by(BillPayment.bill_id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            if not is_id(before):  # e.g. a NUL byte, which PostgreSQL refuses in text
                raise InvalidInput("before must be a bill id from an earlier page")
            query = query.where(BillPayment.bill_id < before)
        async with self.db.read() as session:
            rows = list(await session.scalars(query))
        page = rows[:limit]
        billers = await self.billers.get_billers_by_id({row.biller_id for row in page})
        return {
            "bills": [bill_wire(row, billers.get(row.biller_id)) for row in page],
            "has_more": len(rows) > limit,
        }

    async def access_bill(self, identity: Identity, bill_id: str) -> dict[str, Any]:
        """One of the caller's bills; anyone else's (or none) is ``bill_not_found``."""
        if not is_id(bill_id):
            raise BillNotFound()
        async with self.db.read() as session:
            row = await session.get(BillPayment, (identity.user_id, bill_id))
        if row is None:
            raise BillNotFound()
        return bill_wire(row, await self.billers.get_biller(row.biller_id))


def _event(row: BillPayment) -> dict[str, Any]:
    return {
        "bill_id": row.bill_id,
        "biller_id": row.biller_id,
        "amount": Money(row.amount_minor, row.currency).to_wire(),
        "state": row.state,
    }
