"""Withdrawals in the SDK (``Wallet`` mixes this in): send money to a bank account through the
payment provider, with the same exactly-once retries as a transfer (docs/wallet.md, "Top-up
and withdrawal", "SDK")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from courtyard.client.wallet_models import Operation
from courtyard.core.ids import new_id
from courtyard.core.money import Money

if TYPE_CHECKING:
    from courtyard.client.wallet import PinSource


class WalletWithdrawals:
    """The withdrawal method of ``Wallet``; it uses its money-call plumbing."""

    if TYPE_CHECKING:

        async def _money(
            self, method: str, path: str, body: dict[str, Any] | None, key: str | None, what: str
        ) -> Any: ...

        async def _pin(self, pin: PinSource | None) -> str: ...

    async def withdraw(
        self,
        amount: str | Money,
        currency: str,
        destination: str,
        *,
        sandbox: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        pin: PinSource | None = None,
    ) -> Operation:
        """Send ``amount`` to ``destination``, the provider's token for your bank account.

        The money leaves your balance at once (``held``) and comes back if the payout fails;
        follow it with ``operation(id)``. ``sandbox`` as for ``topup``. Keys and retries as
        for ``transfer``: a repeat with the same ``idempotency_key`` and arguments answers the
        first operation (``replayed=True``); ``WalletUnsure`` when no definite answer came in
        ``retry_for`` seconds; ``ApiError`` for a refusal (``wrong_pin``,
        ``insufficient_funds``, ``daily_limit_exceeded``...).
        """
        # Imported here: wallet.py builds Wallet on this class.
        from courtyard.client.wallet import _amount, _parse

        text, secret = _amount(amount, currency), await self._pin(pin)
        body: dict[str, Any] = {
            "amount": text,
            "currency": currency,
            "destination": destination,
            "pin": secret,
        }
        if sandbox is not None:
            body["sandbox"] = dict(sandbox)
        key = idempotency_key or new_id()
        data = await self._money("POST", "/v1/wallet/withdrawals", body, key, "withdrawal")
        return _parse(Operation.from_wire, data)
