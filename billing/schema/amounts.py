"""Amounts: decimal strings, never JSON numbers, exact to the currency's minor unit.

- An amount is a decimal string ("1250.00", "-3.5"): a JSON number is refused
  (`number_not_string`), with or without a fraction, as are NaN/Infinity, exponents, a
  leading "+", "1." and ".5" (`invalid_decimal`). The cleaned value is a `Decimal`.
- Money (`amount`, `tax_amount`, `subtotal`, `tax_total`, `total`) may not carry more
  decimals than the currency's minor unit (JPY 0, USD 2, KWD 3; `too_precise`); trailing zeros
  are fine and are cleaned away ("1250.000" USD is Decimal("1250.00")). Unit prices and
  quantities carry up to `config.money.RATE_DECIMAL_PLACES` (8) decimals.
- Integer digits are bounded by the database columns (`too_large`).
- The currency comes from the validation context (`{"minor": <minor units> | None}`): the
  currency is a sibling field, so the validator of the whole event passes it down.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field, Strict, StringConstraints, ValidationInfo
from pydantic_core import PydanticCustomError

from billing.schema.errors import Kind
from config import money

AMOUNT_INTEGER_DIGITS = money.AMOUNT_MAX_DIGITS - money.AMOUNT_DECIMAL_PLACES
RATE_INTEGER_DIGITS = money.RATE_MAX_DIGITS - money.RATE_DECIMAL_PLACES
DECIMAL_PATTERN = r"^-?\d+(?:\.\d+)?$"
UNITS = {places: Decimal(1).scaleb(-places) for places in range(10)}

POSITIVE = "positive"  # > 0
NON_NEGATIVE = "non_negative"  # >= 0
ANY_SIGN = "any"

# Published with the JSON Schema (the currency-dependent precision cannot be written there).
_SIGN_PATTERNS = {
    POSITIVE: r"^(?:\d*[1-9]\d*(?:\.\d+)?|\d+\.\d*[1-9]\d*)$",
    NON_NEGATIVE: r"^(?:\d+(?:\.\d+)?|-0+(?:\.0+)?)$",
    ANY_SIGN: DECIMAL_PATTERN,
}
_SIGN_WORDS = {POSITIVE: "greater than zero", NON_NEGATIVE: "zero or more", ANY_SIGN: "any sign"}


def _checker(*, is_money: bool, sign: str):
    # Runs for every amount of every event (the ingest path): plain string and Decimal
    # operations, the rare refusals last.
    max_int = AMOUNT_INTEGER_DIGITS if is_money else RATE_INTEGER_DIGITS

    def check(value: str, info: ValidationInfo) -> Decimal:
        context = info.context
        minor = context["minor"] if context else None
        integer, _, fraction = value.partition(".")
        if len(integer) > max_int and len(integer.lstrip("-").lstrip("0")) > max_int:
            raise PydanticCustomError("too_large", "too large", {"max_int": max_int})
        if fraction:
            places = money.RATE_DECIMAL_PLACES
            if is_money:
                places = money.AMOUNT_DECIMAL_PLACES if minor is None else minor
            if len(fraction) > places and len(fraction.rstrip("0")) > places:
                if is_money and minor is not None:
                    why = f"the currency's minor unit ({minor} decimal places)"
                else:
                    why = f"{places} decimal places"
                raise PydanticCustomError("too_precise", "too precise", {"why": why})
        result = Decimal(value)
        if is_money and minor is not None:
            result = result.quantize(UNITS[minor])
        if sign is POSITIVE and result <= 0:
            raise PydanticCustomError("must_be_positive", "must be positive")
        if sign is NON_NEGATIVE and result < 0:
            raise PydanticCustomError("must_not_be_negative", "must not be negative")
        return result

    return check


def decimal(*, is_money: bool, sign: str, description: str = ""):
    """A decimal string field: money (held to the currency's minor unit) or a rate."""
    example = '"1250.00"' if is_money else '"0.25"'
    if is_money:
        what = "amount, exact to the currency's minor unit"
    else:
        what = f"rate or quantity, at most {money.RATE_DECIMAL_PLACES} decimals"
    max_int = AMOUNT_INTEGER_DIGITS if is_money else RATE_INTEGER_DIGITS
    return Annotated[
        str,
        Strict(),
        StringConstraints(pattern=DECIMAL_PATTERN),
        AfterValidator(_checker(is_money=is_money, sign=sign)),
        Kind(
            expected=f"a decimal string such as {example}",
            pattern_code="invalid_decimal",
            example=example,
            numbers=True,
        ),
        Field(
            description=(
                f"{description + ': ' if description else ''}decimal string {what}, "
                f"{_SIGN_WORDS[sign]}, at most {max_int} integer digits"
            ),
            json_schema_extra={"pattern": _SIGN_PATTERNS[sign]},
        ),
    ]


Money = decimal(is_money=True, sign=ANY_SIGN)
MoneyPositive = decimal(is_money=True, sign=POSITIVE)
MoneyNonNegative = decimal(is_money=True, sign=NON_NEGATIVE)
Rate = decimal(is_money=False, sign=ANY_SIGN)
RatePositive = decimal(is_money=False, sign=POSITIVE)
RateNonNegative = decimal(is_money=False, sign=NON_NEGATIVE)
