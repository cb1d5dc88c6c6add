"""Column conventions shared by the billing records: money, rates and currencies."""

from decimal import Decimal

from django.db import models
from django.db.models import F
from django.db.models.functions import Round
from django.db.models.lookups import Exact

from config.money import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
)

ZERO = Decimal(0)


def amount_field(**kwargs) -> models.DecimalField:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs
    )


def rate_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs
    )


def adds_up() -> Exact:
    """total = subtotal + tax, compared after rounding: SQLite keeps decimals as floats."""
    return Exact(
        Round(F("total_amount") - F("subtotal_amount") - F("tax_amount"), AMOUNT_DECIMAL_PLACES),
        0,
    )


def currency_field() -> models.CharField:
    return models.CharField(max_length=3)
