# Frozen copy of billing/schema.py as of aae29c0 (the hand-written validator), kept only as
# the oracle of tests/billing/test_event_schema_equivalence.py. The app does not use it.
"""The schema check of Concord's canonical finance events (CloudEvents 1.0, structured JSON).

`validate_event(body)` takes what `config.api.parsers.loads` returns (dicts, lists, str, int,
`FractionalNumber`; never float) and either returns a cleaned `Envelope` or raises
`EventSchemaError` carrying *every* problem found, each as a `FieldError` with a field path
such as ``data.lines[0].amount``. It is pure (no database, no Django models), deterministic and
cheap: per-type field specs are built once at import, and each event is checked by plain
function calls.

Decisions a reader of the rules should know:

- Amounts are decimal strings ("1250.00", "-3.5"): a JSON number is refused, with or without a
  fraction, as are NaN/Infinity, exponents, a leading "+", "1." and ".5". Cleaned values are
  `Decimal`.
- Money amounts (``amount``, ``tax_amount``, ``subtotal``, ``tax_total``, ``total``) may not
  carry more decimals than the currency's minor unit (JPY 0, USD 2, KWD 3): a billing system
  sends exact amounts, so "10.005" USD is refused (``too_precise``) rather than silently rounded.
  Trailing zeros within the minor unit are fine ("10.5" USD). ``unit_price`` and ``quantity``
  may carry up to `config.money.RATE_DECIMAL_PLACES` (8) decimals.
- Integer digits are bounded by the database columns (`config.money` AMOUNT_*/RATE_*: 16 for
  both), which is stricter than "at most 18", so that whatever passes here also fits the column.
- Signs: invoice and credit-note line ``amount``, ``unit_price`` and ``tax_amount`` may be
  negative (discount lines); ``quantity`` is >= 0 (> 0 for subscriptions); invoice ``subtotal``,
  ``tax_total``, ``total`` are >= 0; credit-note ``total`` and the ``amount`` of payments,
  refunds and write-offs are > 0; subscription and usage ``unit_price`` is >= 0.
- Totals are checked against the lines, each figure on its own: line ``amount`` ==
  quantize(quantity * unit_price) (computed exactly, then ROUND_HALF_UP), ``subtotal`` == sum of
  line amounts, ``tax_total`` == sum of line tax amounts, ``total`` == both sums added (credit
  note: sum of amount + tax_amount). One wrong figure gives exactly one error; sums are only
  checked once every line is valid.
- ``*_date``, ``term_end``, ``period_start``/``period_end`` are dates ("YYYY-MM-DD"); ``time``,
  ``received_at`` and ``issued_at`` are RFC 3339 date-times with an offset, cleaned to aware
  UTC datetimes.
- Unknown fields inside ``data`` (and inside a line) are refused (``unknown_field``) so that a
  typo is reported, not dropped; unknown envelope attributes are CloudEvents extensions and are
  ignored. An optional field that is absent or null is ``None`` in the cleaned data, so the
  cleaned ``data`` always has every field of its type. A required field that is null is
  ``required``.
- Text may not contain NUL or unpaired surrogates (PostgreSQL cannot store them).

Error codes: required, invalid_type, blank, too_long, invalid_character, unsupported_version,
unknown_type, invalid_entity, invalid_country, unknown_currency, invalid_choice, invalid_date,
invalid_datetime, number_not_string, invalid_decimal, too_large, too_precise, must_be_positive,
must_not_be_negative, empty, too_many, unknown_field, duplicate_line_id, line_amount_mismatch,
subtotal_mismatch, tax_total_mismatch, total_mismatch, end_before_start, due_before_issue.

`canonical_digest(body)` is the sha256 of the body serialised canonically, used to tell a
duplicate (source, id) from a conflicting one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Context, Decimal

import orjson

from config import money

# ---------------------------------------------------------------------------------------------
# Public interface


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


@dataclass(frozen=True)
class Envelope:
    specversion: str
    id: str
    source: str
    type: str
    time: datetime
    entity: str
    correlationid: str
    data: dict


class EventSchemaError(Exception):
    """A malformed event; `errors` lists every problem found, in the order of the fields."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field or '(event)'}: {e.message}" for e in errors))


MASTER_DATA_TYPES = frozenset({"customer.upserted", "partner.upserted"})

MAX_ID_LENGTH = 200
MAX_SOURCE_LENGTH = 200
MAX_ENTITY_LENGTH = 16
MAX_CORRELATION_ID_LENGTH = 128
# Text limits match the billing and partners columns, so what passes here also fits there.
MAX_CODE_LENGTH = 100  # plan_code, product_family, meter
MAX_TAG_LENGTH = 64  # region, tax_id, method
MAX_SHORT_LENGTH = 32  # partner_role, tax_code
MAX_NAME_LENGTH = 300  # customer and partner name
MAX_DESCRIPTION_LENGTH = 500  # line description
MAX_REASON_LENGTH = 300  # cancellation, credit-note and write-off reason
MAX_LINES = 1000
PARTNER_KINDS = ("referral", "reseller", "distributor")
INTERVALS = ("month", "year")

AMOUNT_INTEGER_DIGITS = money.AMOUNT_MAX_DIGITS - money.AMOUNT_DECIMAL_PLACES
RATE_INTEGER_DIGITS = money.RATE_MAX_DIGITS - money.RATE_DECIMAL_PLACES


# ---------------------------------------------------------------------------------------------
# Field checkers. Each one is `check(value, field, errors, minor) -> cleaned | _BAD`, where
# `field` is the full path used in errors and `minor` the minor units of the document's
# currency (None when the currency is missing or invalid). A checker appends to `errors`
# and returns _BAD when the value is refused.

_BAD = object()
_REQUIRED = "this field is required"
Checker = Callable[[object, str, list, int | None], object]

_DECIMAL_RE = re.compile(r"(-?)(\d+)(?:\.(\d+))?")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})"
)
_ENTITY_RE = re.compile(r"[A-Z0-9]{1,16}")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
# Exact products and sums of up to 16+8 digit operands: no rounding before the final quantize.
_EXACT = Context(prec=80)
_UNITS = {places: Decimal(1).scaleb(-places) for places in range(10)}


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal):
        return "a JSON number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _wrong_type(value: object, field: str, errors: list, expected: str) -> object:
    errors.append(
        FieldError(field, "invalid_type", f"{field} must be {expected}, not {_type_name(value)}")
    )
    return _BAD


def _storable(value: str) -> bool:
    if value.isascii():
        return "\x00" not in value
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _string(max_length: int) -> Checker:
    """A non-empty string of at most `max_length` characters."""

    def check(value, field, errors, minor):
        if type(value) is not str:
            return _wrong_type(value, field, errors, "a string")
        if not value:
            errors.append(FieldError(field, "blank", f"{field} must not be empty"))
            return _BAD
        if len(value) > max_length:
            errors.append(
                FieldError(field, "too_long", f"{field} must be at most {max_length} characters")
            )
            return _BAD
        if not _storable(value):
            errors.append(
                FieldError(
                    field,
                    "invalid_character",
                    f"{field} contains a NUL character or an unpaired surrogate",
                )
            )
            return _BAD
        return value

    return check


def _pattern(regex: re.Pattern, code: str, what: str) -> Checker:
    def check(value, field, errors, minor):
        if type(value) is not str:
            return _wrong_type(value, field, errors, "a string")
        if regex.fullmatch(value) is None:
            errors.append(FieldError(field, code, f"{field} must be {what}, not {value[:40]!r}"))
            return _BAD
        return value

    return check


def _choice(choices: tuple[str, ...]) -> Checker:
    listed = ", ".join(choices)

    def check(value, field, errors, minor):
        if type(value) is not str:
            return _wrong_type(value, field, errors, "a string")
        if value not in choices:
            errors.append(
                FieldError(
                    field, "invalid_choice", f"{field} must be one of {listed}, not {value[:40]!r}"
                )
            )
            return _BAD
        return value

    return check


def _currency(value, field, errors, minor):
    if type(value) is not str:
        return _wrong_type(value, field, errors, "a string")
    if not money.is_currency(value):
        errors.append(
            FieldError(
                field,
                "unknown_currency",
                f'{field} must be an ISO 4217 currency code such as "USD", not {value[:40]!r}',
            )
        )
        return _BAD
    return value


def _date(value, field, errors, minor):
    if type(value) is not str:
        return _wrong_type(value, field, errors, 'a date string such as "2026-05-14"')
    if _DATE_RE.fullmatch(value) is not None:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(
        FieldError(
            field,
            "invalid_date",
            f'{field} must be a date "YYYY-MM-DD" such as "2026-05-14", not {value[:40]!r}',
        )
    )
    return _BAD


def _datetime(value, field, errors, minor):
    if type(value) is not str:
        return _wrong_type(value, field, errors, "an RFC 3339 date-time string")
    if _DATETIME_RE.fullmatch(value) is not None:
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass
    errors.append(
        FieldError(
            field,
            "invalid_datetime",
            f"{field} must be an RFC 3339 date-time with a time zone such as "
            f'"2026-05-14T10:00:00Z", not {value[:40]!r}',
        )
    )
    return _BAD


_POSITIVE = "positive"  # > 0
_NON_NEGATIVE = "non_negative"  # >= 0
_ANY_SIGN = "any"


def _decimal(*, is_money: bool, sign: str) -> Checker:
    """A decimal string. Money is held to the currency's minor unit, rates to 8 places."""
    max_int = AMOUNT_INTEGER_DIGITS if is_money else RATE_INTEGER_DIGITS
    example = '"1250.00"' if is_money else '"0.25"'

    def check(value, field, errors, minor):
        if type(value) is not str:
            if isinstance(value, int | Decimal) and not isinstance(value, bool):
                errors.append(
                    FieldError(
                        field,
                        "number_not_string",
                        f"{field} must be a decimal string such as {example}, not a JSON number",
                    )
                )
                return _BAD
            return _wrong_type(value, field, errors, f"a decimal string such as {example}")
        match = _DECIMAL_RE.fullmatch(value)
        if match is None:
            errors.append(
                FieldError(
                    field,
                    "invalid_decimal",
                    f"{field} must be a decimal string such as {example} (digits, an optional "
                    f"leading '-' and '.'; no exponent, NaN or Infinity), not {value[:40]!r}",
                )
            )
            return _BAD
        negative, integer, fraction = match.groups()
        if len(integer) > max_int and len(integer.lstrip("0")) > max_int:
            errors.append(
                FieldError(
                    field, "too_large", f"{field} must have at most {max_int} integer digits"
                )
            )
            return _BAD
        if fraction is not None:
            places = money.AMOUNT_DECIMAL_PLACES if minor is None else minor
            if not is_money:
                places = money.RATE_DECIMAL_PLACES
            if len(fraction) > places and len(fraction.rstrip("0")) > places:
                if is_money and minor is not None:
                    why = f"the currency's minor unit ({minor} decimal places)"
                else:
                    why = f"{places} decimal places"
                errors.append(
                    FieldError(field, "too_precise", f"{field} must not have more than {why}")
                )
                return _BAD
        result = Decimal(value)
        if is_money and minor is not None:
            # "1250" and "1250.000" USD both clean to Decimal("1250.00").
            result = result.quantize(_UNITS[minor])
        if sign is not _ANY_SIGN:
            if sign is _POSITIVE and (negative or not result):
                errors.append(
                    FieldError(field, "must_be_positive", f"{field} must be greater than zero")
                )
                return _BAD
            if sign is _NON_NEGATIVE and negative and result:
                errors.append(
                    FieldError(field, "must_not_be_negative", f"{field} must not be negative")
                )
                return _BAD
        return result

    return check


# ---------------------------------------------------------------------------------------------
# Per-type specs


@dataclass(frozen=True)
class _Spec:
    fields: tuple[tuple[str, bool, Checker], ...]  # (name, required, checker)
    names: frozenset[str]
    # (names of the fields it reads, rule(cleaned, prefix, errors, minor))
    cross_checks: tuple[tuple[tuple[str, ...], Callable[[dict, str, list, int | None], None]], ...]


def _spec(*fields: tuple[str, bool, Checker], cross_checks=()) -> _Spec:
    return _Spec(tuple(fields), frozenset(f[0] for f in fields), tuple(cross_checks))


def _req(name: str, checker: Checker) -> tuple[str, bool, Checker]:
    return (name, True, checker)


def _opt(name: str, checker: Checker) -> tuple[str, bool, Checker]:
    return (name, False, checker)


def _check_fields(spec: _Spec, obj: dict, prefix: str, errors: list, minor) -> dict | None:
    """Check `obj` against `spec`; the cleaned dict, or None when anything was refused."""
    before = len(errors)
    cleaned = {}
    for name, required, checker in spec.fields:
        value = obj.get(name)
        if value is None:
            if required:
                errors.append(FieldError(prefix + name, "required", _REQUIRED))
                cleaned[name] = _BAD
            else:
                cleaned[name] = None
            continue
        cleaned[name] = checker(value, prefix + name, errors, minor)
    if not spec.names.issuperset(obj):
        for key in obj:
            if key not in spec.names:
                errors.append(
                    FieldError(
                        prefix + key,
                        "unknown_field",
                        f"{prefix}{key} is not a field of this object; expected one of "
                        f"{', '.join(f[0] for f in spec.fields)}",
                    )
                )
    for needs, cross_check in spec.cross_checks:
        # A cross-field rule runs when the fields it reads are valid, whatever else is wrong.
        if all(cleaned.get(name, _BAD) is not _BAD for name in needs):
            cross_check(cleaned, prefix, errors, minor)
    return cleaned if len(errors) == before else None


def _line_amount_matches(line: dict, prefix: str, errors: list, minor) -> None:
    if minor is None:
        return
    exact = _EXACT.multiply(line["quantity"], line["unit_price"])
    expected = exact.quantize(_UNITS[minor], rounding=money.ROUNDING, context=_EXACT)
    if line["amount"] != expected:
        errors.append(
            FieldError(
                prefix + "amount",
                "line_amount_mismatch",
                f"{prefix}amount {line['amount']} does not equal quantity x unit_price "
                f"rounded to the currency ({expected})",
            )
        )


_LINE = _spec(
    _req("line_id", _string(MAX_ID_LENGTH)),
    _req("description", _string(MAX_DESCRIPTION_LENGTH)),
    _req("product_family", _string(MAX_CODE_LENGTH)),
    _req("quantity", _decimal(is_money=False, sign=_NON_NEGATIVE)),
    _req("unit_price", _decimal(is_money=False, sign=_ANY_SIGN)),
    _req("amount", _decimal(is_money=True, sign=_ANY_SIGN)),
    _opt("tax_code", _string(MAX_SHORT_LENGTH)),
    _req("tax_amount", _decimal(is_money=True, sign=_ANY_SIGN)),
    cross_checks=((("quantity", "unit_price", "amount"), _line_amount_matches),),
)


def _lines(value, field, errors, minor):
    """A non-empty list of invoice/credit-note lines with unique line_ids."""
    if type(value) is not list:
        return _wrong_type(value, field, errors, "a list of line objects")
    if not value:
        errors.append(FieldError(field, "empty", f"{field} must have at least one line"))
        return _BAD
    if len(value) > MAX_LINES:
        errors.append(FieldError(field, "too_many", f"{field} must have at most {MAX_LINES} lines"))
        return _BAD
    before = len(errors)
    cleaned = []
    seen: set[str] = set()
    for index, line in enumerate(value):
        prefix = f"{field}[{index}]"
        if type(line) is not dict:
            _wrong_type(line, prefix, errors, "a line object")
            continue
        line_id = line.get("line_id")
        if type(line_id) is str:
            if line_id in seen:
                errors.append(
                    FieldError(
                        prefix + ".line_id",
                        "duplicate_line_id",
                        f"{prefix}.line_id {line_id[:40]!r} is used by an earlier line",
                    )
                )
            seen.add(line_id)
        cleaned.append(_check_fields(_LINE, line, prefix + ".", errors, minor))
    return cleaned if len(errors) == before else _BAD


def _sum_amounts(lines: list[dict]) -> Decimal:
    return sum((line["amount"] for line in lines), Decimal(0))


def _sum_taxes(lines: list[dict]) -> Decimal:
    return sum((line["tax_amount"] for line in lines), Decimal(0))


def _sum_gross(lines: list[dict]) -> Decimal:
    return sum((line["amount"] + line["tax_amount"] for line in lines), Decimal(0))


def _equals_lines(name: str, code: str, compute: Callable[[list[dict]], Decimal], how: str):
    """A rule: data[name] equals compute(lines) exactly (every line amount is quantised)."""

    def cross_check(data: dict, prefix: str, errors: list, minor) -> None:
        computed = compute(data["lines"])
        if data[name] != computed:
            errors.append(
                FieldError(
                    prefix + name,
                    code,
                    f"{prefix}{name} {data[name]} does not equal {how} ({computed})",
                )
            )

    return (("lines", name), cross_check)


def _ordered(first: str, second: str, code: str):
    """A rule: data[second] is on or after data[first]."""

    def cross_check(data: dict, prefix: str, errors: list, minor) -> None:
        if data[second] < data[first]:
            errors.append(
                FieldError(
                    prefix + second,
                    code,
                    f"{prefix}{second} {data[second]} is before {first} {data[first]}; "
                    "it must be on or after it",
                )
            )

    return ((first, second), cross_check)


_id = _string(MAX_ID_LENGTH)
_code = _string(MAX_CODE_LENGTH)
_short = _string(MAX_SHORT_LENGTH)
_tag = _string(MAX_TAG_LENGTH)
_name = _string(MAX_NAME_LENGTH)
_reason = _string(MAX_REASON_LENGTH)
_country = _pattern(_COUNTRY_RE, "invalid_country", 'an ISO 3166 alpha-2 code such as "US"')
_rate_positive = _decimal(is_money=False, sign=_POSITIVE)
_rate_non_negative = _decimal(is_money=False, sign=_NON_NEGATIVE)
_money_positive = _decimal(is_money=True, sign=_POSITIVE)
_money_non_negative = _decimal(is_money=True, sign=_NON_NEGATIVE)

_SPECS: dict[str, _Spec] = {
    "customer.upserted": _spec(
        _req("customer_id", _id),
        _req("name", _name),
        _req("country", _country),
        _req("currency", _currency),
        _opt("region", _tag),
        _opt("tax_id", _tag),
    ),
    "partner.upserted": _spec(
        _req("partner_id", _id),
        _req("name", _name),
        _req("kind", _choice(PARTNER_KINDS)),
        _opt("parent_partner_id", _id),
        _req("country", _country),
        _req("currency", _currency),
    ),
    "subscription.created": _spec(
        _req("subscription_id", _id),
        _req("customer_id", _id),
        _req("plan_code", _code),
        _req("product_family", _code),
        _req("quantity", _rate_positive),
        _req("unit_price", _rate_non_negative),
        _req("currency", _currency),
        _req("interval", _choice(INTERVALS)),
        _req("start_date", _date),
        _opt("partner_id", _id),
        _opt("partner_role", _short),
    ),
    "subscription.amended": _spec(
        _req("subscription_id", _id),
        _req("effective_date", _date),
        _opt("plan_code", _code),
        _opt("quantity", _rate_positive),
        _opt("unit_price", _rate_non_negative),
    ),
    "subscription.renewed": _spec(
        _req("subscription_id", _id),
        _req("term_end", _date),
    ),
    "subscription.cancelled": _spec(
        _req("subscription_id", _id),
        _req("effective_date", _date),
        _opt("reason", _reason),
    ),
    "usage.recorded": _spec(
        _req("usage_id", _id),
        _req("subscription_id", _id),
        _req("meter", _code),
        _req("quantity", _rate_non_negative),
        _req("unit_price", _rate_non_negative),
        _req("period_start", _date),
        _req("period_end", _date),
        cross_checks=(_ordered("period_start", "period_end", "end_before_start"),),
    ),
    "invoice.issued": _spec(
        _req("invoice_id", _id),
        _req("customer_id", _id),
        _opt("subscription_id", _id),
        _req("issue_date", _date),
        _req("due_date", _date),
        _req("currency", _currency),
        _req("lines", _lines),
        _req("subtotal", _money_non_negative),
        _req("tax_total", _money_non_negative),
        _req("total", _money_non_negative),
        cross_checks=(
            _ordered("issue_date", "due_date", "due_before_issue"),
            _equals_lines("subtotal", "subtotal_mismatch", _sum_amounts, "the sum of line amounts"),
            _equals_lines("tax_total", "tax_total_mismatch", _sum_taxes, "the sum of line taxes"),
            _equals_lines("total", "total_mismatch", _sum_gross, "line amounts plus line taxes"),
        ),
    ),
    "credit_note.issued": _spec(
        _req("credit_note_id", _id),
        _req("invoice_id", _id),
        _req("issue_date", _date),
        _req("currency", _currency),
        _req("lines", _lines),
        _req("total", _money_positive),
        _req("reason", _reason),
        cross_checks=(
            _equals_lines("total", "total_mismatch", _sum_gross, "line amounts plus line taxes"),
        ),
    ),
    "payment.settled": _spec(
        _req("payment_id", _id),
        _req("customer_id", _id),
        _opt("invoice_id", _id),
        _req("amount", _money_positive),
        _req("currency", _currency),
        _req("received_at", _datetime),
        _req("method", _tag),
    ),
    "refund.issued": _spec(
        _req("refund_id", _id),
        _req("payment_id", _id),
        _req("amount", _money_positive),
        _req("currency", _currency),
        _req("issued_at", _datetime),
    ),
    "invoice.written_off": _spec(
        _req("invoice_id", _id),
        _req("amount", _money_positive),
        _req("currency", _currency),
        _req("reason", _reason),
    ),
}

EVENT_TYPES: frozenset[str] = frozenset(_SPECS)
# Declared after this oracle was frozen (billing.schema.settlements); not validated here, only
# named in the unknown_type message, as the declared schema names them.
LATER_TYPES = frozenset({"settlement.approved", "payout.settled"})


# ---------------------------------------------------------------------------------------------
# The envelope

_envelope_id = _string(MAX_ID_LENGTH)
_envelope_source = _string(MAX_SOURCE_LENGTH)
_entity = _pattern(
    _ENTITY_RE,
    "invalid_entity",
    f'a legal entity code of 1 to {MAX_ENTITY_LENGTH} uppercase letters or digits such as "US01"',
)
_correlation_id = _string(MAX_CORRELATION_ID_LENGTH)


def validate_event(body: object, *, path: str = "") -> Envelope:
    """Check one canonical event; return it cleaned or raise `EventSchemaError` with all errors.

    `path` prefixes every field name (a batch passes "events[3]"). Pure and deterministic.
    """
    prefix = path + "." if path else ""
    if type(body) is not dict:
        raise EventSchemaError(
            [
                FieldError(
                    path,
                    "invalid_type",
                    f"{path or 'the event'} must be a JSON object, not {_type_name(body)}",
                )
            ]
        )
    errors: list[FieldError] = []

    def required(name: str, checker: Checker):
        value = body.get(name)
        if value is None:
            errors.append(FieldError(prefix + name, "required", _REQUIRED))
            return _BAD
        return checker(value, prefix + name, errors, None)

    specversion = body.get("specversion")
    if specversion is None:
        errors.append(FieldError(prefix + "specversion", "required", _REQUIRED))
    elif specversion != "1.0" or type(specversion) is not str:
        errors.append(
            FieldError(
                prefix + "specversion",
                "unsupported_version",
                f'{prefix}specversion must be "1.0" (CloudEvents 1.0), not {specversion!r:.40}',
            )
        )
    event_id = required("id", _envelope_id)
    source = required("source", _envelope_source)
    event_type = body.get("type")
    spec = None
    if event_type is None:
        errors.append(FieldError(prefix + "type", "required", _REQUIRED))
    elif type(event_type) is not str:
        _wrong_type(event_type, prefix + "type", errors, "a string")
    else:
        spec = _SPECS.get(event_type)
        if spec is None:
            errors.append(
                FieldError(
                    prefix + "type",
                    "unknown_type",
                    f"{prefix}type {event_type[:60]!r} is not a known event type; expected one "
                    f"of {', '.join(sorted(EVENT_TYPES | LATER_TYPES))}",
                )
            )
    time = required("time", _datetime)
    entity = required("entity", _entity)
    correlation_id = body.get("correlationid")
    if correlation_id is None:
        correlation_id = ""
    else:
        correlation_id = _correlation_id(correlation_id, prefix + "correlationid", errors, None)
    data = body.get("data")
    cleaned = None
    if data is None:
        errors.append(FieldError(prefix + "data", "required", _REQUIRED))
    elif type(data) is not dict:
        _wrong_type(data, prefix + "data", errors, "an object")
    elif spec is not None:
        currency = data.get("currency")
        minor = money.minor_units(currency) if money.is_currency(currency) else None
        cleaned = _check_fields(spec, data, prefix + "data.", errors, minor)
    if errors:
        raise EventSchemaError(errors)
    return Envelope(
        specversion=specversion,
        id=event_id,
        source=source,
        type=event_type,
        time=time,
        entity=entity,
        correlationid=correlation_id,
        data=cleaned,
    )


# ---------------------------------------------------------------------------------------------
# Digest


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_digest(body: dict) -> str:
    """sha256 hex of `body` serialised canonically: equal JSON objects give equal digests.

    Keys are sorted, separators fixed, text kept as UTF-8 (unpaired surrogates passed through),
    and a Decimal (a `FractionalNumber` from the parser) is written as its text, so it keeps the
    form it was sent in ("12.50"). It is rendered as a JSON string, so the number 12.5 and the
    string "12.5" digest alike: in a valid event that can only happen in an ignored extension
    attribute, because every amount is a string.
    """
    try:
        # orjson writes the same text as the json.dumps below, a few times faster.
        data = orjson.dumps(body, default=_json_default, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson refuses an unpaired surrogate, an integer past 64 bits
        text = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()
