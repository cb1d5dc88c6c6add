"""Console pages of partners: partners and agreements, the settlement queue, settlement
detail with its accrual breakdown, and the frozen statements (printable page, CSV, PDF).

Every view checks a permission, reads through a selector or calls one service, and renders.
Settlements, statements and accruals are read through `selectors.scoped`: a partner (portal)
user sees only its own partner's, and anything else answers 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.console import filtered_page, get_or_404, history_rows
from exceptions.selectors import open_cases_touching
from partners import selectors, statements
from partners.choices import AgreementState, SettlementState
from partners.errors import AgreementInvalid, AttributionInvalid, SettlementError
from partners.filters import AccrualFilterSet, PartnerFilterSet, SettlementFilterSet
from partners.forms import (
    AgreementVersionForm,
    AttributionEndForm,
    AttributionForm,
    RuleFormSet,
    kept_rule_forms,
    rule_initial,
    show_refusal,
)
from partners.services import settlements as services
from partners.services.agreements import agreement_version_create
from partners.services.attributions import attribution_create, attribution_end
from partners.services.holds import blocking_cases

OWN = selectors.OWN_PARTNER

# The settlement commands of the console: FSM transition → (url name, permission, label).
COMMANDS = {
    "calculate": ("partners:settlement-calculate", "partners.change_settlement", "Calculate"),
    "submit": ("partners:settlement-submit", "partners.change_settlement", "Submit"),
    "approve": ("partners:settlement-approve", "partners.approve_settlement", "Approve"),
    "reject": ("partners:settlement-reject", "partners.approve_settlement", "Reject"),
}


def commands_for(settlement, user) -> list[dict]:
    """The buttons to show: legal transitions from the FSM the user holds the permission for."""
    legal = {t.name for t in settlement.get_available_state_transitions()}
    return [
        {"name": name, "url": url, "label": label}
        for name, (url, permission, label) in COMMANDS.items()
        if name in legal and user.has_perm(permission)
    ]


# --- partners and agreements --------------------------------------------------------------


@login_required
@permission_required("partners.view_partner", raise_exception=True)
def partner_list(request):
    context = filtered_page(request, PartnerFilterSet, selectors.partner_list())
    return render(request, "partners/partner_list.html", context)


@login_required
@permission_required("partners.view_partner", raise_exception=True)
def partner_detail(request, pk: int):
    partner = get_or_404(selectors.partner_get, pk, "partner")
    return render(
        request,
        "partners/partner_detail.html",
        {
            "partner": partner,
            "agreements": selectors.partner_agreements(partner),
            "attributions": selectors.partner_attributions(partner),
            "can_attribute": request.user.has_perm("partners.add_attribution"),
            "can_edit_attribution": request.user.has_perm("partners.change_attribution"),
            "settlements": selectors.settlement_list().filter(partner=partner)[:24],
            # Cases on the partner itself or scoped to it (an unknown partner on a deal, a
            # reconciliation break of its settlements).
            "open_cases": open_cases_touching([partner], partner=partner.partner_id),
        },
    )


def _editable(agreement) -> bool:
    """An active version nothing follows yet: the one a new version is made from."""
    return agreement.state == AgreementState.ACTIVE and not hasattr(agreement, "superseded_by")


@login_required
@permission_required("partners.view_agreement", raise_exception=True)
def agreement_detail(request, pk: int):
    agreement = get_or_404(selectors.agreement_get, pk, "agreement")
    return render(
        request,
        "partners/agreement_detail.html",
        {
            "agreement": agreement,
            "versions": selectors.agreement_versions(agreement),
            "history": history_rows(agreement),
            "can_edit": _editable(agreement) and request.user.has_perm("partners.add_agreement"),
        },
    )


@login_required
@permission_required("partners.add_agreement", raise_exception=True)
def agreement_version_new(request, pk: int):
    """Edit an agreement: a new version from an effective date (the version in use keeps its
    terms and rules). A refusal is shown on the field (or rule row) it names."""
    agreement = get_or_404(selectors.agreement_get, pk, "agreement")
    terms = ("settlement_period", "basis", "tier_mode", "override_on_children")
    form = AgreementVersionForm(
        request.POST or None,
        initial={name: getattr(agreement, name) for name in (*terms, "effective_to")},
    )
    rules = RuleFormSet(
        request.POST or None,
        prefix="rules",
        initial=[rule_initial(rule) for rule in agreement.rules.prefetch_related("tiers")],
    )
    if request.method == "POST" and form.is_valid() and rules.is_valid():
        kept = kept_rule_forms(rules)
        try:
            version = agreement_version_create(
                agreement=agreement,
                actor=request.user,
                rules=[row.as_rule() for row in kept],
                **form.cleaned_data,
            )
        except AgreementInvalid as error:
            show_refusal(error, form, kept)
        else:
            messages.success(
                request,
                f"Saved {version}: its terms apply from {version.effective_from:%Y-%m-%d}.",
            )
            return redirect("partners:agreement-detail", pk=version.pk)
    status = 400 if request.method == "POST" else 200
    context = {"agreement": agreement, "form": form, "rules": rules}
    return render(request, "partners/agreement_version_form.html", context, status=status)


@login_required
@permission_required("partners.add_attribution", raise_exception=True)
def attribution_new(request, pk: int):
    """Credit a subscription (or a customer's deals) to this partner from a date."""
    partner = get_or_404(selectors.partner_get, pk, "partner")
    form = AttributionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            attribution = attribution_create(
                partner_id=partner.partner_id,
                actor=request.user,
                **{k: v or None for k, v in form.cleaned_data.items()},
            )
        except AttributionInvalid as error:
            show_refusal(error, form)
        else:
            messages.success(request, f"Attributed {_target(attribution)} to {partner}.")
            return redirect("partners:partner-detail", pk=partner.pk)
    status = 400 if request.method == "POST" else 200
    context = {"partner": partner, "form": form, "attribution": None}
    return render(request, "partners/attribution_form.html", context, status=status)


@login_required
@permission_required("partners.change_attribution", raise_exception=True)
def attribution_edit(request, pk: int):
    """Change when an attribution ends (its history shows every change)."""
    attribution = get_or_404(selectors.attribution_get, pk, "attribution")
    form = AttributionEndForm(request.POST or None, initial={"valid_to": attribution.valid_to})
    if request.method == "POST" and form.is_valid():
        try:
            attribution = attribution_end(
                attribution=attribution,
                valid_to=form.cleaned_data["valid_to"],
                actor=request.user,
            )
        except AttributionInvalid as error:
            show_refusal(error, form)
        else:
            ends = f"{attribution.valid_to:%Y-%m-%d}" if attribution.valid_to else "open-ended"
            messages.success(request, f"Attribution of {_target(attribution)} now ends: {ends}.")
            return redirect("partners:partner-detail", pk=attribution.partner_id)
    status = 400 if request.method == "POST" else 200
    context = {
        "partner": attribution.partner,
        "form": form,
        "attribution": attribution,
        "history": history_rows(attribution),
    }
    return render(request, "partners/attribution_form.html", context, status=status)


def _target(attribution) -> str:
    if attribution.subscription_id:
        return f"subscription {attribution.subscription.subscription_id}"
    return f"customer {attribution.customer.customer_id}"


# --- settlements, accruals and statements (portal-scoped) ---------------------------------


@login_required
@permission_required(OWN, raise_exception=True)
def settlement_list(request):
    queryset = selectors.scoped(selectors.settlement_list(), request.user)
    context = filtered_page(request, SettlementFilterSet, queryset)
    counts = selectors.settlement_state_counts(request.user)
    context["states"] = [(value, label, counts.get(value, 0)) for value, label in
                         SettlementState.choices]  # fmt: skip
    context["rows"] = [(s, commands_for(s, request.user)) for s in context["page"]]
    return render(request, "partners/settlement_list.html", context)


@login_required
@permission_required(OWN, raise_exception=True)
def settlement_detail(request, pk: int):
    settlement = _settlement(request, pk)
    held = settlement.state == SettlementState.ON_HOLD
    return render(
        request,
        "partners/settlement_detail.html",
        {
            "settlement": settlement,
            "commands": commands_for(settlement, request.user),
            "blocking_cases": list(blocking_cases(settlement)) if held else [],
            "history": history_rows(settlement),
            "has_statement": hasattr(settlement, "statement"),
        },
    )


def _settlement(request, pk: int):
    return get_or_404(lambda p: selectors.settlement_get(p, user=request.user), pk, "settlement")


def _command(request, pk: int, service, done: str, **values):
    """Run one settlement service on a settlement the user may read; a refusal (four-eyes,
    hold, stale, illegal state) is shown as a message on the settlement page."""
    settlement = _settlement(request, pk)
    try:
        service(settlement=settlement, actor=request.user, **values)
    except SettlementError as error:
        messages.error(request, f"Refused: {error.message}")
    else:
        messages.success(request, f"Settlement {settlement} {done}.")
    return redirect("partners:settlement-detail", pk=pk)


@login_required
@require_POST
@permission_required("partners.change_settlement", raise_exception=True)
def settlement_calculate(request, pk: int):
    return _command(request, pk, services.settlement_calculate, "calculated")


@login_required
@require_POST
@permission_required("partners.change_settlement", raise_exception=True)
def settlement_submit(request, pk: int):
    return _command(request, pk, services.settlement_submit, "submitted for approval")


@login_required
@require_POST
@permission_required("partners.approve_settlement", raise_exception=True)
def settlement_approve(request, pk: int):
    return _command(request, pk, services.settlement_approve, "approved")


@login_required
@require_POST
@permission_required("partners.approve_settlement", raise_exception=True)
def settlement_reject(request, pk: int):
    reason = request.POST.get("reason", "")
    return _command(request, pk, services.settlement_reject, "rejected", reason=reason)


@login_required
@permission_required(OWN, raise_exception=True)
def accrual_list(request):
    queryset = selectors.scoped(selectors.accrual_list(), request.user)
    context = filtered_page(request, AccrualFilterSet, queryset)
    return render(request, "partners/accrual_list.html", context)


def _statement(request, pk: int):
    return get_or_404(lambda p: selectors.statement_get(p, user=request.user), pk, "statement")


@login_required
@permission_required(OWN, raise_exception=True)
def statement_page(request, pk: int):
    statement = _statement(request, pk)
    return HttpResponse(statements.statement_html(statement, request=request))


@login_required
@permission_required(OWN, raise_exception=True)
def statement_csv(request, pk: int):
    return statements.download(_statement(request, pk), "csv")


@login_required
@permission_required(OWN, raise_exception=True)
def statement_pdf(request, pk: int):
    return statements.download(_statement(request, pk), "pdf")
