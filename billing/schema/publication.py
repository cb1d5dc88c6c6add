"""The published schema: JSON Schema and one valid example of every event type, generated from
the same declarations `validate_event` uses.

- `catalogue()` (GET /api/v1/event-types): per type its name, description, the JSON Schema
  (draft 2020-12) of the WHOLE event (envelope + `data`; an integrator validates the event
  as sent) and one valid example event.
- `openapi_components()`: the same declarations as OpenAPI components, each type's `data` as
  `<Type>Data` (e.g. `InvoiceIssuedData`), the whole event as `<Type>Event`, and shared parts
  (`DocumentLine`) once.

What JSON Schema cannot say is in the field descriptions and checked only by the API: money
exact to the currency's minor unit, at most 16 integer digits, the totals against the lines,
dates that exist and their order.
"""

from __future__ import annotations

import copy
from functools import cache

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema

from billing.schema.registry import COMPILED

DIALECT = "https://json-schema.org/draft/2020-12/schema"
EXAMPLE_ENVELOPE = {
    "specversion": "1.0",
    "source": "billing-platform",
    "time": "2026-05-14T10:00:00Z",
    "entity": "US01",
    "correlationid": "example-correlation",
}
_OPENAPI_REF = "#/components/schemas/{model}"


def example_event(event_type: str) -> dict:
    """One valid event of `event_type` (its id names the type)."""
    spec = COMPILED[event_type].spec
    return {
        **EXAMPLE_ENVELOPE,
        "source": spec.source or EXAMPLE_ENVELOPE["source"],
        "id": f"example-{event_type}",
        "type": event_type,
        "data": copy.deepcopy(COMPILED[event_type].spec.example),
    }


@cache
def _json_schema(event_type: str) -> dict:
    schema = TypeAdapter(COMPILED[event_type].event).json_schema()
    return {"$schema": DIALECT, **schema}


def event_json_schema(event_type: str) -> dict:
    """The JSON Schema of a whole event of `event_type` (self-contained, with `$defs`)."""
    return copy.deepcopy(_json_schema(event_type))


def data_component_name(event_type: str) -> str:
    return COMPILED[event_type].spec.data.__name__


def event_component_name(event_type: str) -> str:
    return COMPILED[event_type].event.__name__


def catalogue() -> list[dict]:
    return [
        {
            "type": name,
            "description": COMPILED[name].spec.description,
            "schema_of": "event",
            "json_schema": event_json_schema(name),
            "data_component": data_component_name(name),
            "example": example_event(name),
        }
        for name in sorted(COMPILED)
    ]


class OpenApi30Schema(GenerateJsonSchema):
    """pydantic's JSON Schema in the OpenAPI 3.0 dialect drf-spectacular writes: `nullable`
    instead of a "null" type, `enum` instead of `const`."""

    def nullable_schema(self, schema):
        inner = self.generate_inner(schema["schema"])
        if "$ref" in inner:
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}

    def literal_schema(self, schema):
        result = super().literal_schema(schema)
        if "const" in result:
            result["enum"] = [result.pop("const")]
        return result


def openapi_components() -> dict[str, dict]:
    """Component name -> schema, references pointing at `#/components/schemas/`."""
    components: dict[str, dict] = {}
    for name in sorted(COMPILED):
        declared = COMPILED[name].event
        schema = TypeAdapter(declared).json_schema(
            ref_template=_OPENAPI_REF, schema_generator=OpenApi30Schema
        )
        components.update(schema.pop("$defs", {}))
        components[declared.__name__] = schema
    return components
