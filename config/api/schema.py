"""The OpenAPI document's AutoSchema: documents what every endpoint may answer besides 2xx.

Every operation may answer the error shape of config/api/errors.py with 400 (a bad body,
query or page), 401 (no or bad credentials), 403 (no permission or scope), 404 (no such
object or page), 405, 409 (a command not valid in the object's state), 415, 429 (throttled)
and 503 (a dependency unavailable). A cursor-paged list gets its own component name, so it
does not share one (and its `count`) with a page-numbered list of the same serializer.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.pagination import CursorPagination

ERROR_CODES = {
    "400": "Invalid input (body, query parameters or page)",
    "401": "Missing or invalid credentials",
    "403": "Not permitted for this person or API client",
    "404": "No such object or page",
    "405": "Method not allowed",
    "409": "Not valid in the object's current state",
    "415": "Unsupported media type",
    "429": "Throttled; see Retry-After",
    "503": "A dependency (database, broker, ERP) is unavailable; retry later",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        }
    },
}


class ConcordAutoSchema(AutoSchema):
    def get_paginated_name(self, serializer_name: str) -> str:
        if isinstance(self._get_paginator(), CursorPagination):
            return f"CursorPaginated{serializer_name}List"
        return super().get_paginated_name(serializer_name)

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, schema=ERROR_SCHEMA, object="Error"
        )
        self.registry.register_on_missing(component)
        responses = operation.setdefault("responses", {})
        for code, description in ERROR_CODES.items():
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": component.ref}},
                },
            )
        return operation
