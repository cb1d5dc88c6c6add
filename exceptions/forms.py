"""Console input on cases. Blank text passes so that the service answers with its own code."""

from django import forms


class CaseReasonForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CaseCommentForm(forms.Form):
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CaseRemediateForm(forms.Form):
    action = forms.CharField()
