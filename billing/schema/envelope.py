"""The CloudEvents 1.0 envelope, and each event type's whole-event declaration built from it.

Unknown envelope attributes are CloudEvents extensions and are ignored; `correlationid` is
optional (absent: ""). The whole-event TypedDict of a type is the envelope with `type` fixed
to the type's name and `data` its data TypedDict: one pydantic validator per type checks a
valid event in one call, and the same declaration gives the published JSON Schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal, NotRequired

from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict

from billing.schema.declaration import EventType
from billing.schema.errors import Kind
from billing.schema.fields import (
    MAX_CORRELATION_ID_LENGTH,
    MAX_ID_LENGTH,
    MAX_SOURCE_LENGTH,
    DateTime,
    Entity,
    text,
)


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


SpecVersion = Annotated[
    Literal["1.0"],
    Kind(choice_code="unsupported_version", type_code="unsupported_version"),
    Field(description="CloudEvents specification version"),
]
EventId = text(MAX_ID_LENGTH, "unique per source; a retry sends the same id and body")
Source = text(MAX_SOURCE_LENGTH, "the sending system (a URI reference)")
CorrelationId = text(MAX_CORRELATION_ID_LENGTH, "ties the event to a business process")

# The envelope attributes in the order their errors are reported; `type` and `data` are
# added per event type.
ENVELOPE_FIELDS = {
    "specversion": SpecVersion,
    "id": EventId,
    "source": Source,
    "type": str,
    "time": Annotated[DateTime, Field(description="when the event happened (RFC 3339)")],
    "entity": Entity,
    "correlationid": NotRequired[CorrelationId | None],
    "data": dict,
}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", ".").split("."))


def fixed_source(source: str):
    """The `source` of a type only one sender may send (Concord's own events)."""
    return Annotated[
        Literal[source],
        Kind(choices=(source,)),
        Field(description=f"always {source!r}: only Concord emits this type"),
    ]


def event_typed_dict(event_type: EventType) -> type:
    """The whole event of `event_type`: envelope + `type` fixed + `data` declared (and the
    `source` fixed when the type declares one)."""
    fields = {
        **ENVELOPE_FIELDS,
        "type": Literal[event_type.name],
        "data": event_type.data,
    }
    if event_type.source is not None:
        fields["source"] = fixed_source(event_type.source)
    declared = TypedDict(f"{_camel(event_type.name)}Event", fields)
    declared.__doc__ = f"{event_type.name} (a CloudEvents 1.0 event): {event_type.description}"
    return declared


class CompiledType:
    """An event type with its whole-event declaration and pydantic validator (built on first
    use: building all twelve costs about half a second, which every process would pay at
    import, whether it validates events or not)."""

    def __init__(self, spec: EventType):
        self.spec = spec
        self.event = event_typed_dict(spec)

    @cached_property
    def adapter(self) -> TypeAdapter:
        return TypeAdapter(self.event)


def compile_type(event_type: EventType) -> CompiledType:
    return CompiledType(event_type)
