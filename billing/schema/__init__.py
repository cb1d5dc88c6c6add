"""The schema of Concord's canonical finance events (CloudEvents 1.0, structured JSON).

`validate_event(body)` takes what `config.api.parsers.loads` returns (dicts, lists, str, int,
`FractionalNumber`; never float) and either returns a cleaned `Envelope` or raises
`EventSchemaError` carrying *every* problem found, each as a `FieldError` with a field path
such as ``data.lines[0].amount``. It is pure (no database, no Django models) and
deterministic.

The event types are declared once, as pydantic TypedDicts, one module per family
(`master_data`, `subscriptions`, `documents`, `payments`, `settlements`), in the field types
of `fields` and `amounts`; the cross-field rules are ours, in plain code (`rules`); `errors` maps
pydantic's errors to our codes and messages in one place; `publication` gives the JSON
Schema and an example of every type from the same declarations (GET /api/v1/event-types and
the OpenAPI components). `docs/decisions.md` says why pydantic and not msgspec.

Decisions a reader of the rules should know:

- Amounts are decimal strings, never JSON numbers, exact to the currency's minor unit (see
  `amounts`). Unit prices and quantities carry up to 8 decimals.
- Signs: invoice and credit-note line ``amount``, ``unit_price`` and ``tax_amount`` may be
  negative (discount lines); ``quantity`` is >= 0 (> 0 for subscriptions); invoice
  ``subtotal``, ``tax_total``, ``total`` are >= 0; credit-note ``total`` and the ``amount``
  of payments, refunds and write-offs are > 0; subscription and usage ``unit_price`` >= 0.
- Totals are checked against the lines, each figure on its own (see `rules`).
- ``*_date``, ``term_end``, ``period_start``/``period_end`` are dates ("YYYY-MM-DD");
  ``time``, ``received_at`` and ``issued_at`` are RFC 3339 date-times with an offset, cleaned
  to aware UTC datetimes.
- Unknown fields inside ``data`` (and inside a line) are refused (``unknown_field``) so that
  a typo is reported, not dropped; unknown envelope attributes are CloudEvents extensions and
  are ignored. An optional field that is absent or null is ``None`` in the cleaned data, so
  the cleaned ``data`` always has every field of its type. A required field that is null is
  ``required``.
- Text may not contain NUL or unpaired surrogates (PostgreSQL cannot store them).

Error codes: required, invalid_type, blank, too_long, invalid_character, unsupported_version,
unknown_type, invalid_entity, invalid_country, unknown_currency, invalid_choice, invalid_date,
invalid_datetime, number_not_string, invalid_decimal, too_large, too_precise, must_be_positive,
must_not_be_negative, empty, too_many, unknown_field, duplicate_line_id, line_amount_mismatch,
subtotal_mismatch, tax_total_mismatch, total_mismatch, end_before_start, due_before_issue.
"""

from billing.schema.digest import canonical_digest
from billing.schema.envelope import Envelope
from billing.schema.errors import EventSchemaError, FieldError
from billing.schema.fields import (
    MAX_CODE_LENGTH,
    MAX_CORRELATION_ID_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_ENTITY_LENGTH,
    MAX_ID_LENGTH,
    MAX_LINES,
    MAX_NAME_LENGTH,
    MAX_REASON_LENGTH,
    MAX_SHORT_LENGTH,
    MAX_SOURCE_LENGTH,
    MAX_TAG_LENGTH,
)
from billing.schema.registry import EVENT_TYPES, MASTER_DATA_TYPES
from billing.schema.validate import validate_event

__all__ = [
    "EVENT_TYPES",
    "MASTER_DATA_TYPES",
    "MAX_CODE_LENGTH",
    "MAX_CORRELATION_ID_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_ENTITY_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_LINES",
    "MAX_NAME_LENGTH",
    "MAX_REASON_LENGTH",
    "MAX_SHORT_LENGTH",
    "MAX_SOURCE_LENGTH",
    "MAX_TAG_LENGTH",
    "Envelope",
    "EventSchemaError",
    "FieldError",
    "canonical_digest",
    "validate_event",
]
