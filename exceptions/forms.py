"""Console input on cases. Blank text passes so that the service answers with its own code."""

from django import forms
from django.contrib.auth import get_user_model

from config.choice_fields import ModelChoiceField
from exceptions.services import BULK_ACTIONS


def _people():
    return get_user_model().objects.filter(is_api_client=False, is_active=True).order_by("username")


class CaseReasonForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CaseCommentForm(forms.Form):
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CaseRemediateForm(forms.Form):
    action = forms.CharField()


class CaseAssignForm(forms.Form):
    owner = ModelChoiceField(queryset=_people(), required=False, label="Owner")
    reason = forms.CharField(required=False, label="Why")


class CaseBulkForm(forms.Form):
    """The selected rows come as `ids` checkboxes in the queue's table (read by the view)."""

    action = forms.ChoiceField(choices=[(a, a.capitalize()) for a in BULK_ACTIONS])
    owner = ModelChoiceField(
        queryset=_people(), required=False, label="Owner", help_text="for Assign"
    )
    reason = forms.CharField(required=False, label="Reason")
    next = forms.CharField(required=False, widget=forms.HiddenInput)


class SavedFilterForm(forms.Form):
    name = forms.CharField(max_length=80, label="Save this filter as")
    query = forms.CharField(required=False, widget=forms.HiddenInput)
