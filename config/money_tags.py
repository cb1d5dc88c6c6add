"""Template filters for money and quantities (built in: no `{% load %}` needed).

`{{ amount|money:currency }}` is the one way a page shows money: thousands separators and
decimal sign of the active language (Babel), exactly the currency's minor units (JPY 0,
USD 2, KWD 3), then the ISO code: "1,250.50 USD". Never through a float: `floatformat:2`
would print a KWD amount rounded to two places.
"""

from decimal import Decimal

from django import template

from config import money as money_rules

register = template.Library()


def _decimal(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@register.filter
def money(amount, currency: str) -> str:
    """`amount` with its currency ("1,250.500 KWD"); None shows as empty.

    An unknown currency shows the amount with its stored digits and the code as given.
    """
    if amount is None or amount == "":
        return ""
    amount = _decimal(amount)
    if not currency:
        return money_rules.format_quantity(amount)
    return money_rules.format_money(amount, currency)


@register.filter
def number(value) -> str:
    """A Decimal quantity or rate exactly, without trailing zeros, grouped ("1,250.0125")."""
    if value is None or value == "":
        return ""
    return money_rules.format_quantity(_decimal(value))
