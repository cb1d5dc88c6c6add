"""The one place that reads django-fsm's declarations and touches its per-instance detail.

Set-based write paths (COPY, one UPDATE for many rows) change states without calling
``save()`` row by row. They must still obey the model's state machine, so they take the
source and target states from the transition's own declaration (``transition_states``)
and check the source in their WHERE clause; and an instance they wrote must behave like a
saved one, so a later ``save()`` of a ``ConcurrentTransitionMixin`` model checks against
the state as written (``mark_states_saved``).

Public django-fsm API is used where it exists (``FSMFieldMixin.get_all_transitions``).
``mark_states_saved`` and ``saved_states`` read and write the name-mangled attribute in which
``ConcurrentTransitionMixin`` keeps the states its ``save()`` checks: django-fsm has no
public API for it. This module is the only place that touches it;
``tests/foundation/test_fsm_adapter.py`` pins the behaviour, so a django-fsm upgrade that
changes it fails loudly there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMFieldMixin


@dataclass(frozen=True)
class TransitionStates:
    """What a transition declares: the states it may leave from and the state it goes to."""

    name: str
    field: str
    sources: tuple[str, ...]
    target: str


def fsm_field(model: type[models.Model], name: str | None = None) -> FSMFieldMixin:
    """The FSM field of `model` (named `name`, or the only one)."""
    fields = [f for f in model._meta.fields if isinstance(f, FSMFieldMixin)]
    if name is not None:
        fields = [f for f in fields if f.name == name]
    if len(fields) != 1:
        raise LookupError(f"{model.__name__} has no single FSM field {name or ''}".rstrip())
    return fields[0]


@cache
def transition_states(model: type[models.Model], transition: str) -> TransitionStates:
    """The declared sources and target of `model`'s transition method `transition`.

    Raises LookupError for a name that is not a transition of the model, and ValueError for
    a transition whose source is a wildcard ("*", "+") or whose target is not one state:
    such a transition cannot be checked in a WHERE clause.
    """
    for field in model._meta.fields:
        if not isinstance(field, FSMFieldMixin):
            continue
        found = [t for t in field.get_all_transitions(model) if t.name == transition]
        if not found:
            continue
        targets = {t.target for t in found}
        sources = tuple(sorted({str(t.source) for t in found}))
        if len(targets) != 1 or any(s in ("*", "+") for s in sources):
            raise ValueError(
                f"{model.__name__}.{transition} has no fixed source set and single target"
            )
        (target,) = targets
        return TransitionStates(transition, field.attname, sources, str(target))
    raise LookupError(f"{model.__name__} has no FSM transition {transition!r}")


@cache
def concurrent_state_attnames(model: type[models.Model]) -> tuple[str, ...]:
    """The FSM fields whose saved value ConcurrentTransitionMixin checks on save()."""
    if not issubclass(model, ConcurrentTransitionMixin):
        return ()
    return tuple(f.attname for f in model._meta.fields if isinstance(f, FSMFieldMixin))


# ConcurrentTransitionMixin keeps the states save() checks in this name-mangled attribute.
# Written here directly (not through `_update_initial_state`, which scans every field of the
# model per call) because the ingest path marks thousands of instances a request;
# tests/foundation/test_fsm_adapter.py fails if django-fsm stops reading it.
_SAVED_STATES = "_ConcurrentTransitionMixin__initial_states"


def mark_states_saved(obj: models.Model) -> None:
    """Record `obj`'s current FSM states as the saved ones (what save() does after writing).

    For instances written by a set-based path or built without ``__init__``: a later
    ``save()`` then updates only while the row is still in the state written. A no-op for
    models without ConcurrentTransitionMixin.
    """
    attnames = concurrent_state_attnames(type(obj))
    if attnames:
        values = obj.__dict__
        values[_SAVED_STATES] = {name: values[name] for name in attnames}


def saved_states(obj: models.Model) -> dict[str, str]:
    """The FSM states `obj` was loaded or last saved with (what its next save() expects)."""
    return dict(obj.__dict__.get(_SAVED_STATES, {}))
