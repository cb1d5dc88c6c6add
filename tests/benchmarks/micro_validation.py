"""Validation cost per event: pydantic (billing.schema) against msgspec, and the hand-written
validator they replaced (tests/billing/schema_oracle.py).

`python -m tests.benchmarks.micro_validation` (not part of `make bench`; needs msgspec for
its column: `pip install msgspec==0.22.0`). The mix: the ingest benchmark's stream (85%
usage.recorded, 10% invoice.issued with 2-5 lines, 5% payment.settled) plus its customers and
subscriptions and the published example of each of the twelve types, all valid, as the
ingest path sees them. The three run interleaved, best of REPEATS, in one process.

The msgspec validator is built from the same declarations (each TypedDict becomes a
`msgspec.Struct` with the same length, pattern and choice constraints, unknown fields
forbidden) and runs the same conversions (decimal strings, dates, date-times) and the same
cross-field rules, so only the declarative engine differs. It is the valid-event path only:
msgspec stops at the first error, so the field-by-field walk for errors would be the same.
"""

import random
import time
from types import SimpleNamespace
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, StringConstraints

from billing.schema import validate_event
from billing.schema.publication import example_event
from billing.schema.registry import COMPILED
from billing.schema.validate import _list_rules, _minor, fields_of
from tests.benchmarks.bench_ingest import build_stream
from tests.billing import schema_oracle

REPEATS = 7


def mix(unique: int = 4000) -> list[dict]:
    stream = build_stream(unique, random.Random(7))
    examples = [example_event(name) for name in sorted(COMPILED)] * 20
    return stream.events + stream.customers[:100] + stream.subscriptions[:200] + examples


def _msgspec_validator():
    import msgspec

    def field_type(declared):
        hint = declared.hint
        metadata = hint.__metadata__ if get_origin(hint) is Annotated else ()
        base = get_args(hint)[0] if metadata else hint
        if declared.list is not None:
            item = structs(get_args(base)[0])
            return list[item], None
        if get_origin(base) is Literal:
            return base, None
        meta = {}
        convert = None
        for m in metadata:
            if isinstance(m, StringConstraints):
                meta.update(
                    {
                        k: getattr(m, k)
                        for k in ("min_length", "max_length", "pattern")
                        if getattr(m, k) is not None
                    }
                )
            if isinstance(m, AfterValidator):
                convert = m.func
        return (Annotated[str, msgspec.Meta(**meta)] if meta else str), convert

    cache: dict = {}

    def structs(declared):
        if declared not in cache:
            fields, converters = [], []
            for f in fields_of(declared):
                kind, convert = field_type(f)
                if f.required:
                    fields.append((f.name, kind))
                else:
                    fields.append((f.name, kind | None, None))
                if convert is not None:
                    with_info = convert.__code__.co_argcount == 2
                    converters.append((f.name, convert, with_info))
            struct = msgspec.defstruct(
                declared.__name__, fields, forbid_unknown_fields=True, kw_only=True
            )
            cache[declared] = (struct, tuple(converters))
        return cache[declared][0]

    data_types = {name: (structs(c.spec.data), c.spec) for name, c in COMPILED.items()}
    list_fields = {
        c.spec.data: [f for f in fields_of(c.spec.data) if f.list is not None]
        for c in COMPILED.values()
    }
    lists = {
        c.spec.data: [
            (f.name, get_args(get_args(f.hint)[0])[0])
            for f in fields_of(c.spec.data)
            if f.list is not None
        ]
        for c in COMPILED.values()
    }

    class Envelope(msgspec.Struct):
        specversion: Literal["1.0"]
        id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
        source: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
        type: str
        time: Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}T")]
        entity: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,16}$")]
        data: dict
        correlationid: str | None = None

    def to_dict(value, declared, info):
        result = msgspec.structs.asdict(value)
        for name, convert, with_info in cache[declared][1]:
            raw = result[name]
            if raw is not None:
                result[name] = convert(raw, info) if with_info else convert(raw)
        return result

    def validate(body: dict):
        envelope = msgspec.convert(body, Envelope)
        struct, spec = data_types[envelope.type]
        minor = _minor(body["data"])
        info = SimpleNamespace(context={"minor": minor})
        data = to_dict(msgspec.convert(body["data"], struct), spec.data, info)
        for name, item_type in lists[spec.data]:
            data[name] = [to_dict(item, item_type, info) for item in data[name]]
        errors: list = []
        for declared in list_fields[spec.data]:
            _list_rules(declared, data[declared.name], "data." + declared.name, errors, minor)
        for rule in spec.rules:
            rule.check(data, "data.", errors, minor)
        assert not errors
        return envelope, data

    return validate


def per_event_us(validate, events: list[dict]) -> float:
    started = time.perf_counter()
    for event in events:
        validate(event)
    return (time.perf_counter() - started) / len(events) * 1e6


def main() -> None:
    events = mix()
    candidates: dict[str, Any] = {
        "hand-written (before)": schema_oracle.validate_event,
        "pydantic 2 (billing.schema)": validate_event,
    }
    try:
        candidates["msgspec"] = _msgspec_validator()
    except ImportError:
        print("msgspec is not installed: pip install msgspec==0.22.0 to compare")
    for validate in candidates.values():  # warm up, and check every event is valid
        for event in events:
            validate(event)
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(REPEATS):
        for name, validate in candidates.items():
            best[name] = min(best[name], per_event_us(validate, events))
    print(f"{len(events)} valid events, best of {REPEATS} interleaved runs")
    for name, value in best.items():
        print(f"  {name:30s} {value:7.2f} us/event")


if __name__ == "__main__":
    main()
