"""Console forms of partners (shape only: the services decide what is allowed).

A refusal from a service names the input at fault (`field`, e.g. "effective_from" or
"rules[1].tiers[0].rate_percent"); `show_refusal` puts its message on that field of the form
(or of the rule's row), so the person sees the error where the value is.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms

from partners.choices import AttributionRole, CommissionBasis, RuleKind, SettlementPeriod, TierMode

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
_BAND = re.compile(r"^\s*([^-–:\s]+)\s*[-–]\s*([^:\s]*)\s*:\s*([^%\s]+)\s*%?\s*$")


class AgreementVersionForm(forms.Form):
    """The terms of a new agreement version."""

    effective_from = forms.DateField(
        label="New terms apply from",
        widget=_DATE,
        help_text="Days before keep the current version's terms.",
    )
    effective_to = forms.DateField(
        label="Until (exclusive)", required=False, widget=_DATE, help_text="Empty: open-ended."
    )
    settlement_period = forms.ChoiceField(label="Settlement period", choices=SettlementPeriod)
    basis = forms.ChoiceField(label="Basis", choices=CommissionBasis)
    tier_mode = forms.ChoiceField(label="Tier mode", choices=TierMode)
    override_on_children = forms.BooleanField(
        label="Also earns on its resellers' deals", required=False
    )


def _codes(text: str, *, upper: bool = False) -> list[str]:
    codes = [part.strip() for part in (text or "").split(",") if part.strip()]
    return [code.upper() for code in codes] if upper else codes


def _decimal(text: str, what: str) -> Decimal | None:
    if text in ("", None):
        return None
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise forms.ValidationError(f"{what} {text!r} is not a number") from None
    if not value.is_finite():
        raise forms.ValidationError(f"{what} {text!r} is not a number")
    return value


class RuleForm(forms.Form):
    """One commission rule of the new version (a row of the rules table)."""

    code = forms.CharField(label="Code", max_length=64)
    # A blank first choice: the empty row (for adding a rule) stays unchanged when unused.
    kind = forms.ChoiceField(label="Kind", choices=[("", "—"), *RuleKind.choices])
    rate_percent = forms.DecimalField(label="Rate %", required=False, max_digits=9)
    unit_amount = forms.DecimalField(label="Per unit", required=False, max_digits=18)
    threshold_amount = forms.DecimalField(label="Threshold", required=False, max_digits=18)
    cap_amount = forms.DecimalField(label="Cap", required=False, max_digits=18)
    floor_amount = forms.DecimalField(label="Floor", required=False, max_digits=18)
    product_families = forms.CharField(
        label="Product families", required=False, help_text="Comma-separated; empty: all."
    )
    countries = forms.CharField(
        label="Countries", required=False, help_text="Comma-separated codes; empty: all."
    )
    tiers = forms.CharField(
        label="Tiers",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 22}),
        help_text='One band a line, "from-to: rate%"; an empty "to" is open ("10000-: 15").',
    )

    def clean_tiers(self) -> list[dict]:
        bands = []
        for number, line in enumerate((self.cleaned_data["tiers"] or "").splitlines(), 1):
            if not line.strip():
                continue
            match = _BAND.match(line)
            if match is None:
                raise forms.ValidationError(
                    f'band {number} "{line.strip()}" is not "from-to: rate%"'
                )
            lower, upper, rate = match.groups()
            bands.append(
                {
                    "lower_amount": _decimal(lower, f"band {number}: from"),
                    "upper_amount": _decimal(upper, f"band {number}: to"),
                    "rate_percent": _decimal(rate, f"band {number}: rate"),
                }
            )
        return bands

    def as_rule(self) -> dict:
        """The rule as the agreement services take it."""
        data = self.cleaned_data
        return {
            "code": data["code"].strip(),
            "kind": data["kind"],
            **{name: data.get(name) for name in _AMOUNTS},
            "product_families": _codes(data.get("product_families")),
            "countries": _codes(data.get("countries"), upper=True),
            "tiers": data.get("tiers") or [],
        }


_AMOUNTS = ("rate_percent", "unit_amount", "threshold_amount", "cap_amount", "floor_amount")
RuleFormSet = forms.formset_factory(RuleForm, extra=1, can_delete=True)


def rule_initial(rule) -> dict:
    """A stored rule as the initial values of its row."""

    def band(tier) -> str:
        upper = "" if tier.upper_amount is None else f"{tier.upper_amount.normalize():f}"
        return f"{tier.lower_amount.normalize():f}-{upper}: {tier.rate_percent.normalize():f}%"

    values = {"code": rule.code, "kind": rule.kind}
    for name in _AMOUNTS:
        amount = getattr(rule, name)
        values[name] = None if amount is None else f"{amount.normalize():f}"
    values["product_families"] = ", ".join(rule.product_families)
    values["countries"] = ", ".join(rule.countries)
    values["tiers"] = "\n".join(band(tier) for tier in rule.tiers.all())
    return values


def kept_rule_forms(formset) -> list[RuleForm]:
    """The rows that make rules: filled in and not marked for deletion, in order."""
    return [
        form for form in formset.forms if form.has_changed() and not form.cleaned_data.get("DELETE")
    ]


_RULE_FIELD = re.compile(r"^rules\[(\d+)\](?:\.(\w+))?")


def show_refusal(error, form: forms.Form, rule_forms: list | None = None) -> None:
    """Put a service refusal on the field it names (a rule's row for "rules[i]...")."""
    field = error.field or ""
    match = _RULE_FIELD.match(field)
    if match is not None and rule_forms is not None and int(match.group(1)) < len(rule_forms):
        row = rule_forms[int(match.group(1))]
        name = match.group(2)
        row.add_error(name if name in row.fields else None, error.message)
        return
    form.add_error(field if field in form.fields else None, error.message)


class AttributionForm(forms.Form):
    """A new attribution of a subscription (or a customer's deals) to the partner."""

    role = forms.ChoiceField(label="Role", choices=AttributionRole)
    subscription_id = forms.CharField(
        label="Subscription", required=False, max_length=128, help_text="e.g. sub_123"
    )
    customer_id = forms.CharField(
        label="or customer (all its deals)", required=False, max_length=128
    )
    valid_from = forms.DateField(label="From", widget=_DATE)
    valid_to = forms.DateField(
        label="Until (exclusive)", required=False, widget=_DATE, help_text="Empty: open-ended."
    )

    def clean(self):
        cleaned = super().clean()
        subscription, customer = cleaned.get("subscription_id"), cleaned.get("customer_id")
        if bool(subscription) == bool(customer):
            self.add_error("subscription_id", "give a subscription or a customer, not both")
        return cleaned


class AttributionEndForm(forms.Form):
    """When an attribution stops (the console's edit of one)."""

    valid_to = forms.DateField(
        label="Ends on (exclusive)", required=False, widget=_DATE, help_text="Empty: open-ended."
    )
