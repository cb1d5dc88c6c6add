"""Settlement periods: calendar months or calendar quarters."""

from __future__ import annotations

import datetime as dt

from partners.choices import SettlementPeriod


def period_bounds(day: dt.date, kind: str) -> tuple[dt.date, dt.date]:
    """(first day, last day) of the month or quarter `day` falls in."""
    if kind == SettlementPeriod.QUARTER:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = day.replace(month=first_month, day=1)
        months = 3
    else:
        start = day.replace(day=1)
        months = 1
    year, month = divmod(start.month - 1 + months, 12)
    end = dt.date(start.year + year, month + 1, 1) - dt.timedelta(days=1)
    return start, end


def period_kind(start: dt.date, end: dt.date) -> str:
    """Which settlement period kind [start, end] is; ValueError when it is neither."""
    for kind in SettlementPeriod.values:
        if period_bounds(start, kind) == (start, end):
            return kind
    raise ValueError(f"{start}..{end} is not a calendar month or quarter")


def months_of(start: dt.date, end: dt.date) -> list[str]:
    """The "YYYY-MM" keys of the months from start to end (as exceptions cases name them)."""
    keys, day = [], start.replace(day=1)
    while day <= end:
        keys.append(day.strftime("%Y-%m"))
        day = period_bounds(day, SettlementPeriod.MONTH)[1] + dt.timedelta(days=1)
    return keys
