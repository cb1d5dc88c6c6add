"""The one place that builds and marks model instances outside Django's own paths.

The batch paths make and write a thousand instances a request. Two details of Django's
instances are touched here, and only here:

- `build` makes an unsaved instance without ``Model.__init__`` (``Model.__new__`` plus a fresh
  ``django.db.models.base.ModelState``, the field values put in the instance ``__dict__`` by
  attname), for a fraction of its cost. Django documents neither step.
- `mark_saved` sets ``_state.adding`` and ``_state.db`` (documented under "Model._state")
  on an instance a set-based statement wrote, as ``save()`` and ``from_db()`` do.

``tests/foundation/test_instances_adapter.py`` pins both against ``Model(**values)``,
``save()`` and a loaded instance, so a Django upgrade that changes either fails there.
"""

from functools import cache

from django.db import models
from django.db.models.base import ModelState

from config.fsm import mark_states_saved


@cache
def _field_defaults(model: type[models.Model]) -> tuple[dict, tuple, frozenset]:
    """(static defaults by attname, (attname, callable) defaults, every attname)."""
    static, dynamic = {}, []
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            dynamic.append((field.attname, field.default))
        else:
            static[field.attname] = field.get_default()
    return static, tuple(dynamic), frozenset(f.attname for f in model._meta.concrete_fields)


def build(model: type[models.Model], /, **values) -> models.Model:
    """An unsaved `model` instance holding `values` (by attname: `customer_id`, not `customer`).

    What ``model(**values)`` gives for a model without per-instance init hooks (no
    pre_init/post_init receivers, no file or generic fields), for a fraction of its cost: the
    batch path builds a thousand instances a request. Defaults apply as in ``__init__``;
    an FSM model's initial states are recorded as ConcurrentTransitionMixin does.
    """
    static, dynamic, attnames = _field_defaults(model)
    if not values.keys() <= attnames:
        unknown = ", ".join(sorted(values.keys() - attnames))
        raise TypeError(f"{model.__name__} has no field (attname) {unknown}")
    obj = model.__new__(model)
    attrs = obj.__dict__
    attrs.update(static)
    for name, default in dynamic:
        if name not in values:
            attrs[name] = default()
    attrs.update(values)
    obj._state = ModelState()
    mark_states_saved(obj)
    return obj


def mark_saved(obj: models.Model, *, using: str) -> None:
    """Make `obj`, whose row a set-based statement just wrote to database `using` (its pk
    set), behave as ``save()`` leaves an instance: a later ``save()`` updates rather than
    inserts, and a ConcurrentTransitionMixin model checks the FSM state as written."""
    obj._state.adding = False
    obj._state.db = using
    mark_states_saved(obj)
