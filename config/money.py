"""Money: Decimal only, quantised to the currency's minor unit with one rounding mode.

- Currency codes come from Babel's list; minor units are ISO 4217's (JPY 0, USD 2, KWD 3),
  written out below because CLDR (Babel) differs from ISO for a few (IQD, LBP, ...).
- Rounding is ROUND_HALF_UP (commercial rounding, as billing systems and ERPs round
  invoice amounts); it is applied only by `quantize`.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import format_currency, format_decimal, list_currencies

ROUNDING = ROUND_HALF_UP
# Column precision for every *_amount field (up to 3 minor digits plus a guard digit).
AMOUNT_MAX_DIGITS = 20
AMOUNT_DECIMAL_PLACES = 4
# Unit prices and quantities (usage can be fractional and priced below a minor unit).
RATE_MAX_DIGITS = 24
RATE_DECIMAL_PLACES = 8
# ISO 4217 minor units other than 2 (ISO 4217 list one, 2024 amendments).
_ISO_MINOR_UNITS = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}
# ISO 4217 codes that are not money one can invoice in.
_NOT_MONEY = {"XXX", "XTS", "XAU", "XAG", "XPD", "XPT", "XDR", "XSU", "XUA"}


class CurrencyError(ValueError):
    pass


@cache
def known_currencies() -> frozenset[str]:
    return frozenset(c for c in list_currencies() if c not in _NOT_MONEY and len(c) == 3)


def is_currency(code: str) -> bool:
    return isinstance(code, str) and code in known_currencies()


@cache
def minor_units(currency: str) -> int:
    if not is_currency(currency):
        raise CurrencyError(f"{currency!r} is not an ISO 4217 currency code")
    return _ISO_MINOR_UNITS.get(currency, 2)


@cache
def _exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit (ROUND_HALF_UP)."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(_exponent(currency), rounding=ROUNDING)


def is_quantized(amount: Decimal, currency: str) -> bool:
    """True when the amount has no digits below the currency's minor unit."""
    return amount == amount.quantize(_exponent(currency), rounding=ROUND_DOWN)


def _babel_locale(locale: str | None) -> str:
    """The Babel locale of `locale`, else of Django's active language ("en-us" → "en_US")."""
    if locale:
        return locale
    from django.utils.translation import get_language, to_locale

    return to_locale(get_language() or "en-us")


def format_money(amount: Decimal, currency: str, *, locale: str | None = None) -> str:
    """`amount` as a person reads it: thousands separators and the decimal sign of `locale`
    (default: the active language), exactly the currency's minor units, then the ISO code
    ("1,250.50 USD", "12.345 KWD", de: "1.250,50 EUR"). An unknown currency shows the
    amount with all its stored digits and the code as given."""
    if is_currency(currency):
        digits = minor_units(currency)
        amount = quantize(amount, currency)
    else:
        digits = max(0, -amount.as_tuple().exponent)
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + " ¤¤"
    return format_currency(
        amount, currency or "", format=pattern, locale=_babel_locale(locale), currency_digits=False
    ).strip()


def format_quantity(value: Decimal, *, locale: str | None = None) -> str:
    """A quantity or unit price exactly, without trailing zeros, with thousands separators."""
    value = value.normalize()
    digits = max(0, -value.as_tuple().exponent)
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=_babel_locale(locale))
