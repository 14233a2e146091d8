"""What this server allows: enabled currencies, limits and expiries, from its settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from courtyard.core.money import Money
from courtyard.domains.wallet.errors import AmountAboveLimit


@dataclass(frozen=True, slots=True)
class WalletPolicy:
    currencies: tuple[str, ...]
    single_debit_major: int
    daily_debit_major: int
    transfer_expiry: dt.timedelta
    red_packet_cap_major: int = 200
    red_packet_max_shares: int = 100
    red_packet_expiry: dt.timedelta = dt.timedelta(hours=24)
    # How long after a payment its merchant may still refund it.
    refund_window: dt.timedelta = dt.timedelta(days=365)

    def parse(self, amount: object, currency: object) -> Money:
        """The one way an amount enters the wallet: ``Money.parse`` against the enabled
        currencies (``invalid_amount`` / ``unsupported_currency``)."""
        return Money.parse(amount, currency, enabled=self.currencies)

    def single_limit(self, currency: str) -> Money:
        return Money.of_major(self.single_debit_major, currency)

    def red_packet_cap(self, currency: str) -> Money:
        return Money.of_major(self.red_packet_cap_major, currency)

    def daily_limit(self, currency: str) -> Money:
        return Money.of_major(self.daily_debit_major, currency)

    def check_single(self, amount: Money) -> None:
        """Refuse a debit above the per-payment limit, before any transaction."""
        limit = self.single_limit(amount.currency)
        if limit < amount:
            raise AmountAboveLimit(f"At most {limit} per payment", limit=limit.to_wire())
