"""Template filters every console page uses (built in: no `{% load %}` needed).

- `{{ moment|when }}`: the one date-time format, in the person's time zone (User.time_zone,
  activated per request by config.middleware.UserTimeZoneMiddleware): "2026-05-14 12:00 CEST",
  inside a <time> element carrying the exact instant.
- `{{ date|day }}`: the one date format, "2026-05-14" (a DateField has no time zone).
- `{{ value|label }}`: a stored code for people: "awaiting_parent" → "Awaiting parent".
"""

from datetime import UTC, date, datetime
from html import escape

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

register = template.Library()

DATETIME_FORMAT = "%Y-%m-%d %H:%M %Z"
DATE_FORMAT = "%Y-%m-%d"


def when_text(moment: datetime) -> str:
    """`moment` in the current time zone as "YYYY-MM-DD HH:MM TZ" (naive: taken as UTC)."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return timezone.localtime(moment).strftime(DATETIME_FORMAT)


@register.filter
def when(moment) -> str:
    """A date-time for people (see the module docstring); a date shows as `day`; None empty."""
    return when_in(moment, timezone.get_current_timezone())


def when_in(moment, zone) -> str:
    """`when` in time zone `zone` (a table looks the person's zone up once, not per cell).

    Written without format_html (a console table calls it three times a row; tested equal
    to the format_html form: tests/foundation/test_console_formats.py)."""
    if moment is None or moment == "":
        return ""
    if not isinstance(moment, datetime):
        return day(moment)
    if moment.tzinfo is None or moment.utcoffset() is None:
        exact, aware = moment, moment.replace(tzinfo=UTC)
    else:
        exact, aware = moment.astimezone(UTC), moment
    local = aware.astimezone(zone).strftime(DATETIME_FORMAT)
    return SafeString(
        f'<time datetime="{escape(exact.isoformat(timespec="seconds"))}">{escape(local)}</time>'
    )


@register.filter
def day(value) -> str:
    """A date as "YYYY-MM-DD" (a datetime: its day in the current time zone); None empty."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        return value.strftime(DATE_FORMAT)
    if isinstance(value, date):
        return value.strftime(DATE_FORMAT)
    return str(value)


@register.filter
def label(value) -> str:
    """A stored code as words: "awaiting_parent" → "Awaiting parent"; "" stays ""."""
    if value is None:
        return ""
    text = str(value).replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]
