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
from partners import selectors, statements
from partners.choices import SettlementState
from partners.errors import SettlementError
from partners.filters import AccrualFilterSet, PartnerFilterSet, SettlementFilterSet
from partners.services import settlements as services
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
            "settlements": selectors.settlement_list().filter(partner=partner)[:24],
        },
    )


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
        },
    )


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
