"""`format_money` and `format_quantity` keep Babel's parsed locale and pattern between calls
(config/money.py: 10x cheaper); they must print exactly what Babel's own `format_currency`
and `format_decimal` print for the same amount, currency and locale."""

from decimal import Decimal

from babel.numbers import format_currency, format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from config import money

LOCALES = ["en_US", "de_DE", "fr_FR", "en_GB", "ja_JP", "ar_EG", "de_CH", "hi_IN"]
CURRENCIES = ["USD", "EUR", "JPY", "KWD", "GBP", "CLF", "CHF", "INR", "ZZZ", ""]

amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=4
)


def babel_money(amount: Decimal, currency: str, locale: str) -> str:
    """The uncached path, as config.money.format_money was written before."""
    if money.is_currency(currency):
        digits = money.minor_units(currency)
        amount = money.quantize(amount, currency)
    else:
        digits = max(0, -amount.as_tuple().exponent)
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + " ¤¤"
    return format_currency(
        amount, currency, format=pattern, locale=locale, currency_digits=False
    ).strip()


@settings(max_examples=300)
@given(amount=amounts, currency=st.sampled_from(CURRENCIES), locale=st.sampled_from(LOCALES))
def test_format_money_cached_equals_babel(amount, currency, locale):
    assert money.format_money(amount, currency, locale=locale) == babel_money(
        amount, currency, locale
    )


@settings(max_examples=300)
@given(amount=amounts, locale=st.sampled_from(LOCALES))
def test_format_quantity_cached_equals_babel(amount, locale):
    value = amount.normalize()
    digits = max(0, -value.as_tuple().exponent)
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    expected = format_decimal(value, format=pattern, locale=locale)
    assert money.format_quantity(amount, locale=locale) == expected


def test_format_money_reads_as_people_expect():
    assert money.format_money(Decimal("1250.5"), "USD", locale="en_US") == "1,250.50 USD"
    assert money.format_money(Decimal("1250.5"), "EUR", locale="de_DE") == "1.250,50 EUR"
    assert money.format_money(Decimal("12.3456"), "KWD", locale="en_US") == "12.346 KWD"
    assert money.format_money(Decimal("1250"), "JPY", locale="en_US") == "1,250 JPY"
