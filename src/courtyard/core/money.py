"""Money as integer minor units of an ISO 4217 currency, and the one parser of wire amounts.

No float or ``Decimal`` touches an amount: parsing, formatting and arithmetic are integer-only
(docs/wallet.md, "Money").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypedDict

from courtyard.core.currencies import CURRENCIES, exponent, is_holdable
from courtyard.core.errors import InvalidInput

MAX_AMOUNT_MINOR = 10**15 - 1
"""The largest amount any flow accepts, in minor units."""

_MAX_AMOUNT_CHARS = 24
# [0-9], never \d: \d also matches Arabic-Indic, superscript and other Unicode digits.
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CODE = re.compile(r"[A-Z]{3}")


class InvalidAmount(InvalidInput):
    """An amount that is not a string, is malformed, has too many decimals or is out of range."""

    code = "invalid_amount"
    title = "The amount is not valid"


class UnsupportedCurrency(InvalidInput):
    """A currency that is malformed, unknown, a metal, fund or test code, or not enabled."""

    code = "unsupported_currency"
    title = "The currency is not supported on this server"


class CurrencyMismatch(InvalidInput):
    """Two amounts in different currencies where one currency is required."""

    code = "currency_mismatch"
    title = "The amounts are in different currencies"


class MoneyWire(TypedDict):
    """A Money object as responses carry it: compute with ``amount_minor``, show ``amount``."""

    amount_minor: int
    currency: str
    amount: str


@dataclass(frozen=True, slots=True, eq=False)
class Money:
    """An amount in integer minor units (1050 CNY is 10.50 CNY) of one ISO 4217 currency.

    Arithmetic and comparison work only between amounts of the same currency; there is no
    multiplication, division or rounding: splits are done on ``amount_minor``.
    """

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        # type(), not isinstance(): bool is an int subclass, and True is not an amount.
        if type(self.amount_minor) is not int:
            kind = type(self.amount_minor).__name__
            raise TypeError(f"amount_minor must be an int, not {kind}")
        if not isinstance(self.currency, str):
            raise TypeError(f"currency must be a str, not {type(self.currency).__name__}")
        exponent(self.currency)  # raises ValueError for an unknown code or one with no minor unit

    @classmethod
    def parse(cls, text: object, currency: object, *, enabled: Collection[str]) -> Money:
        """Parse a wire amount (a string in major units, like ``"10.50"``) and currency code.

        Raises:
            InvalidAmount: ``text`` breaks a parsing rule; the detail says which.
            UnsupportedCurrency: ``currency`` is malformed, unknown, not money or not enabled.
        """
        whole, frac = _split_amount(text)
        code = _check_currency(currency, enabled)
        digits = exponent(code)
        if len(frac) > digits:
            if digits == 0:
                raise InvalidAmount(f'{code} has no minor unit: send whole units, like "1500"')
            raise InvalidAmount(f"{code} allows at most {digits} decimal places")
        minor = int(whole) * 10**digits + int(frac.ljust(digits, "0") or "0")
        if minor == 0:
            raise InvalidAmount("amount must be more than zero")
        if minor > MAX_AMOUNT_MINOR:
            limit = cls(MAX_AMOUNT_MINOR, code)
            raise InvalidAmount(f"amount must be at most {limit}")
        return cls(minor, code)

    @classmethod
    def of_major(cls, whole: int, currency: str) -> Money:
        """``whole`` major units of ``currency``: a limit of 200 CNY is 20000 minor units."""
        if type(whole) is not int:
            raise TypeError(f"whole must be an int, not {type(whole).__name__}")
        return cls(whole * 10 ** exponent(currency), currency)

    def format(self) -> str:
        """The amount in major units with exactly ``exponent`` decimals: "10.50", "-3", "1.005"."""
        digits = exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        whole, frac = divmod(abs(self.amount_minor), 10**digits)
        if digits == 0:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{frac:0{digits}d}"

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"

    def to_wire(self) -> MoneyWire:
        """The Money object of a response: ``{"amount_minor", "currency", "amount"}``."""
        amount = self.format()
        return {"amount_minor": self.amount_minor, "currency": self.currency, "amount": amount}

    def _amount_of(self, other: object) -> int:
        """``other``'s amount_minor, if ``other`` is Money in this currency."""
        if not isinstance(other, Money):
            raise TypeError(f"Money can only be combined with Money, not {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")
        return other.amount_minor

    # The operands are typed Money so that mypy catches `amount < 0` and `amount + 1`; the
    # runtime check in _amount_of catches the rest. > and >= need no methods: Python reflects
    # them onto the other operand's < and <=.
    def __add__(self, other: Money) -> Money:
        return Money(self.amount_minor + self._amount_of(other), self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount_minor - self._amount_of(other), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount_minor < self._amount_of(other)

    def __le__(self, other: Money) -> bool:
        return self.amount_minor <= self._amount_of(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.amount_minor == self._amount_of(other)

    def __hash__(self) -> int:
        return hash((self.amount_minor, self.currency))


def _split_amount(text: object) -> tuple[str, str]:
    """Rules 1-3: a string of ASCII digits with an optional fraction and no leading zeros."""
    if not isinstance(text, str):
        raise InvalidAmount('amount must be a JSON string, like "10.50"')
    if not 1 <= len(text) <= _MAX_AMOUNT_CHARS:
        raise InvalidAmount(f"amount must be 1 to {_MAX_AMOUNT_CHARS} characters")
    if _AMOUNT.fullmatch(text) is None:
        raise InvalidAmount(
            'amount must be digits 0-9 with an optional decimal point, like "10.50": '
            "no sign, spaces, exponent or separators"
        )
    whole, _, frac = text.partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        raise InvalidAmount('amount must not start with a zero, except below 1, like "0.10"')
    return whole, frac


def _check_currency(currency: object, enabled: Collection[str]) -> str:
    """Rule 6: three upper-case ASCII letters, an ISO 4217 code, money, and enabled here."""
    if not isinstance(currency, str):
        raise UnsupportedCurrency('currency must be a JSON string, like "CNY"')
    if _CODE.fullmatch(currency) is None:
        raise UnsupportedCurrency('currency must be three upper-case letters A-Z, like "CNY"')
    if currency not in CURRENCIES:
        raise UnsupportedCurrency(f"{currency} is not an ISO 4217 currency code")
    if not is_holdable(currency):
        raise UnsupportedCurrency(f"{currency} is not money a wallet can hold")
    if currency not in enabled:
        raise UnsupportedCurrency(f"{currency} is not enabled on this server")
    return currency
