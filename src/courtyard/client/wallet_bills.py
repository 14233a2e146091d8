"""Bills and spending in the SDK (``Wallet`` mixes this in): the billers you can pay, paying a
bill with the same exactly-once retries as a transfer, your bills, and what you spent per
category (docs/wallet.md, "Bills", "Statements and categories")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from courtyard.client.bill_models import Bill, Biller, BillPage, Spending
from courtyard.core.ids import new_id
from courtyard.core.money import Money

if TYPE_CHECKING:
    from courtyard.client.client import Client
    from courtyard.client.wallet import PinSource

T = TypeVar("T")


class WalletBills:
    """Bill and spending methods of ``Wallet``; they use its money-call plumbing."""

    if TYPE_CHECKING:
        client: Client

        async def _money(
            self, method: str, path: str, body: dict[str, Any] | None, key: str | None, what: str
        ) -> Any: ...

        async def _pin(self, pin: PinSource | None) -> str: ...

    async def billers(self) -> list[Biller]:
        """The billers that take payments now, by name."""
        return await self._read(lambda d: [Biller.from_wire(b) for b in d], "/v1/wallet/billers")

    async def pay_bill(
        self,
        biller: str | Biller,
        reference: str,
        amount: str | Money,
        currency: str,
        *,
        idempotency_key: str | None = None,
        pin: PinSource | None = None,
    ) -> Bill:
        """Pay ``amount`` to ``biller`` (an id or a ``Biller``) for ``reference``, the number
        on your bill, which must be one the biller issues.

        Keys and retries as for ``transfer``: a repeat with the same ``idempotency_key`` and
        arguments answers the first bill (``replayed=True``); ``WalletUnsure`` when no definite
        answer came in ``retry_for`` seconds; ``ApiError`` for a refusal (``invalid_reference``,
        ``amount_out_of_bounds``, ``currency_mismatch``, ``insufficient_funds``...).
        """
        # Imported here, as in _read: wallet.py builds Wallet on this class.
        from courtyard.client.wallet import _amount, _parse

        text, secret = _amount(amount, currency), await self._pin(pin)
        body = {
            "biller_id": biller.biller_id if isinstance(biller, Biller) else biller,
            "reference": reference,
            "amount": text,
            "currency": currency,
            "pin": secret,
        }
        key = idempotency_key or new_id()
        data = await self._money("POST", "/v1/wallet/bills", body, key, "bill payment")
        return _parse(Bill.from_wire, data)

    async def bills(self, *, before: str | None = None, limit: int | None = None) -> BillPage:
        """Bills you paid, newest first; pass the last one's id as ``before`` for more."""
        params = {name: v for name, v in (("before", before), ("limit", limit)) if v is not None}
        return await self._read(BillPage.from_wire, "/v1/wallet/bills", params)

    async def get_bill(self, bill_id: str) -> Bill:
        """One bill you paid."""
        return await self._read(Bill.from_wire, f"/v1/wallet/bills/{quote(bill_id, safe='')}")

    async def spending(
        self, start: dt.datetime | None, end: dt.datetime | None, currency: str
    ) -> Spending:
        """What you spent per category in ``currency`` from ``start`` up to (not including)
        ``end``, and what you received; the server's default range is the last 30 days, and
        a range is at most 366 days (``range_too_long``)."""
        params: dict[str, str] = {"currency": currency}
        if start is not None:
            params["from"] = start.isoformat()
        if end is not None:
            params["to"] = end.isoformat()
        return await self._read(Spending.from_wire, "/v1/wallet/spending", params)

    async def _read(
        self, parse: Callable[[Any], T], path: str, params: dict[str, Any] | None = None
    ) -> T:
        from courtyard.client.wallet import _parse

        return _parse(parse, await self.client._call("GET", path, params=params))
