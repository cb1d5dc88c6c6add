"""What an event type's declaration consists of: name, description, the `data` TypedDict, the
cross-field rules and one valid example. The family modules (master_data, subscriptions,
documents, payments, settlements) declare the types; `billing.schema.registry` collects them."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ConfigDict, with_config

from billing.schema.errors import Kind
from billing.schema.rules import Rule

LINE_OBJECT = Kind(expected="a line object")

# `data` and its lines refuse unknown fields so that a typo is reported, not dropped.
data_config = with_config(ConfigDict(extra="forbid", use_attribute_docstrings=True))


@dataclass(frozen=True)
class ObjectList:
    """Marks a list-of-objects field (document lines): each item is walked field by field for
    its errors, `unique` names the field no two items may share, `rules` run on each item;
    an item that is not an object is worded by `item_kind`."""

    unique: str
    rules: tuple[Rule, ...] = ()
    # The one source accepted for the type (Concord's own events), None: any source.
    source: str | None = None
    item_kind: Kind = LINE_OBJECT


@dataclass(frozen=True)
class EventType:
    name: str  # the CloudEvents `type`
    description: str
    data: type  # a TypedDict declaring `data`
    example: dict  # one valid `data`
    rules: tuple[Rule, ...] = ()
    # The one source accepted for the type (Concord's own events), None: any source.
    source: str | None = None
