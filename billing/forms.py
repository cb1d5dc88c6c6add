"""Console forms of billing (shape only: the event schema and the services decide)."""

from __future__ import annotations

import json
from typing import Annotated, Literal, get_args, get_origin

from django import forms

from billing.models import FinanceEvent
from billing.schema import EventSchemaError
from billing.schema.registry import COMPILED
from billing.schema.validate import fields_of

# Words for the ids and names of the event fields, where the field name alone reads badly.
LABELS = {
    "customer_id": "Customer",
    "invoice_id": "Invoice",
    "payment_id": "Payment",
    "subscription_id": "Subscription",
    "partner_id": "Partner",
    "parent_partner_id": "Parent partner",
    "settlement_id": "Settlement",
    "credit_note_id": "Credit note",
    "refund_id": "Refund",
    "payout_id": "Payout",
    "usage_id": "Usage record",
    "tax_id": "Tax id",
    "tax_total": "Tax total",
    "received_at": "Received at",
    "issued_at": "Issued at",
    "paid_at": "Paid at",
}


def field_label(name: str) -> str:
    """How a person reads event field `name`: "customer_id" → "Customer"."""
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def _choices(declared) -> tuple[str, ...]:
    """The values of a choice field (a Literal, possibly inside Annotated), else ()."""
    hint = declared.hint
    if get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if get_origin(hint) is Literal:
        return tuple(str(v) for v in get_args(hint))
    return ()


def _field_name(name: str) -> str:
    return f"data__{name}"


class EventCorrectionForm(forms.Form):
    """The corrected parts of a quarantined event, prefilled with what it holds now: the legal
    entity, each field of its `data` (choices as choices; lists of lines as JSON), and the
    reason, which is required. `payload()` is what `event_correct` takes."""

    entity = forms.CharField(label="Legal entity", max_length=16)

    def __init__(self, *args, event: FinanceEvent, **kwargs):
        super().__init__(*args, **kwargs)
        self.event = event
        data = event.data
        self.initial.setdefault("entity", event.entity)
        spec = COMPILED[event.type].spec
        self.declared = fields_of(spec.data)
        for declared in self.declared:
            name = _field_name(declared.name)
            value = data.get(declared.name)
            label = field_label(declared.name)
            if declared.list is not None:
                self.fields[name] = forms.CharField(
                    label=f"{label} (JSON)",
                    required=False,
                    widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
                )
                self.initial.setdefault(name, json.dumps(value or [], indent=2))
                continue
            choices = _choices(declared)
            if choices:
                blank = [] if declared.required else [("", "—")]
                self.fields[name] = forms.ChoiceField(
                    label=label, required=False, choices=[*blank, *((c, c) for c in choices)]
                )
            else:
                self.fields[name] = forms.CharField(label=label, required=False, strip=True)
            self.initial.setdefault(name, "" if value is None else str(value))
        self.fields["reason"] = forms.CharField(
            label="Reason for the correction",
            max_length=300,
            widget=forms.TextInput(attrs={"placeholder": "What was wrong, and who confirmed it"}),
        )

    def clean(self):
        cleaned = super().clean()
        for declared in self.declared:
            name = _field_name(declared.name)
            if declared.list is None or name not in cleaned:
                continue
            try:
                cleaned[name] = json.loads(cleaned[name] or "[]")
            except json.JSONDecodeError as error:
                self.add_error(name, f"data.{declared.name} is not valid JSON: {error.msg}")
        return cleaned

    def payload(self) -> dict:
        """The corrected entity and data; an optional field left blank is left out."""
        data = {}
        for declared in self.declared:
            value = self.cleaned_data.get(_field_name(declared.name))
            if value in ("", None) and not declared.required:
                continue
            data[declared.name] = value
        return {"entity": self.cleaned_data.get("entity", ""), "data": data}

    def add_schema_errors(self, error: EventSchemaError) -> None:
        """Put each of the schema's errors on the field it names (its message keeps the whole
        path, e.g. data.lines[0].amount); an error of no field here goes above the form."""
        for problem in error.errors:
            path = problem.field or ""
            top = path.split(".", 1)[0]
            name = None
            if top == "entity":
                name = "entity"
            elif top == "data" and "." in path:
                key = path.split(".", 1)[1].split(".", 1)[0].split("[", 1)[0]
                name = _field_name(key) if _field_name(key) in self.fields else None
            self.add_error(name, problem.message)
