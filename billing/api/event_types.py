"""GET /api/v1/event-types: every canonical event type with its JSON Schema and an example,
and the same declarations as named OpenAPI components (`<Type>Data`, `<Type>Event`).

The JSON Schema given per type is that of the whole event (envelope + `data`), so that an
integrator can validate an event before sending it; `data_component` names the OpenAPI
component of its `data`.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.schema import EVENT_TYPES
from billing.schema.publication import catalogue, event_component_name, openapi_components


class EventTypeList:
    """The answer of GET /api/v1/event-types, described by `EventTypeListExtension`."""


class EventTypeListExtension(OpenApiSerializerExtension):
    """Registers every event type's declaration as components (drf-spectacular's extension
    hook, as its pydantic extension does) and describes the answer that refers to them."""

    target_class = EventTypeList

    def get_name(self, auto_schema, direction):
        return "EventTypeList"

    def map_serializer(self, auto_schema, direction):
        for name, schema in openapi_components().items():
            auto_schema.registry.register_on_missing(
                ResolvedComponent(
                    name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
                )
            )
        events = [
            {"$ref": f"#/components/schemas/{event_component_name(name)}"}
            for name in sorted(EVENT_TYPES)
        ]
        item = {
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": sorted(EVENT_TYPES)},
                "description": {"type": "string"},
                "schema_of": {
                    "type": "string",
                    "enum": ["event"],
                    "description": "json_schema describes the whole event, envelope and data",
                },
                "json_schema": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "JSON Schema (draft 2020-12) of the whole event",
                },
                "data_component": {
                    "type": "string",
                    "description": "name of the OpenAPI component of the event's data",
                },
                "example": {"oneOf": events, "description": "one valid event of this type"},
            },
            "required": [
                "type",
                "description",
                "schema_of",
                "json_schema",
                "data_component",
                "example",
            ],
        }
        return {
            "type": "object",
            "properties": {"results": {"type": "array", "items": item}},
            "required": ["results"],
        }


class EventTypeListView(APIView):
    """The canonical event types an integrator may send to POST /api/v1/events."""

    required_permissions = {"get": ("billing.view_financeevent", "read")}

    @extend_schema(responses=EventTypeList)
    def get(self, request):
        return Response({"results": catalogue()})
