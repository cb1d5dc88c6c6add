"""Errors of the event schema, and the one place where pydantic's errors become ours.

Every problem is a `FieldError(field, code, message)` with the full field path
(``data.lines[0].amount``). pydantic reports `{"type", "loc", "input", "ctx"}`; `field_errors`
turns those into our codes and messages, worded from the field's `Kind` (what the field
expects, what a pattern mismatch is called). Nothing else reads pydantic's error types.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pydantic import ValidationError

REQUIRED = "this field is required"


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


class EventSchemaError(Exception):
    """A malformed event; `errors` lists every problem found, in the order of the fields."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field or '(event)'}: {e.message}" for e in errors))


@dataclass(frozen=True)
class Kind:
    """How a field's errors are worded; carried in the field's `Annotated` declaration.

    `expected` completes "<field> must be ..." for a value of the wrong JSON type (code
    `type_code`); a value that does not match the field's pattern gets `pattern_code`, one
    outside its choices `choice_code`, each worded by MESSAGES; `numbers` marks decimal
    strings, where a JSON number is `number_not_string`.
    """

    expected: str = "a string"
    pattern_code: str = "invalid_character"
    what: str = ""
    example: str = ""
    numbers: bool = False
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    choice_code: str = "invalid_choice"
    type_code: str = "invalid_type"


TEXT = Kind()

# Message of each code, given field (the path), value (repr of the first 40 characters),
# the Kind's attributes and the error's context.
MESSAGES = {
    "invalid_type": "{field} must be {expected}, not {type_name}",
    "blank": "{field} must not be empty",
    "too_long": "{field} must be at most {max_length} characters",
    "invalid_character": "{field} contains a NUL character or an unpaired surrogate",
    "invalid_entity": "{field} must be {what}, not {value}",
    "invalid_country": "{field} must be {what}, not {value}",
    "invalid_choice": "{field} must be one of {choices}, not {value}",
    "unsupported_version": '{field} must be "1.0" (CloudEvents 1.0), not {raw!r:.40}',
    "unknown_currency": '{field} must be an ISO 4217 currency code such as "USD", not {value}',
    "invalid_date": '{field} must be a date "YYYY-MM-DD" such as "2026-05-14", not {value}',
    "invalid_datetime": (
        "{field} must be an RFC 3339 date-time with a time zone such as "
        '"2026-05-14T10:00:00Z", not {value}'
    ),
    "number_not_string": "{field} must be a decimal string such as {example}, not a JSON number",
    "invalid_decimal": (
        "{field} must be a decimal string such as {example} (digits, an optional leading '-' "
        "and '.'; no exponent, NaN or Infinity), not {value}"
    ),
    "too_large": "{field} must have at most {max_int} integer digits",
    "too_precise": "{field} must not have more than {why}",
    "must_be_positive": "{field} must be greater than zero",
    "must_not_be_negative": "{field} must not be negative",
    "empty": "{field} must have at least one line",
    "too_many": "{field} must have at most {max_length} lines",
}

# pydantic error type -> our code, where the mapping does not depend on the input.
_CODES = {
    "string_too_short": "blank",
    "string_too_long": "too_long",
    "too_short": "empty",  # a list
    "too_long": "too_many",  # a list
}
_WRONG_TYPE = {"string_type", "list_type", "dict_type", "model_type", "typed_dict_type"}


def type_name(value: object) -> str:
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


def field_error(field: str, code: str, kind: Kind, value: object, context=None) -> FieldError:
    """Our error `code` for `value` of `field`; `context` is the pydantic error's (a length
    limit) or the one our own validators raise (max_int, why)."""
    context = context or {}
    text = value[:40] if isinstance(value, str) else value
    message = MESSAGES[code].format(
        field=field,
        value=repr(text),
        raw=value,
        type_name=type_name(value),
        expected=kind.expected,
        what=kind.what,
        example=kind.example,
        max_length=context.get("max_length", kind.max_length),
        choices=", ".join(kind.choices),
        max_int=context.get("max_int"),
        why=context.get("why"),
    )
    return FieldError(field, code, message)


def _code(error: dict, kind: Kind) -> str:
    kind_of_error = error["type"]
    value = error["input"]
    if kind_of_error in _WRONG_TYPE:
        if kind.numbers and isinstance(value, int | Decimal) and not isinstance(value, bool):
            return "number_not_string"
        return kind.type_code
    if kind_of_error == "literal_error":
        return kind.choice_code if isinstance(value, str) else kind.type_code
    if kind_of_error == "string_pattern_mismatch":
        return kind.pattern_code
    if kind_of_error == "string_unicode":  # an unpaired surrogate, found before any constraint
        if kind.choices or kind.choice_code != TEXT.choice_code:  # a Literal field
            return kind.choice_code
        if kind.pattern_code != TEXT.pattern_code:
            return kind.pattern_code
        if kind.max_length is not None and len(value) > kind.max_length:
            return "too_long"
        return "invalid_character"
    return _CODES.get(kind_of_error, kind_of_error)  # our own validators raise our codes


def field_errors(exc: ValidationError, field: str, kind: Kind) -> list[FieldError]:
    """pydantic's errors for one field's value, as ours (`field` is the field's full path)."""
    result = []
    for error in exc.errors(include_url=False):
        code = _code(error, kind)
        if code not in MESSAGES:
            raise AssertionError(f"no wording for pydantic error {error['type']!r}") from exc
        result.append(field_error(field, code, kind, error["input"], error.get("ctx")))
    return result
