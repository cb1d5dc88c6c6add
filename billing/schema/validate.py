"""`validate_event`: one pydantic call per valid event; every error, in field order, otherwise.

A valid event (the common case, 1,000 per batch) is checked by its type's whole-event
validator in one call, then by the cross-field rules. When anything is wrong, the event is
walked field by field from the same declarations (each field's own pydantic validator), so
that every problem is reported in the order of the fields, with the cross-field rules whose
fields are valid: a failed one-call validation gives the errors but not the cleaned values
of the valid fields, which those rules read.
"""

from __future__ import annotations

import types
import typing
from functools import cache, cached_property
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from pydantic import Strict, TypeAdapter, ValidationError

from billing.schema.declaration import ObjectList
from billing.schema.envelope import ENVELOPE_FIELDS, Envelope, fixed_source
from billing.schema.errors import (
    REQUIRED,
    TEXT,
    EventSchemaError,
    FieldError,
    Kind,
    field_error,
    field_errors,
    type_name,
)
from billing.schema.registry import COMPILED, EVENT_TYPES
from billing.schema.rules import Rule, duplicate_line_id
from config import money

_BAD = object()


class _Field:
    """One declared field, unwrapped for the field-by-field walk."""

    def __init__(self, name: str, hint: Any, required: bool):
        if get_origin(hint) is typing.NotRequired:
            hint, required = get_args(hint)[0], False
        if get_origin(hint) in (Union, types.UnionType):
            hint = next(arg for arg in get_args(hint) if arg is not type(None))
        metadata = hint.__metadata__ if get_origin(hint) is Annotated else ()
        self.name = name
        self.required = required
        self.hint = hint
        self.kind = next((m for m in metadata if isinstance(m, Kind)), TEXT)
        self.list = next((m for m in metadata if isinstance(m, ObjectList)), None)
        if self.list is not None:
            self.item_fields = fields_of(get_args(get_args(hint)[0])[0])

    @cached_property
    def adapter(self) -> TypeAdapter:
        if self.list is not None:  # the list itself; its items are walked one by one
            return TypeAdapter(Annotated[list[Any], Strict(), *self.hint.__metadata__])
        return TypeAdapter(self.hint)


@cache
def fields_of(declared: type) -> tuple[_Field, ...]:
    hints = get_type_hints(declared, include_extras=True)
    required = declared.__required_keys__
    return tuple(_Field(name, hint, name in required) for name, hint in hints.items())


_ENVELOPE = {name: _Field(name, hint, True) for name, hint in ENVELOPE_FIELDS.items()}


@cache
def _source_field(source: str) -> _Field:
    return _Field("source", fixed_source(source), True)


@cache
def _optional(declared: type) -> tuple[tuple[str, ...], tuple[tuple[_Field, tuple[str, ...]], ...]]:
    """(optional field names, (list field, its items' optional names)) of a declaration."""
    fields = fields_of(declared)
    lists = tuple(
        (f, tuple(i.name for i in f.item_fields if not i.required))
        for f in fields
        if f.list is not None
    )
    return tuple(f.name for f in fields if not f.required), lists


_MINOR_UNITS = {code: money.minor_units(code) for code in money.known_currencies()}


def _minor(data: object) -> int | None:
    """The minor units of the event's currency, None when it has no valid one."""
    currency = data.get("currency") if type(data) is dict else None
    return _MINOR_UNITS.get(currency) if type(currency) is str else None


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
                    f"{path or 'the event'} must be a JSON object, not {type_name(body)}",
                )
            ]
        )
    event_type = body.get("type")
    compiled = COMPILED.get(event_type) if type(event_type) is str else None
    minor = _minor(body.get("data"))
    if compiled is not None:
        try:
            cleaned = compiled.adapter.validate_python(body, context={"minor": minor})
        except ValidationError:
            pass
        else:
            data = cleaned["data"]
            optional, lists = _optional(compiled.spec.data)
            errors: list[FieldError] = []
            for declared, item_optional in lists:
                items = data[declared.name]
                _list_rules(declared, items, f"{prefix}data.{declared.name}", errors, minor)
                for item in items:
                    for key in item_optional:
                        item.setdefault(key, None)
            for name in optional:
                data.setdefault(name, None)
            for rule in compiled.spec.rules:
                rule.check(data, prefix + "data.", errors, minor)
            if not errors:
                return Envelope(
                    specversion=cleaned["specversion"],
                    id=cleaned["id"],
                    source=cleaned["source"],
                    type=event_type,
                    time=cleaned["time"],
                    entity=cleaned["entity"],
                    correlationid=cleaned.get("correlationid") or "",
                    data=data,
                )
    raise EventSchemaError(_every_error(body, compiled, prefix, minor))


def _list_rules(declared: _Field, items: list, field: str, errors: list, minor) -> None:
    """The fast path's item rules of a list field (duplicates, each item's rules)."""
    seen = set()
    for index, item in enumerate(items):
        item_prefix = f"{field}[{index}]"
        unique = item[declared.list.unique]
        if unique in seen:
            errors.append(duplicate_line_id(unique, item_prefix))
        seen.add(unique)
        for rule in declared.list.rules:
            rule.check(item, item_prefix + ".", errors, minor)


# ---------------------------------------------------------------------------------------------
# The field-by-field walk (invalid events only)


def _every_error(body: dict, compiled, prefix: str, minor: int | None) -> list[FieldError]:
    errors: list[FieldError] = []
    context = {"minor": minor}
    for name, declared in _ENVELOPE.items():
        field = prefix + name
        value = body.get(name)
        if name == "correlationid" and value is None:
            continue
        if value is None:
            errors.append(FieldError(field, "required", REQUIRED))
        elif name == "type":
            if type(value) is not str:
                errors.append(field_error(field, "invalid_type", TEXT, value))
            elif compiled is None:
                errors.append(
                    FieldError(
                        field,
                        "unknown_type",
                        f"{field} {value[:60]!r} is not a known event type; expected one of "
                        f"{', '.join(sorted(EVENT_TYPES))}",
                    )
                )
        elif name == "data":
            if type(value) is not dict:
                errors.append(field_error(field, "invalid_type", Kind(expected="an object"), value))
            elif compiled is not None:
                spec = compiled.spec
                _walk(fields_of(spec.data), spec.rules, value, field + ".", errors, context)
        else:
            if name == "source" and compiled is not None and compiled.spec.source is not None:
                declared = _source_field(compiled.spec.source)
            _check(declared, value, field, errors, context)
    return errors


def _check(declared: _Field, value: object, field: str, errors: list, context: dict) -> object:
    try:
        return declared.adapter.validate_python(value, context=context)
    except ValidationError as exc:
        errors.extend(field_errors(exc, field, declared.kind))
        return _BAD


def _walk(
    fields: tuple[_Field, ...],
    rules: tuple[Rule, ...],
    obj: dict,
    prefix: str,
    errors: list,
    context: dict,
) -> dict | None:
    """Check `obj` field by field; the cleaned dict, or None when anything was refused."""
    before = len(errors)
    cleaned: dict = {}
    for declared in fields:
        name = declared.name
        value = obj.get(name)
        if value is None:
            if declared.required:
                errors.append(FieldError(prefix + name, "required", REQUIRED))
                cleaned[name] = _BAD
            else:
                cleaned[name] = None
        elif declared.list is not None:
            cleaned[name] = _walk_list(declared, value, prefix + name, errors, context)
        else:
            cleaned[name] = _check(declared, value, prefix + name, errors, context)
    names = [declared.name for declared in fields]
    for key in obj:
        if key not in names:
            errors.append(
                FieldError(
                    prefix + key,
                    "unknown_field",
                    f"{prefix}{key} is not a field of this object; expected one of "
                    f"{', '.join(names)}",
                )
            )
    for rule in rules:
        # A cross-field rule runs when the fields it reads are valid, whatever else is wrong.
        if all(cleaned.get(name, _BAD) is not _BAD for name in rule.needs):
            rule.check(cleaned, prefix, errors, context["minor"])
    return cleaned if len(errors) == before else None


def _walk_list(declared: _Field, value: object, field: str, errors: list, context: dict):
    if _check(declared, value, field, errors, context) is _BAD:  # the list itself
        return _BAD
    before = len(errors)
    cleaned = []
    seen: set[str] = set()
    marker = declared.list
    for index, item in enumerate(value):
        item_field = f"{field}[{index}]"
        if type(item) is not dict:
            errors.append(field_error(item_field, "invalid_type", marker.item_kind, item))
            continue
        unique = item.get(marker.unique)
        if type(unique) is str:
            if unique in seen:
                errors.append(duplicate_line_id(unique, item_field))
            seen.add(unique)
        cleaned.append(
            _walk(declared.item_fields, marker.rules, item, item_field + ".", errors, context)
        )
    return cleaned if len(errors) == before else _BAD
