"""Periods of reconciliation's reads: a calendar month by default, as dates and datetimes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils import timezone

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = dt.date(year, month, 1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return cls(start, following - dt.timedelta(days=1))

    @classmethod
    def parse(cls, text: str) -> Period:
        """ "YYYY-MM" to that month. Raises ValueError for anything else."""
        found = MONTH.match(text or "")
        if not found:
            raise ValueError(f"a period is YYYY-MM, not {text!r}")
        return cls.month(int(found.group(1)), int(found.group(2)))

    @classmethod
    def previous_month(cls, today: dt.date | None = None) -> Period:
        first = (today or timezone.localdate()).replace(day=1)
        last = first - dt.timedelta(days=1)
        return cls.month(last.year, last.month)

    @classmethod
    def current_month(cls, today: dt.date | None = None) -> Period:
        today = today or timezone.localdate()
        return cls.month(today.year, today.month)

    @property
    def label(self) -> str:
        """ "YYYY-MM" for a calendar month (the scope exceptions cases carry), else start..end."""
        if self == Period.month(self.start.year, self.start.month):
            return f"{self.start:%Y-%m}"
        return f"{self.start}..{self.end}"

    @property
    def since(self) -> dt.datetime:
        """The first instant of the period (the current time zone)."""
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    @property
    def until(self) -> dt.datetime:
        """The first instant after the period."""
        return timezone.make_aware(
            dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min)
        )

    def instants(self, field: str) -> dict:
        """Filter kwargs: `field` (a datetime) inside the period."""
        return {f"{field}__gte": self.since, f"{field}__lt": self.until}

    def days(self, field: str) -> dict:
        """Filter kwargs: `field` (a date) inside the period."""
        return {f"{field}__gte": self.start, f"{field}__lte": self.end}
