"""config.choice_fields: the same choices as Django's and django-filter's model choice fields,
read with one ordinary query (no server-side cursor)."""

import django_filters
import pytest
from django import forms
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.choice_fields import ModelChoiceField, ModelChoiceFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups():
    return [Group.objects.create(name=name) for name in ("b-team", "a-team", "<c>")]


def test_model_choice_field_gives_djangos_choices_in_one_plain_query(groups):
    ours = ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)
    django = forms.ModelChoiceField(queryset=Group.objects.order_by("name"), required=False)
    with CaptureQueriesContext(connection) as queries:
        choices = [(str(value), label) for value, label in ours.choices]
    assert choices == [(str(value), label) for value, label in django.choices]
    assert len(queries) == 1
    assert "DECLARE" not in queries[0]["sql"]
    assert ours.clean(str(groups[0].pk)) == groups[0]


class _Ours(django_filters.FilterSet):
    group = ModelChoiceFilter(queryset=Group.objects.order_by("name"), null_label="None")

    class Meta:
        model = Group
        fields = ["group"]


class _Theirs(django_filters.FilterSet):
    group = django_filters.ModelChoiceFilter(
        queryset=Group.objects.order_by("name"), null_label="None"
    )

    class Meta:
        model = Group
        fields = ["group"]


def test_model_choice_filter_keeps_django_filters_null_choice(groups):
    ours = [(str(v), str(label)) for v, label in _Ours().form.fields["group"].choices]
    theirs = [(str(v), str(label)) for v, label in _Theirs().form.fields["group"].choices]
    assert ours == theirs
    assert ours[1] == ("null", "None")
    with CaptureQueriesContext(connection) as queries:
        html = str(_Ours().form["group"])
    assert "&lt;c&gt;" in html
    assert len(queries) == 1 and "DECLARE" not in queries[0]["sql"]
