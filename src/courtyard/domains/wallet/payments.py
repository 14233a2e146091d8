"""Scan to pay, and partial refunds by the merchant's owner (docs/wallet.md, "Merchants and
QR payments").

A payment is one transaction: the idempotency key, the payer's and the merchant's accounts
(locked in id order), the ``payment`` entry (payer -X, merchant +(X-f), fees +f), the payment
row, both parties' flow rows and their ``wallet.payment`` and ``wallet.balance`` events. A
merchant always accepts, so there is no second step. A refund locks the payment row first
(level 3 of the lock order), so concurrent partial refunds are judged one after another
against what has already been refunded and can never exceed the payment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_

from courtyard.core.ids import is_id, new_id
from courtyard.core.money import CurrencyMismatch, InvalidAmount, Money, UnsupportedCurrency
from courtyard.core.qr_payload import InvalidQr, QrPayload
from courtyard.db import Tx
from courtyard.domains.accounts import Identity
from courtyard.domains.wallet.commerce_models import (
    Merchant,
    MerchantQrCode,
    Payment,
    PaymentRefund,
)
from courtyard.domains.wallet.context import Flow, WalletContext, iso
from courtyard.domains.wallet.errors import (
    AmountMismatch,
    MerchantUnavailable,
    NotMerchantOwner,
    PaymentNotFound,
    QrRevoked,
    RefundExceedsPayment,
    RefundWindowClosed,
    SelfPayment,
)
from courtyard.domains.wallet.flow_models import WalletUserFlow
from courtyard.domains.wallet.idempotency import Answer, Request, request_hash
from courtyard.domains.wallet.ledger import Book, EntryDraft, Leg
from courtyard.domains.wallet.merchants import Merchants, merchant_public
from courtyard.domains.wallet.models import LedgerEntry
from courtyard.domains.wallet.qr_keys import QrKeyring

PAYMENT_EVENT = "wallet.payment"
BPS = 10_000


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """A scanned code and what the payer typed; amounts are judged by ``Money.parse``."""

    qr: object
    pin: object
    amount: object = None
    currency: object = None


@dataclass(frozen=True, slots=True)
class RefundRequest:
    amount: object
    pin: object
    currency: object = None


def payment_wire(
    row: Payment,
    merchant: Merchant,
    *,
    owner: bool,
    refunds: list[PaymentRefund] | None = None,
) -> dict[str, Any]:
    """A payment as its payer sees it; the owner also sees the fee kept by the platform."""
    body: dict[str, Any] = {
        "payment_id": row.payment_id,
        "merchant": merchant_public(merchant),
        "qr_id": row.qr_id,
        "payer_user_id": row.payer_user_id,
        "amount": Money(row.amount_minor, row.currency).to_wire(),
        "refunded": Money(row.refunded_minor, row.currency).to_wire(),
        "state": row.state,
        "created_at": iso(row.created_at),
    }
    if owner:
        body["fee"] = Money(row.fee_minor, row.currency).to_wire()
    if refunds is not None:
        body["refunds"] = [refund_wire(r, row.currency) for r in refunds]
    return body


def refund_wire(row: PaymentRefund, currency: str) -> dict[str, Any]:
    return {
        "refund_id": row.refund_id,
        "payment_id": row.payment_id,
        "amount": Money(row.amount_minor, currency).to_wire(),
        "created_at": iso(row.created_at),
    }


def fee_of(amount_minor: int, fee_bps: int) -> int:
    """The platform's fee: ``amount * fee_bps / 10,000``, rounded down (never the whole)."""
    return amount_minor * fee_bps // BPS


class Payments(Flow):
    def __init__(self, context: WalletContext, keyring: QrKeyring, merchants: Merchants) -> None:
        super().__init__(context)
        self.keyring = keyring
        self.merchants = merchants

    # --- before paying ----------------------------------------------------------------------

    def published_keys(self) -> list[dict[str, str]]:
        return self.keyring.published()

    async def resolve(self, qr: object) -> dict[str, Any]:
        """What a scanned code is: the merchant's name and, for a fixed code, the amount, so
        the payer sees whom they pay before giving the PIN."""
        merchant, code = await self._live_code(self.keyring.verify(qr))
        amount = Money(code.amount_minor, code.currency) if code.amount_minor else None
        return {
            "merchant": merchant_public(merchant),
            "qr_id": code.qr_id,
            "kind": code.kind,
            "amount": amount.to_wire() if amount else None,
            "currency": code.currency,
            "label": code.label,
        }

    async def _live_code(self, payload: QrPayload) -> tuple[Merchant, MerchantQrCode]:
        """The merchant and code a verified payload names, if they still take payments."""
        async with self.db.read() as session:
            code = await session.get(MerchantQrCode, (payload.merchant_id, payload.qr_id))
            merchant = await session.get(Merchant, payload.merchant_id)
        if code is None or merchant is None or code.key_id != payload.key_id:
            raise InvalidQr("This server issued no such code")
        if (code.amount_minor, code.currency) != (payload.amount_minor, payload.currency):
            raise InvalidQr("The code does not match the merchant's record")
        if code.revoked_at is not None:
            raise QrRevoked()
        if merchant.status != "active":
            raise MerchantUnavailable()
        return merchant, code

    def _amount(self, payload: QrPayload, req: PaymentRequest) -> Money:
        """What the payer pays: the fixed code's amount, or the one they typed for a static
        code, always in the code's currency."""
        if payload.currency not in self.policy.currencies:
            raise UnsupportedCurrency(f"This server no longer takes {payload.currency}")
        if req.currency is not None:
            self.policy.parse("1", req.currency)  # unsupported_currency for anything malformed
            if req.currency != payload.currency:
                raise CurrencyMismatch(f"This code takes {payload.currency}")
        if payload.amount_minor is None:
            if req.amount is None:
                raise InvalidAmount("Enter the amount to pay: this code has none")
            return self.policy.parse(req.amount, payload.currency)
        fixed = Money(payload.amount_minor, payload.currency)
        if req.amount is not None and self.policy.parse(req.amount, payload.currency) != fixed:
            raise AmountMismatch(f"This code is for {fixed}", amount=fixed.to_wire())
        return fixed

    # --- paying -----------------------------------------------------------------------------

    async def do_pay(self, identity: Identity, key: str, req: PaymentRequest) -> Answer:
        """Pay the merchant of a scanned code; exactly once per idempotency key. A retry is
        answered with the first result even if the code was revoked since."""
        payload = self.keyring.verify(req.qr)
        amount = self._amount(payload, req)
        self.policy.check_single(amount)
        request = Request(
            identity.user_id,
            key,
            "payment.create",
            request_hash(
                "payment.create",
                {
                    "merchant_id": payload.merchant_id,
                    "qr_id": payload.qr_id,
                    "amount_minor": amount.amount_minor,
                    "currency": amount.currency,
                },
            ),
        )
        if (replay := await self.idempotency.replay(request)) is not None:
            return replay
        merchant, code = await self._live_code(payload)
        if merchant.owner_user_id == identity.user_id:
            raise SelfPayment()
        await self.pins.check(identity.user_id, req.pin)
        payer = await self.accounts.ensure_user(identity.user_id, amount.currency)
        shop = await self.accounts.ensure_merchant(merchant.merchant_id, amount.currency)
        fees = await self.accounts.ensure_system("fees", amount.currency)
        fee = fee_of(amount.amount_minor, merchant.fee_bps)
        daily = self.policy.daily_limit(amount.currency).amount_minor
        payment_id = new_id()

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            now = self.clock.now()
            legs = [
                Leg(payer, -amount.amount_minor, daily_limit_minor=daily),
                Leg(shop, amount.amount_minor - fee),
            ]
            if fee:
                legs.append(Leg(fees, fee))
            async with self.ledger.book(tx) as book:
                posted = await book.post(
                    EntryDraft(
                        "payment", merchant.category, tuple(legs),
                        initiator=f"user:{identity.user_id}",
                        flow_kind="payment", flow_id=payment_id,
                    )
                )  # fmt: skip
                row = Payment(
                    payment_id=payment_id, merchant_id=merchant.merchant_id,
                    payer_user_id=identity.user_id, qr_id=code.qr_id,
                    amount_minor=amount.amount_minor, fee_minor=fee, currency=amount.currency,
                    refunded_minor=0, state="completed", entry_id=posted.entry_id,
                    order_ref=None, idempotency_key=key, created_at=now,
                )  # fmt: skip
                tx.session.add(row)
                await tx.session.flush()
                await tx.session.execute(
                    insert(WalletUserFlow),
                    [
                        {"user_id": user_id, "flow_id": payment_id, "flow_kind": "payment",
                         "role": role, "created_at": now}
                        for user_id, role in (
                            (identity.user_id, "payer"), (merchant.owner_user_id, "merchant")
                        )
                    ],
                )  # fmt: skip
                _announce(book, row, merchant)
            return payment_wire(row, merchant, owner=False), payment_id

        return await self.idempotency.run(request, effect)

    # --- refunds ----------------------------------------------------------------------------

    async def do_refund(
        self, identity: Identity, key: str, payment_id: str, req: RefundRequest
    ) -> Answer:
        """Give back part or all of a payment from the merchant's balance, by its owner, within
        the refund window; the refunds of a payment never add up to more than it."""
        row, merchant, category = await self._visible(identity, payment_id)
        if merchant.owner_user_id != identity.user_id:
            raise NotMerchantOwner()
        if req.currency is not None:
            self.policy.parse("1", req.currency)
            if req.currency != row.currency:
                raise CurrencyMismatch(f"This payment was made in {row.currency}")
        amount = self.policy.parse(req.amount, row.currency)
        request = Request(
            identity.user_id,
            key,
            "payment.refund",
            request_hash(
                "payment.refund",
                {"payment_id": payment_id, "amount_minor": amount.amount_minor,
                 "currency": amount.currency},
            ),
        )  # fmt: skip
        if (replay := await self.idempotency.replay(request)) is not None:
            return replay
        await self.pins.check(identity.user_id, req.pin)
        shop = await self.accounts.ensure_merchant(merchant.merchant_id, row.currency)
        payer = await self.accounts.ensure_user(row.payer_user_id, row.currency)
        refund_id = new_id()

        async def effect(tx: Tx) -> tuple[dict[str, Any], str | None]:
            now = self.clock.now()
            locked = await self._lock_payment(tx, payment_id)
            if now >= locked.created_at + self.policy.refund_window:
                days = self.policy.refund_window.days
                raise RefundWindowClosed(f"Payments can be refunded for {days} days")
            left = locked.amount_minor - locked.refunded_minor
            if amount.amount_minor > left:
                raise RefundExceedsPayment(refundable=Money(left, row.currency).to_wire())
            async with self.ledger.book(tx) as book:
                posted = await book.post(
                    EntryDraft(
                        "payment_refund", category,
                        (Leg(shop, -amount.amount_minor), Leg(payer, amount.amount_minor)),
                        initiator=f"user:{identity.user_id}",
                        flow_kind="payment", flow_id=payment_id,
                    )
                )  # fmt: skip
                locked.refunded_minor += amount.amount_minor
                locked.state = "refunded" if left == amount.amount_minor else "partially_refunded"
                refund = PaymentRefund(
                    payment_id=payment_id, refund_id=refund_id,
                    amount_minor=amount.amount_minor, entry_id=posted.entry_id,
                    by_user_id=identity.user_id, idempotency_key=key, created_at=now,
                )  # fmt: skip
                tx.session.add(refund)
                await tx.session.flush()
                _announce(book, locked, merchant)
            body = {
                **refund_wire(refund, row.currency),
                "payment": payment_wire(locked, merchant, owner=True),
            }
            return body, refund_id

        return await self.idempotency.run(request, effect)

    async def _lock_payment(self, tx: Tx, payment_id: str) -> Payment:
        """The payment row under ``FOR UPDATE`` (PostgreSQL; SQLite has one writer), read
        fresh: a refund waiting for another sees what that one refunded."""
        locked = await tx.session.scalar(
            select(Payment)
            .where(Payment.payment_id == payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert locked is not None
        return locked

    # --- reads ------------------------------------------------------------------------------

    async def access_payment(self, identity: Identity, payment_id: str) -> dict[str, Any]:
        """A payment with its refunds, for its payer or the merchant's owner."""
        row, merchant, _ = await self._visible(identity, payment_id)
        async with self.db.read() as session:
            refunds = list(
                await session.scalars(
                    select(PaymentRefund)
                    .where(PaymentRefund.payment_id == payment_id)
                    .order_by(PaymentRefund.created_at, PaymentRefund.refund_id)
                )
            )
        owner = merchant.owner_user_id == identity.user_id
        return payment_wire(row, merchant, owner=owner, refunds=refunds)

    async def merchant_payments(
        self,
        identity: Identity,
        merchant_id: str,
        before: tuple[dt.datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The merchant's payments, newest first, after the ``before`` cursor (owner only)."""
        merchant = await self.merchants.access_owned(identity, merchant_id)
        query = (
            select(Payment)
            .where(Payment.merchant_id == merchant_id)
            .order_by(Payment.created_at.desc(), Payment.payment_id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(tuple_(Payment.created_at, Payment.payment_id) < tuple_(*before))
        async with self.db.read() as session:
            return [payment_wire(r, merchant, owner=True) for r in await session.scalars(query)]

    async def _visible(self, identity: Identity, payment_id: str) -> tuple[Payment, Merchant, str]:
        """The payment, its merchant and its entry's category, for the payer or the
        merchant's owner; ``payment_not_found`` for anyone else, so ids reveal nothing."""
        if not is_id(payment_id):
            raise PaymentNotFound()
        async with self.db.read() as session:
            row = await session.get(Payment, payment_id)
            merchant = await session.get(Merchant, row.merchant_id) if row else None
            if row is None or merchant is None:
                raise PaymentNotFound()
            if identity.user_id not in (row.payer_user_id, merchant.owner_user_id):
                raise PaymentNotFound()
            # A refund keeps the payment's category even if the merchant's changed since.
            category = await session.scalar(
                select(LedgerEntry.category).where(LedgerEntry.entry_id == row.entry_id)
            )
        return row, merchant, category or merchant.category


def _announce(book: Book, row: Payment, merchant: Merchant) -> None:
    content = {
        "payment_id": row.payment_id,
        "merchant_id": row.merchant_id,
        "amount": Money(row.amount_minor, row.currency).to_wire(),
        "refunded": Money(row.refunded_minor, row.currency).to_wire(),
        "state": row.state,
    }
    for user_id in sorted({row.payer_user_id, merchant.owner_user_id}):
        book.emit(user_id, PAYMENT_EVENT, content)
