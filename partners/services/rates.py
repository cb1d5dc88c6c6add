"""Pure commission arithmetic (no database): what one line earns under one rule, tiers,
and the plain-language explanations. Rates are percentages; results are quantised to the
agreement currency's minor unit (config.money, ROUND_HALF_UP) only where stated."""

from __future__ import annotations

from decimal import Decimal

from config.money import quantize

HUNDRED = Decimal(100)
ZERO = Decimal(0)


def fmt(amount: Decimal, currency: str) -> str:
    """1250 USD → "1,250.00": the currency's minor units, thousands separated."""
    return f"{quantize(amount, currency):,}"


def percent_text(rate: Decimal) -> str:
    text = f"{rate.normalize():f}"
    return f"{text}%"


def percent_of(rate: Decimal, basis: Decimal, currency: str) -> Decimal:
    return quantize(rate * basis / HUNDRED, currency)


def tier_rate(tiers: list, volume: Decimal) -> Decimal:
    """The rate of the band `volume` falls in (bands are [lower, upper))."""
    rate = tiers[0].rate_percent
    for tier in tiers:
        if volume >= tier.lower_amount:
            rate = tier.rate_percent
    return rate


def marginal_amount(tiers: list, before: Decimal, basis: Decimal) -> Decimal:
    """Commission (unrounded) on the volume from `before` to `before + basis`, each band's
    part at its own rate. A negative basis (discount line) is charged at the band it ends in."""
    if basis <= 0:
        return tier_rate(tiers, before + basis) * basis / HUNDRED
    earned, low, high = ZERO, before, before + basis
    for tier in tiers:
        top = tier.upper_amount if tier.upper_amount is not None else high
        part = min(high, top) - max(low, tier.lower_amount)
        if part > 0:
            earned += tier.rate_percent * part / HUNDRED
    return earned
