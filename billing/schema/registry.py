"""Every canonical event type, collected from the family modules and compiled once."""

from __future__ import annotations

from billing.schema import documents, master_data, payments, settlements, subscriptions
from billing.schema.declaration import EventType
from billing.schema.envelope import CompiledType, compile_type

DECLARED: tuple[EventType, ...] = (
    *master_data.EVENT_TYPES,
    *subscriptions.EVENT_TYPES,
    *documents.EVENT_TYPES,
    *payments.EVENT_TYPES,
    *settlements.EVENT_TYPES,
)
COMPILED: dict[str, CompiledType] = {spec.name: compile_type(spec) for spec in DECLARED}

EVENT_TYPES: frozenset[str] = frozenset(COMPILED)
MASTER_DATA_TYPES = frozenset(spec.name for spec in master_data.EVENT_TYPES)
