"""The declared schema (pydantic) answers exactly as the hand-written one it replaced did.

`tests/billing/schema_oracle.py` is the hand-written validator as of aae29c0, frozen. For
random mutations of valid events of every type (fields removed, nulled, given values of other
types or at the edges of their limits, unknown fields, bad lines, duplicate line ids), both
give the same errors (field, code and message, in the same order) or the same cleaned event.
When a rule is changed on purpose, change the oracle with it or delete this test.
"""

import copy
import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.schema import EventSchemaError, validate_event
from billing.schema.registry import DECLARED
from config.api.parsers import FractionalNumber
from tests.billing import schema_oracle

ENVELOPE = {
    "specversion": "1.0",
    "id": "evt_1",
    "source": "billing-platform",
    "time": "2026-05-14T10:00:00Z",
    "entity": "US01",
    "correlationid": "corr-1",
}
# The types the oracle knows (those declared later have their own tests).
EXAMPLES = {spec.name: spec.example for spec in DECLARED if spec.name in schema_oracle.EVENT_TYPES}

# Values at the edges of every field type (lengths, decimals, dates, choices, JSON types).
EDGE_VALUES = [
    None,
    "",
    "x",
    "x" * 33,
    "x" * 65,
    "x" * 101,
    "x" * 201,
    "x" * 301,
    "x" * 501,
    "a\x00b",
    "a\ud800b",
    "\ud800" * 40,
    "US",
    "us",
    "USD",
    "JPY",
    "KWD",
    "usd",
    "ZZZ",
    "XXX",
    "US01",
    "1.0",
    "0.3",
    "0",
    "-0",
    "-0.00",
    "0.00",
    "1",
    "-1",
    "10.005",
    "10.500",
    "1296.00",
    "1296",
    "0.000000001",
    "0.12345678",
    "1e3",
    "NaN",
    "+5",
    "1.",
    ".5",
    "9" * 16 + ".99",
    "1" * 17,
    "0" * 20 + "1",
    "2026-05-14",
    "2026-02-30",
    "2026-5-1",
    "2026-05-14T10:00:00Z",
    "2026-05-14T10:00:00",
    "2026-05-14T25:00:00Z",
    "2026-05-14T12:00:00.250+02:00",
    "referral",
    "vendor",
    "month",
    "week",
    "usage.recorded",
    "invoice.paid",
    0,
    12,
    1296,
    True,
    False,
    FractionalNumber("12.50"),
    FractionalNumber("1.0"),
    [],
    ["x"],
    {},
    {"a": 1},
]
_VALUES = st.sampled_from(EDGE_VALUES)


@st.composite
def mutated_events(draw):
    event_type = draw(st.sampled_from([*sorted(EXAMPLES), "unknown.type"]))
    body = {**copy.deepcopy(ENVELOPE), "type": event_type}
    body["data"] = copy.deepcopy(EXAMPLES.get(event_type, EXAMPLES["usage.recorded"]))
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(["envelope", "data", "data", "line"]))
        data = body.get("data")
        if target == "envelope" or not isinstance(data, dict):
            container = body
        elif target == "line" and isinstance(data.get("lines"), list):
            lines = data["lines"]
            action = draw(st.sampled_from(["mutate", "duplicate", "replace", "empty"]))
            if action == "duplicate" and lines:
                lines.append(copy.deepcopy(draw(st.sampled_from(lines))))
                continue
            if action == "replace" and lines:
                lines[draw(st.integers(0, len(lines) - 1))] = copy.deepcopy(draw(_VALUES))
                continue
            objects = [line for line in lines if isinstance(line, dict)]
            if action == "empty" or not objects:
                data["lines"] = []
                continue
            container = draw(st.sampled_from(objects))
        else:
            container = data
        if not isinstance(container, dict):
            continue
        keys = sorted({*container, "unknown_field"})
        key = draw(st.sampled_from(keys))
        if draw(st.booleans()) and key in container:
            del container[key]
        else:
            container[key] = copy.deepcopy(draw(_VALUES))
    return body


def _answer(validate, body):
    try:
        envelope = validate(body)
    except (EventSchemaError, schema_oracle.EventSchemaError) as exc:
        return [(e.field, e.code, e.message) for e in exc.errors]
    return dataclasses.asdict(envelope)


@settings(max_examples=1500, deadline=None)
@given(body=mutated_events(), path=st.sampled_from(["", "events[3]"]))
def test_declared_schema_answers_as_the_hand_written_one(body, path):
    expected = _answer(lambda b: schema_oracle.validate_event(b, path=path), copy.deepcopy(body))
    answer = _answer(lambda b: validate_event(b, path=path), copy.deepcopy(body))

    assert answer == expected


def test_equivalence_covers_valid_events_of_every_type():
    for name, example in EXAMPLES.items():
        body = {**ENVELOPE, "type": name, "data": copy.deepcopy(example)}
        answer = _answer(validate_event, body)
        assert answer == _answer(schema_oracle.validate_event, body)
        assert isinstance(answer, dict), answer


def test_cleaned_amounts_are_the_same_decimals():
    body = {**ENVELOPE, "type": "invoice.issued", "data": copy.deepcopy(EXAMPLES["invoice.issued"])}

    data = validate_event(body).data

    assert data["total"] == schema_oracle.validate_event(body).data["total"] == Decimal("1296.00")
