"""What the bills and spending API returns, as small immutable values with ``Money`` amounts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from courtyard.client.models import parse_time
from courtyard.client.wallet_models import money
from courtyard.core.money import Money


@dataclass(frozen=True)
class Biller:
    """A payee you can pay bills to: the bills it takes and the reference it expects."""

    biller_id: str
    name: str
    category: str
    currency: str
    min_amount: Money
    max_amount: Money
    reference_hint: str

    @classmethod
    def from_wire(cls, data: Any) -> Biller:
        return cls(
            biller_id=str(data["biller_id"]),
            name=str(data["name"]),
            category=str(data["category"]),
            currency=str(data["currency"]),
            min_amount=money(data["min"]),
            max_amount=money(data["max"]),
            reference_hint=str(data["reference_hint"]),
        )


@dataclass(frozen=True)
class Bill:
    """A bill you paid; ``replayed`` says the answer repeats an earlier request's."""

    bill_id: str
    biller_id: str
    biller_name: str | None
    category: str | None
    reference: str
    amount: Money
    state: str
    created_at: dt.datetime
    replayed: bool = False

    @classmethod
    def from_wire(cls, data: Any) -> Bill:
        biller = data["biller"]
        name, category = biller.get("name"), biller.get("category")
        return cls(
            bill_id=str(data["bill_id"]),
            biller_id=str(biller["biller_id"]),
            biller_name=None if name is None else str(name),
            category=None if category is None else str(category),
            reference=str(data["reference"]),
            amount=money(data["amount"]),
            state=str(data["state"]),
            created_at=parse_time(data["created_at"]),
            replayed=bool(data.get("replayed", False)),
        )


@dataclass(frozen=True)
class BillPage:
    """Bills newest first; ``has_more`` when older ones follow the last."""

    bills: tuple[Bill, ...]
    has_more: bool

    @classmethod
    def from_wire(cls, data: Any) -> BillPage:
        return cls(tuple(Bill.from_wire(b) for b in data["bills"]), bool(data["has_more"]))


@dataclass(frozen=True)
class CategorySpend:
    category: str
    spent: Money


@dataclass(frozen=True)
class Spending:
    """What you spent per category from ``start`` up to ``end`` (largest first; categories
    with nothing spent are left out), and what others sent you (``income``)."""

    currency: str
    start: dt.datetime
    end: dt.datetime
    categories: tuple[CategorySpend, ...]
    income: Money

    @classmethod
    def from_wire(cls, data: Any) -> Spending:
        return cls(
            currency=str(data["currency"]),
            start=parse_time(data["from"]),
            end=parse_time(data["to"]),
            categories=tuple(
                CategorySpend(str(c["category"]), money(c["spent"])) for c in data["categories"]
            ),
            income=money(data["income"]),
        )

    def spent(self, category: str) -> Money:
        """The amount spent in ``category`` (zero when it is not listed)."""
        found = (c.spent for c in self.categories if c.category == category)
        return next(found, Money(0, self.currency))
