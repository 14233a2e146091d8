"""What the merchant and QR payment API returns, as small immutable values with ``Money``
amounts (docs/wallet.md, "Merchants and QR payments")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from courtyard.client.errors import ClientError
from courtyard.client.models import parse_time
from courtyard.client.wallet_models import money
from courtyard.core.money import Money


class QrRejected(ClientError):
    """The device refused a payment code before asking the server: it is malformed, altered,
    or not signed by one of the server's keys. ``code`` is ``invalid_qr``, as the server's."""

    code = "invalid_qr"

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid_qr: {reason}")
        self.reason = reason


def _time_or_none(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


def _money_or_none(value: Any) -> Money | None:
    return None if value is None else money(value)


@dataclass(frozen=True)
class MerchantRef:
    """Who a payment goes to, as a payer sees it."""

    merchant_id: str
    name: str
    category: str

    @classmethod
    def from_wire(cls, data: Any) -> MerchantRef:
        return cls(str(data["merchant_id"]), str(data["name"]), str(data["category"]))


@dataclass(frozen=True)
class ResolvedQr:
    """What a scanned code is: show ``merchant.name`` (and a fixed ``amount``) before paying."""

    merchant: MerchantRef
    qr_id: str
    kind: str
    amount: Money | None
    currency: str
    label: str

    @classmethod
    def from_wire(cls, data: Any) -> ResolvedQr:
        return cls(
            merchant=MerchantRef.from_wire(data["merchant"]),
            qr_id=str(data["qr_id"]),
            kind=str(data["kind"]),
            amount=_money_or_none(data.get("amount")),
            currency=str(data["currency"]),
            label=str(data.get("label") or ""),
        )


@dataclass(frozen=True)
class Refund:
    """One refund of a payment; ``payment`` (when the refund was just made) is the payment
    after it, and ``replayed`` says the answer repeats an earlier request's."""

    refund_id: str
    payment_id: str
    amount: Money
    created_at: dt.datetime
    payment: Payment | None = None
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> Refund:
        payment = data.get("payment")
        return cls(
            refund_id=str(data["refund_id"]),
            payment_id=str(data["payment_id"]),
            amount=money(data["amount"]),
            created_at=parse_time(data["created_at"]),
            payment=None if payment is None else Payment.from_wire(payment),
            replayed=bool(data.get("replayed", False)),
        )


@dataclass(frozen=True)
class Payment:
    """A QR payment. ``fee`` shows to the merchant's owner only; ``refunds`` when read with
    ``wallet.payment(id)``."""

    payment_id: str
    merchant: MerchantRef
    qr_id: str | None
    payer_user_id: str
    amount: Money
    refunded: Money
    state: str
    created_at: dt.datetime
    fee: Money | None = None
    refunds: tuple[Refund, ...] = ()
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> Payment:
        qr_id = data.get("qr_id")
        return cls(
            payment_id=str(data["payment_id"]),
            merchant=MerchantRef.from_wire(data["merchant"]),
            qr_id=None if qr_id is None else str(qr_id),
            payer_user_id=str(data["payer_user_id"]),
            amount=money(data["amount"]),
            refunded=money(data["refunded"]),
            state=str(data["state"]),
            created_at=parse_time(data["created_at"]),
            fee=_money_or_none(data.get("fee")),
            refunds=tuple(Refund.from_wire(r) for r in data.get("refunds") or ()),
            replayed=bool(data.get("replayed", False)),
        )


@dataclass(frozen=True)
class PaymentPage:
    """A page of a merchant's payments, newest first; pass ``next_before`` for more."""

    payments: tuple[Payment, ...]
    next_before: str | None

    @classmethod
    def from_wire(cls, data: Any) -> PaymentPage:
        cursor = data.get("next_before")
        return cls(
            tuple(Payment.from_wire(p) for p in data["payments"]),
            None if cursor is None else str(cursor),
        )


@dataclass(frozen=True)
class Merchant:
    """A merchant you own, with what it holds in each of its currencies."""

    merchant_id: str
    name: str
    category: str
    currencies: tuple[str, ...]
    fee_bps: int
    status: str
    created_at: dt.datetime
    balances: tuple[Money, ...]  # one per currency

    @classmethod
    def from_wire(cls, data: Any) -> Merchant:
        return cls(
            merchant_id=str(data["merchant_id"]),
            name=str(data["name"]),
            category=str(data["category"]),
            currencies=tuple(str(c) for c in data["currencies"]),
            fee_bps=int(data["fee_bps"]),
            status=str(data["status"]),
            created_at=parse_time(data["created_at"]),
            balances=tuple(money(b) for b in data.get("balances") or ()),
        )


@dataclass(frozen=True)
class QrCode:
    """A merchant's payment code; ``payload`` is the text to print (None once revoked)."""

    qr_id: str
    merchant_id: str
    kind: str
    amount: Money | None
    currency: str
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    payload: str | None

    @classmethod
    def from_wire(cls, data: Any) -> QrCode:
        payload = data.get("payload")
        return cls(
            qr_id=str(data["qr_id"]),
            merchant_id=str(data["merchant_id"]),
            kind=str(data["kind"]),
            amount=_money_or_none(data.get("amount")),
            currency=str(data["currency"]),
            label=str(data.get("label") or ""),
            created_at=parse_time(data["created_at"]),
            revoked_at=_time_or_none(data.get("revoked_at")),
            payload=None if payload is None else str(payload),
        )
