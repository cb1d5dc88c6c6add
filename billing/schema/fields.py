"""The field types the event declarations are written in (pydantic `Annotated` types).

Each type carries its JSON-level constraints (strict string, length, pattern, choices) for
pydantic and the JSON Schema, the conversion of a valid value (a date string to `date`, an
RFC 3339 string to an aware UTC `datetime`), and a `Kind` that words its errors. Text limits
match the billing and partners columns, so what passes here also fits there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, Strict, StringConstraints
from pydantic_core import PydanticCustomError

from billing.schema.errors import Kind
from config import money

MAX_ID_LENGTH = 200
MAX_SOURCE_LENGTH = 200
MAX_ENTITY_LENGTH = 16
MAX_CORRELATION_ID_LENGTH = 128
MAX_CODE_LENGTH = 100  # plan_code, product_family, meter
MAX_TAG_LENGTH = 64  # region, tax_id, method
MAX_SHORT_LENGTH = 32  # partner_role, tax_code
MAX_NAME_LENGTH = 300  # customer and partner name
MAX_DESCRIPTION_LENGTH = 500  # line description
MAX_REASON_LENGTH = 300  # cancellation, credit-note and write-off reason
MAX_LINES = 1000

# PostgreSQL cannot store NUL; an unpaired surrogate is refused by pydantic itself.
_STORABLE = r"^[^\x00]*$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"


def text(max_length: int, description: str = ""):
    """A non-empty string of at most `max_length` characters that PostgreSQL can store."""
    return Annotated[
        str,
        Strict(),
        StringConstraints(min_length=1, max_length=max_length, pattern=_STORABLE),
        Kind(max_length=max_length),
        Field(description=description or None),
    ]


def coded(pattern: str, code: str, what: str, description: str):
    """A string matching `pattern`; a mismatch is `code` ("must be <what>")."""
    return Annotated[
        str,
        Strict(),
        StringConstraints(pattern=pattern),
        Kind(pattern_code=code, what=what),
        Field(description=description),
    ]


def choice(*values: str, description: str = ""):
    """One of `values`."""
    return Annotated[Literal[values], Kind(choices=values), Field(description=description or None)]


def _to_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("invalid_date", "not a calendar date") from None


def _to_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        raise PydanticCustomError("invalid_datetime", "not a date-time") from None


Id = text(MAX_ID_LENGTH)
Code = text(MAX_CODE_LENGTH)
Short = text(MAX_SHORT_LENGTH)
Tag = text(MAX_TAG_LENGTH)
Name = text(MAX_NAME_LENGTH)
Reason = text(MAX_REASON_LENGTH)
Description = text(MAX_DESCRIPTION_LENGTH)

Country = coded(
    r"^[A-Z]{2}$",
    "invalid_country",
    'an ISO 3166 alpha-2 code such as "US"',
    "ISO 3166-1 alpha-2 country code",
)
Entity = coded(
    rf"^[A-Z0-9]{{1,{MAX_ENTITY_LENGTH}}}$",
    "invalid_entity",
    f'a legal entity code of 1 to {MAX_ENTITY_LENGTH} uppercase letters or digits such as "US01"',
    "legal entity code (uppercase letters and digits)",
)
Currency = Annotated[
    Literal[tuple(sorted(money.known_currencies()))],
    Kind(choice_code="unknown_currency"),
    Field(description="ISO 4217 currency code; amounts are exact to its minor unit"),
]
Date = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=DATE_PATTERN),
    AfterValidator(_to_date),
    Kind(expected='a date string such as "2026-05-14"', pattern_code="invalid_date"),
    Field(json_schema_extra={"format": "date"}),
]
DateTime = Annotated[
    str,
    Strict(),
    StringConstraints(pattern=DATETIME_PATTERN),
    AfterValidator(_to_datetime),
    Kind(expected="an RFC 3339 date-time string", pattern_code="invalid_datetime"),
    Field(
        description="RFC 3339 date-time with a time zone offset",
        json_schema_extra={"format": "date-time"},
    ),
]
