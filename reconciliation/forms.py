"""Console forms of reconciliation (shape only; the services decide)."""

from __future__ import annotations

from django import forms

from billing.models import LegalEntity
from config.choice_fields import ModelChoiceField
from reconciliation.choices import RunScope
from reconciliation.periods import MONTH, Period


class EntityChoiceField(ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.code} — {obj.name}"


def _entities():
    return LegalEntity.objects.order_by("code")


class _PeriodMixin:
    def clean_period(self) -> Period:
        text = self.cleaned_data["period"]
        if not MONTH.match(text or ""):
            raise forms.ValidationError("a period is a month: YYYY-MM")
        return Period.parse(text)


class RunStartForm(_PeriodMixin, forms.Form):
    entity = EntityChoiceField(queryset=_entities(), to_field_name="code")
    period = forms.CharField(
        max_length=7, widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    )
    scope = forms.ChoiceField(choices=RunScope.choices, initial=RunScope.DOCUMENTS)


class EntityPeriodForm(_PeriodMixin, forms.Form):
    """?entity=CODE&period=YYYY-MM of the KPI and close checklist pages."""

    entity = EntityChoiceField(queryset=_entities(), to_field_name="code")
    period = forms.CharField(
        max_length=7, widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    )


class BreakAcceptForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class MatchDecisionForm(forms.Form):
    DECISIONS = (("confirm", "Confirm"), ("reject", "Reject"))

    matches = forms.TypedMultipleChoiceField(coerce=int, choices=())
    decision = forms.ChoiceField(choices=DECISIONS)
    note = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any id: the service refuses ids that are not suggestions (match_not_found, ...).
        self.fields["matches"].valid_value = lambda value: str(value).isdigit()
