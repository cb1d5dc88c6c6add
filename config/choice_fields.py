"""Model choice fields whose choices are read with one ordinary query.

Django's `ModelChoiceIterator` reads a choice field's queryset with `.iterator()`, which on
PostgreSQL opens a server-side cursor: outside a transaction a `DECLARE ... WITH HOLD`, a
FETCH and a CLOSE, the result materialised at the implicit commit. For the exception
queue's owner and group lists (21 people, 5 groups) that was 2-5 ms per list, 10 ms a page
(tests/benchmarks/bench_console.py). Choice lists are short by nature: these fields set the
documented `iterator` attribute to one that fetches the queryset as a normal query. Use
them for every model choice in a form or a filter.
"""

import django_filters
from django import forms
from django_filters import fields as filter_fields


class OneQueryChoiceIterator(forms.models.ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():  # a fresh clone: nothing cached between requests
            yield self.choice(obj)


class ModelChoiceField(forms.ModelChoiceField):
    iterator = OneQueryChoiceIterator


class _FilterChoiceIterator(filter_fields.ModelChoiceIterator, OneQueryChoiceIterator):
    """django-filter's iterator (its "null" choice) over OneQueryChoiceIterator."""


class _FilterModelChoiceField(filter_fields.ModelChoiceField):
    iterator = _FilterChoiceIterator


class ModelChoiceFilter(django_filters.ModelChoiceFilter):
    field_class = _FilterModelChoiceField
