"""Template filters for money: `{% load money %}` then `{{ amount|money:currency }}`.

An amount is shown with exactly its currency's minor units (JPY 0, USD 2, KWD 3), never
through a float: `floatformat:2` would print a KWD amount rounded to two places.
"""

from decimal import Decimal

from django import template

from config import money as money_rules

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """`amount` (a Decimal) to the minor units of `currency`, as plain digits ("1250.500").

    An unknown currency shows the amount as stored; None shows as empty.
    """
    if amount is None or amount == "":
        return ""
    if not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    if money_rules.is_currency(currency):
        amount = money_rules.quantize(amount, currency)
    return format(amount, "f")


@register.filter
def number(value) -> str:
    """A Decimal quantity or rate exactly, without trailing zeros ("0.0125", "40")."""
    if value is None or value == "":
        return ""
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return format(value.normalize(), "f")
