"""Building the test database: django-fsm's signal receivers dropped from the historical
models that migrations render.

Every FSMField connects a `class_prepared` receiver (to collect its model's @transition
methods) when it is added to a model class, and never disconnects it. Migrations render
historical models thousands of times, so the receivers pile up and every class prepared
after notifies all of them: most of the ~45 s `migrate` takes to build the test database
(cProfile: 3 M receiver calls, 10 M weak reference looks). A historical model has no
methods, so its receiver would find no transition: the field gets that empty answer at once
and its receiver is disconnected. Models of the app registry (what the code and the tests
use) are untouched.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.db.models.signals import class_prepared
from django_fsm import FSMFieldMixin

_CONTRIBUTE = FSMFieldMixin.contribute_to_class


def contribute_to_class(self, cls, name, private_only=False, **kwargs):
    """FSMFieldMixin.contribute_to_class; on a historical model, without the receiver."""
    _CONTRIBUTE(self, cls, name, private_only=private_only, **kwargs)
    if cls._meta.apps is not global_apps:
        class_prepared.disconnect(self._collect_transitions)
        self.transitions[cls] = {}
