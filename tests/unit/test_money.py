"""Money: the wire parser's refusals and acceptances, formatting, and same-currency arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from courtyard.core.currencies import (
    CURRENCIES,
    HOLDABLE_CODES,
    NEVER_HOLDABLE,
    exponent,
    is_currency_code,
    is_holdable,
)
from courtyard.core.errors import InvalidInput
from courtyard.core.money import (
    MAX_AMOUNT_MINOR,
    CurrencyMismatch,
    InvalidAmount,
    Money,
    UnsupportedCurrency,
)

ENABLED = frozenset({"CNY", "EUR", "USD", "JPY", "KWD"})


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


# --- the currency table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "digits"),
    [("CNY", 2), ("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_currency_table_has_iso_exponents(code: str, digits: int) -> None:
    assert exponent(code) == digits
    assert is_holdable(code)


def test_metal_fund_and_test_codes_are_known_but_never_holdable() -> None:
    metals_and_special = {"XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC"}
    metals_and_special |= {"XBD", "XTS", "XXX"}
    funds = {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"}
    expected = metals_and_special | funds
    assert expected <= NEVER_HOLDABLE
    for code in NEVER_HOLDABLE:
        assert is_currency_code(code)
        assert not is_holdable(code)
        assert not CURRENCIES[code].holdable
    assert not HOLDABLE_CODES & NEVER_HOLDABLE


def test_currency_table_codes_are_three_ascii_capitals_and_holdable_ones_have_exponents() -> None:
    assert len(CURRENCIES) > 170
    for code, currency in CURRENCIES.items():
        assert currency.code == code
        assert len(code) == 3
        assert code.isascii()
        assert code.isupper()
    assert {CURRENCIES[c].exponent for c in HOLDABLE_CODES} == {0, 2, 3}


@pytest.mark.parametrize("code", ["XAU", "ABC", "cny", ""])
def test_exponent_refuses_codes_without_a_minor_unit(code: str) -> None:
    with pytest.raises(ValueError, match="minor unit"):
        exponent(code)


def test_is_holdable_and_is_currency_code_refuse_non_codes() -> None:
    assert not is_holdable("cny")
    assert not is_holdable(156)
    assert not is_currency_code("ABC")
    assert not is_currency_code(None)


# --- parsing: refusals -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "rule"),
    [
        ("1.234", "CNY", "at most 2 decimal places"),
        ("1.0005", "KWD", "at most 3 decimal places"),
        ("1.5", "JPY", "no minor unit"),
        ("1500.0", "JPY", "no minor unit"),
        ("-1", "CNY", "no sign"),
        ("+1", "CNY", "no sign"),
        ("0", "CNY", "more than zero"),
        ("0.00", "CNY", "more than zero"),
        ("0", "JPY", "more than zero"),
        ("1e3", "CNY", "digits 0-9"),
        (" 1", "CNY", "digits 0-9"),
        ("1 ", "CNY", "digits 0-9"),
        ("1\n", "CNY", "digits 0-9"),
        ("1,00", "CNY", "digits 0-9"),
        ("1,000", "CNY", "digits 0-9"),
        ("1_000", "CNY", "digits 0-9"),
        ("١٢", "CNY", "digits 0-9"),  # Arabic-Indic digits: int() would accept them
        ("²", "CNY", "digits 0-9"),  # superscript two: str.isdigit() says yes
        ("１", "CNY", "digits 0-9"),  # fullwidth one
        ("NaN", "CNY", "digits 0-9"),
        ("Infinity", "CNY", "digits 0-9"),
        (".5", "CNY", "digits 0-9"),
        ("5.", "CNY", "digits 0-9"),
        ("1.2.3", "CNY", "digits 0-9"),
        ("00.10", "CNY", "start with a zero"),
        ("010", "CNY", "start with a zero"),
        ("", "CNY", "1 to 24 characters"),
        ("1" * 25, "CNY", "1 to 24 characters"),
        ("10000000000000", "CNY", "at most 9999999999999.99 CNY"),
        ("1000000000000000", "JPY", "at most 999999999999999 JPY"),
        ("10000000000000.00", "CNY", "at most"),
        (10.5, "CNY", "JSON string"),
        (10, "CNY", "JSON string"),
        (True, "CNY", "JSON string"),
        (None, "CNY", "JSON string"),
        ({}, "CNY", "JSON string"),
        (["10"], "CNY", "JSON string"),
        (b"10", "CNY", "JSON string"),
    ],
)
def test_parse_refuses_invalid_amounts_naming_the_rule(
    text: object, currency: str, rule: str
) -> None:
    with pytest.raises(InvalidAmount) as caught:
        Money.parse(text, currency, enabled=ENABLED)
    assert caught.value.code == "invalid_amount"
    assert rule in caught.value.detail


@pytest.mark.parametrize(
    ("currency", "rule"),
    [
        ("cny", "three upper-case letters"),
        ("Cny", "three upper-case letters"),
        ("CNYY", "three upper-case letters"),
        ("CN", "three upper-case letters"),
        ("", "three upper-case letters"),
        ("ＣＮＹ", "three upper-case letters"),  # fullwidth letters
        ("ÇNY", "three upper-case letters"),
        ("ABC", "not an ISO 4217 currency code"),
        ("XXX", "not money"),
        ("XAU", "not money"),
        ("XTS", "not money"),
        ("CLF", "not money"),
        ("USN", "not money"),
        ("GBP", "not enabled"),
        (156, "JSON string"),
        (None, "JSON string"),
        (["CNY"], "JSON string"),
    ],
)
def test_parse_refuses_unsupported_currencies_naming_the_rule(currency: object, rule: str) -> None:
    with pytest.raises(UnsupportedCurrency) as caught:
        Money.parse("10.50", currency, enabled=ENABLED)
    assert caught.value.code == "unsupported_currency"
    assert rule in caught.value.detail


def test_parse_refuses_metals_even_when_misconfigured_as_enabled() -> None:
    with pytest.raises(UnsupportedCurrency):
        Money.parse("1", "XAU", enabled={"XAU"})


def test_money_errors_are_invalid_input() -> None:
    for error in (InvalidAmount, UnsupportedCurrency, CurrencyMismatch):
        assert issubclass(error, InvalidInput)


# --- parsing: acceptances ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10.5", "CNY", 1050),
        ("10.50", "CNY", 1050),
        ("10", "CNY", 1000),
        ("0.10", "CNY", 10),
        ("0.01", "CNY", 1),
        ("1500", "JPY", 1500),
        ("1.005", "KWD", 1005),
        ("1.5", "KWD", 1500),
        ("9999999999999.99", "CNY", MAX_AMOUNT_MINOR),
        ("999999999999999", "JPY", MAX_AMOUNT_MINOR),
        ("1.00", "CNY", 100),
        ("0.001", "KWD", 1),
    ],
)
def test_parse_accepts_valid_amounts(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency, enabled=ENABLED) == Money(minor, currency)


# --- construction, formatting, wire --------------------------------------------------------


@pytest.mark.parametrize("amount", [True, False, 10.5, 10.0, Decimal(10), "10", None])
def test_constructor_refuses_non_int_amounts(amount: object) -> None:
    with pytest.raises(TypeError, match="amount_minor must be an int"):
        Money(amount, "CNY")  # type: ignore[arg-type]


@pytest.mark.parametrize("currency", ["cny", "ABC", "XAU", ""])
def test_constructor_refuses_unknown_currencies(currency: str) -> None:
    with pytest.raises(ValueError, match="minor unit"):
        Money(1, currency)


def test_constructor_refuses_non_string_currencies() -> None:
    with pytest.raises(TypeError, match="currency must be a str"):
        Money(1, 156)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1050, "CNY", "10.50"),
        (-1050, "CNY", "-10.50"),
        (5, "CNY", "0.05"),
        (-5, "CNY", "-0.05"),
        (0, "CNY", "0.00"),
        (1500, "JPY", "1500"),
        (-1500, "JPY", "-1500"),
        (1005, "KWD", "1.005"),
        (-1, "BHD", "-0.001"),
        (MAX_AMOUNT_MINOR, "USD", "9999999999999.99"),
    ],
)
def test_format_has_exactly_exponent_decimals(minor: int, currency: str, text: str) -> None:
    money = Money(minor, currency)
    assert money.format() == text
    assert str(money) == f"{text} {currency}"


def test_to_wire_carries_minor_units_code_and_formatted_amount() -> None:
    assert cny(1050).to_wire() == {"amount_minor": 1050, "currency": "CNY", "amount": "10.50"}
    yen = Money(1500, "JPY").to_wire()
    assert yen == {"amount_minor": 1500, "currency": "JPY", "amount": "1500"}


def test_of_major_scales_whole_units_by_the_exponent() -> None:
    assert Money.of_major(200, "CNY") == cny(20000)
    assert Money.of_major(200, "JPY") == Money(200, "JPY")
    assert Money.of_major(200, "KWD") == Money(200000, "KWD")
    with pytest.raises(TypeError):
        Money.of_major(True, "CNY")
    with pytest.raises(ValueError, match="minor unit"):
        Money.of_major(200, "XAU")


# --- arithmetic and comparison ---------------------------------------------------------------


def test_arithmetic_between_same_currency() -> None:
    assert cny(1050) + cny(50) == cny(1100)
    assert cny(1050) - cny(2000) == cny(-950)
    assert -cny(1050) == cny(-1050)
    assert cny(1) < cny(2)
    assert cny(2) <= cny(2)
    assert cny(3) > cny(2)
    assert cny(2) >= cny(2)
    assert cny(2) != cny(3)
    assert hash(cny(2)) == hash(Money(2, "CNY"))


def test_mixed_currencies_raise_currency_mismatch() -> None:
    eur = Money(100, "EUR")
    operations: list[Callable[[], object]] = [
        lambda: cny(100) + eur,
        lambda: cny(100) - eur,
        lambda: cny(100) == eur,
        lambda: cny(100) != eur,
        lambda: cny(100) < eur,
        lambda: cny(100) <= eur,
        lambda: cny(100) > eur,
        lambda: cny(100) >= eur,
    ]
    for operation in operations:
        with pytest.raises(CurrencyMismatch) as caught:
            operation()
        assert caught.value.code == "currency_mismatch"


def test_no_multiplication_division_rounding_or_mixing_with_numbers() -> None:
    money = cny(100)
    operations: list[Callable[[], object]] = [
        lambda: money * 2,  # type: ignore[operator]
        lambda: 2 * money,  # type: ignore[operator]
        lambda: money / 2,  # type: ignore[operator]
        lambda: money // 2,  # type: ignore[operator]
        lambda: money % 2,  # type: ignore[operator]
        lambda: round(money),  # type: ignore[call-overload]
        lambda: money + 1,  # type: ignore[operator]
        lambda: 1 + money,  # type: ignore[operator]
        lambda: money - 1,  # type: ignore[operator]
        lambda: sum([money, money]),  # type: ignore[list-item]
        lambda: money < 0,  # type: ignore[operator]
        lambda: money <= 0,  # type: ignore[operator]
        lambda: money > 0,  # type: ignore[operator]
        lambda: money >= 0,  # type: ignore[operator]
    ]
    for operation in operations:
        with pytest.raises(TypeError):
            operation()
    assert money != 100
    assert money != "1.00 CNY"
    assert money != (100, "CNY")


# --- properties ------------------------------------------------------------------------------

positive = st.integers(min_value=1, max_value=MAX_AMOUNT_MINOR)
holdable = st.sampled_from(sorted(HOLDABLE_CODES))
by_exponent = st.sampled_from(["JPY", "CNY", "KWD"])  # exponents 0, 2, 3


@given(minor=positive, currency=holdable)
def test_parse_inverts_format_for_every_positive_amount(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.format(), currency, enabled=HOLDABLE_CODES) == money


@given(minor=positive, currency=by_exponent)
def test_parse_inverts_format_for_each_exponent(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    text = money.format()
    assert Money.parse(text, currency, enabled=ENABLED) == money
    assert text.count(".") == (exponent(currency) > 0)


@given(minor=positive, currency=by_exponent)
def test_negative_amounts_format_as_minus_then_the_positive(minor: int, currency: str) -> None:
    assert Money(-minor, currency).format() == "-" + Money(minor, currency).format()


@given(a=st.integers(), b=st.integers(), currency=by_exponent)
def test_ordering_and_arithmetic_follow_amount_minor(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x < y) == (a < b)
    assert (x <= y) == (a <= b)
    assert (x > y) == (a > b)
    assert (x >= y) == (a >= b)
    assert (x == y) == (a == b)
    assert (x + y).amount_minor == a + b
    assert (x - y).amount_minor == a - b
    assert x - y + y == x
    negated = -x
    assert negated.amount_minor == -a
    assert -negated == x
