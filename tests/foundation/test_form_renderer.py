"""config/form_renderer.py prints what Django's widget templates print (STYLE.md "Fast
paths": the Python widgets against the template path), for every widget it takes over."""

from pathlib import Path

import django
import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import mark_safe
from hypothesis import given, settings
from hypothesis import strategies as st

from config.form_renderer import INPUTS, OPTION, SELECT, TEXTAREA, FormRenderer

FAST = FormRenderer()
SLOW = DjangoTemplates()

_text = st.text(alphabet=st.sampled_from(list("ab <>&\"'é1_-")), max_size=8)
_scalar = st.one_of(
    _text,
    _text.map(mark_safe),
    st.integers(-5000, 5000),
    st.booleans(),
    st.none(),
    st.decimals(min_value=-10000, max_value=10000, places=2),
)
_attrs = st.dictionaries(st.sampled_from(["class", "id", "data-x", "required", "size"]), _scalar)
_choices = st.lists(st.tuples(_text, _text), max_size=6)
_grouped = st.lists(st.one_of(st.tuples(_text, _text), st.tuples(_text, _choices)), max_size=5)


def both(widget: forms.Widget, name, value, attrs=None) -> tuple[str, str]:
    fast = widget.render(name, value, attrs=attrs, renderer=FAST)
    slow = widget.render(name, value, attrs=attrs, renderer=SLOW)
    return fast, slow


@settings(max_examples=150, deadline=None)
@given(choices=_grouped, value=st.one_of(_text, st.lists(_text, max_size=3)), attrs=_attrs,
       name=_text, multiple=st.booleans())  # fmt: skip
def test_select_prints_what_the_template_prints(choices, value, attrs, name, multiple):
    widget = (forms.SelectMultiple if multiple else forms.Select)(choices=choices)
    fast, slow = both(widget, name, value, attrs)
    assert fast == slow


@settings(max_examples=150, deadline=None)
@given(value=_scalar, attrs=_attrs, name=_text, kind=st.sampled_from(
    [forms.TextInput, forms.HiddenInput, forms.NumberInput, forms.EmailInput, forms.URLInput,
     forms.PasswordInput, forms.CheckboxInput, forms.Textarea, forms.NullBooleanSelect,
     forms.DateInput, forms.DateTimeInput, forms.TimeInput]))  # fmt: skip
def test_inputs_print_what_the_template_prints(value, attrs, name, kind):
    fast, slow = both(kind(), name, value, attrs)
    assert fast == slow


@pytest.mark.django_db
def test_the_queue_forms_print_the_same(django_user_model):
    from django.contrib.auth.models import Group

    from exceptions.filters import CaseFilterSet
    from exceptions.forms import CaseAssignForm, CaseBulkForm, CaseReasonForm

    django_user_model.objects.create(username="ana <b>")
    Group.objects.create(name="AR & collections")
    filters = CaseFilterSet({"kind": ["erp_rejected"], "sla": "breached", "entity": "DE01"}).form
    for form in (filters, CaseBulkForm(initial={"next": "/x?a=1&b=<"}), CaseAssignForm(),
                 CaseReasonForm()):  # fmt: skip
        shown = {}
        for renderer in (FAST, SLOW):
            form.renderer = renderer
            shown[renderer] = [str(field) for field in form]
        assert shown[FAST] == shown[SLOW]


def test_the_settings_use_it():
    from django.forms.renderers import get_default_renderer

    assert isinstance(get_default_renderer(), FormRenderer)
    assert FAST._stock()


def test_django_templates_are_the_ones_it_was_written_for():
    """Pinned: an upgrade of Django that changes these templates must be looked at."""
    root = Path(django.__file__).parent / "forms" / "templates"
    texts = {name: (root / name).read_text() for name in (SELECT, OPTION, TEXTAREA)}
    assert texts[OPTION] == (
        "<option value=\"{{ widget.value|stringformat:'s' }}\"{% include "
        '"django/forms/widgets/attrs.html" %}>{{ widget.label }}</option>\n'
    )
    assert texts[TEXTAREA] == (
        '<textarea name="{{ widget.name }}"{% include "django/forms/widgets/attrs.html" %}>\n'
        "{% if widget.value %}{{ widget.value }}{% endif %}</textarea>\n"
    )
    assert "{% include option.template_name with widget=option %}" in texts[SELECT]
    for name in INPUTS - {"django/forms/widgets/input.html"}:
        assert (root / name).read_text().strip() == (
            '{% include "django/forms/widgets/input.html" %}'
        )
