"""Console forms of erp_sync (shape only; the services decide)."""

from __future__ import annotations

import json

from django import forms

from erp_sync.choices import AdapterKind, ClosedPeriodPolicy, DocumentType

# --- rules and connections ----------------------------------------------------------------


class MappingRuleForm(forms.Form):
    name = forms.CharField(max_length=200)
    entity = forms.CharField(max_length=16, required=False)
    document_type = forms.ChoiceField(choices=[("", "any"), *DocumentType.choices], required=False)
    product_family = forms.CharField(max_length=100, required=False)
    country = forms.CharField(max_length=2, required=False)
    region = forms.CharField(max_length=64, required=False)
    currency = forms.CharField(max_length=3, required=False)
    partner_kind = forms.CharField(max_length=16, required=False)
    revenue_account = forms.CharField(
        max_length=64,
        required=False,
        help_text="Revenue; for payments/refunds the bank account; for write-offs bad debt; "
        "for settlements commission expense.",
    )
    receivable_account = forms.CharField(
        max_length=64, required=False, help_text="Receivable (partner payable for settlements)."
    )
    tax_code = forms.CharField(max_length=32, required=False)
    tax_account = forms.CharField(max_length=64, required=False)
    cost_center = forms.CharField(max_length=64, required=False)
    erp_item = forms.CharField(max_length=100, required=False)
    subsidiary = forms.CharField(max_length=100, required=False)
    valid_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    ACCOUNT_FIELDS = ("revenue_account", "receivable_account", "tax_account")

    def __init__(self, *args, chart=None, **kwargs):
        """`chart`: the ERP's accounts (ChartAccount); the account fields then become choices
        of that chart ("code — name"), the current value kept if the chart lacks it."""
        super().__init__(*args, **kwargs)
        if chart is None:
            return
        choices = [(account.code, f"{account.code} — {account.name}") for account in chart]
        known = {account.code for account in chart}
        for name in self.ACCOUNT_FIELDS:
            text = self.fields[name]
            current = self.initial.get(name) or ""
            extra = [(current, f"{current} (not in the chart)")] if current not in known else []
            self.fields[name] = forms.ChoiceField(
                label=text.label,
                choices=[("", "— none —"), *[c for c in extra if c[0]], *choices],
                required=False,
                help_text=text.help_text,
            )


class MappingPreviewForm(forms.Form):
    event_json = forms.CharField(
        label="Event JSON", required=False, widget=forms.Textarea(attrs={"rows": 14})
    )
    source = forms.CharField(label="or stored event: source", required=False, max_length=200)
    event_id = forms.CharField(label="id", required=False, max_length=200)

    def clean(self):
        cleaned = super().clean()
        text = (cleaned.get("event_json") or "").strip()
        if text:
            try:
                cleaned["event"] = json.loads(text)
            except json.JSONDecodeError as error:
                raise forms.ValidationError(f"the event is not valid JSON: {error}") from None
        elif not (cleaned.get("source") and cleaned.get("event_id")):
            raise forms.ValidationError("paste an event, or give the source and id of one")
        return cleaned


class ConnectionForm(forms.Form):
    """Create or change an ERP connection (the entity only on create)."""

    name = forms.CharField(max_length=100)
    entity = forms.CharField(max_length=16, label="Legal entity (code)")
    adapter_kind = forms.ChoiceField(label="Kind", choices=AdapterKind.choices)
    settings = forms.CharField(
        label="Settings (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text='e.g. {"url": "https://erp.example.com", "database": "acme", '
        '"login": "concord"}. No secrets here.',
    )
    secret_env = forms.CharField(
        label="Secret from environment variable",
        max_length=100,
        required=False,
        help_text="The NAME of a CONCORD_ERP_* variable holding the password or token.",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)
    max_concurrency = forms.IntegerField(
        label="Max concurrency",
        min_value=1,
        max_value=32767,
        initial=1,
        help_text="Documents posted at once. A Tryton connection posts one at a time: 1.",
    )
    failure_threshold = forms.IntegerField(
        label="Failures before the circuit opens", min_value=1, max_value=1000, initial=5
    )
    open_cooldown_seconds = forms.IntegerField(
        label="Cooldown of an open circuit (seconds)", min_value=1, max_value=604_800, initial=60
    )
    closed_period_policy = forms.ChoiceField(
        label="Posting dated in a closed period", choices=ClosedPeriodPolicy.choices
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["entity"]

    def clean_settings(self) -> dict:
        text = (self.cleaned_data.get("settings") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"the settings are not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("the settings must be a JSON object")
        return value


class ConnectionPauseForm(forms.Form):
    reason = forms.CharField(max_length=300)


class MaintenanceWindowForm(forms.Form):
    starts_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reason = forms.CharField(max_length=300, required=False)
