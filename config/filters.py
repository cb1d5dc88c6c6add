"""Filters shared by every app's FilterSets (console lists and API lists alike).

A datetime query parameter is parsed as ISO 8601 and checked before it reaches the
database: PostgreSQL refuses a UTC offset past ±15:59 and Python cannot turn a value near
year 1 or 9999 into UTC, and either used to surface as a 500. A value outside the bounds
below is a form error on that parameter, which the API answers as a 400 in the error shape
(`{"errors": [{"field": "received_at_after", ...}]}`) and the console shows beside the field.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError

# Real UTC offsets run from -12:00 to +14:00; ±14:00 leaves every real one in.
MAX_UTC_OFFSET = dt.timedelta(hours=14)


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time whose UTC offset is within ±14:00 and whose UTC value is a
    representable date-time (years 1 to 9999)."""

    default_error_messages = {
        "offset": "The UTC offset must be between -14:00 and +14:00.",
        "range": "The date-time must lie between years 1 and 9999 in UTC.",
    }

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(self.error_messages["offset"], code="offset")
        try:
            parsed.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["range"], code="range") from None
        return parsed


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """The one datetime filter of Concord's FilterSets: ISO 8601, bounded (see the module).

    A from/to pair is two of these (`received_at_after` with `gte`, `received_at_before`
    with `lte`), so an invalid value is reported under the query parameter that carried it.
    """

    field_class = BoundedIsoDateTimeField
