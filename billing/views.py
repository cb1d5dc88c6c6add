"""Console pages of billing: the event log (with replay, discard, correct) and invoices."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from billing import selectors
from billing.errors import BillingError
from billing.filters import FinanceEventFilterSet, InvoiceFilterSet
from billing.forms import EventCorrectionForm
from billing.models import FinanceEvent, Invoice
from billing.schema import EventSchemaError
from billing.services import event_correct, event_discard, event_replay
from config.console import filtered_page, history_entries
from exceptions.selectors import cases_for_subject, open_cases_touching


@login_required
@permission_required("billing.view_financeevent", raise_exception=True)
def event_list(request):
    context = filtered_page(request, FinanceEventFilterSet, selectors.event_list())
    return render(request, "billing/event_list.html", context)


@login_required
@permission_required("billing.view_financeevent", raise_exception=True)
def event_detail(request, pk: int):
    event = get_object_or_404(FinanceEvent.objects.select_related("received_by", "corrects"), pk=pk)
    corrected_by = selectors.corrected_by(event)
    root = selectors.correction_root(event)
    record = selectors.record_for_event(event)
    jobs = list(event.sync_jobs.select_related("connection").defer("document"))
    return render(
        request,
        "billing/event_detail.html",
        {
            "event": event,
            "correction_of": event.corrects,
            "corrected_by": corrected_by,
            "correction": selectors.correction_shown(event, corrected_by),
            "body_pretty": json.dumps(event.body, indent=2, sort_keys=True, cls=DjangoJSONEncoder),
            "cases": cases_for_subject(root),
            "open_cases": open_cases_touching([event, root, record, *jobs]),
            "records": selectors.records_of_event(event),
            "record": record,
            "jobs": jobs,
            "history": selectors.with_correction(history_entries(event), event, corrected_by),
            "can_replay": request.user.has_perm("billing.replay_financeevent"),
            "can_discard": request.user.has_perm("billing.discard_financeevent"),
            "can_correct": request.user.has_perm("billing.correct_financeevent"),
        },
    )


def _next(request) -> str:
    """The page the form came from (`next`, e.g. the case) when it is one of ours, else ""."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


def _back(request, pk: int):
    """To the page the form came from, else the event's page."""
    return redirect(_next(request) or reverse("billing:event-detail", args=[pk]))


@login_required
@require_POST
@permission_required("billing.replay_financeevent", raise_exception=True)
def event_replay_view(request, pk: int):
    event = get_object_or_404(FinanceEvent, pk=pk)
    try:
        event_replay(event=event, actor=request.user)
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Event {event} replayed and applied.")
    return _back(request, pk)


@login_required
@require_POST
@permission_required("billing.discard_financeevent", raise_exception=True)
def event_discard_view(request, pk: int):
    event = get_object_or_404(FinanceEvent, pk=pk)
    try:
        event_discard(event=event, actor=request.user, reason=request.POST.get("reason", ""))
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Event {event} discarded.")
    return _back(request, pk)


@login_required
@permission_required("billing.correct_financeevent", raise_exception=True)
def event_correct_view(request, pk: int):
    """Correct and replay a quarantined event: GET the form prefilled with the event's data,
    POST it. A correction the schema refuses comes back with each error on its field."""
    event = get_object_or_404(FinanceEvent, pk=pk)
    form = EventCorrectionForm(request.POST or None, event=event)
    if request.method == "POST" and form.is_valid():
        try:
            copy = event_correct(
                event=event,
                payload=form.payload(),
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
        except EventSchemaError as error:
            form.add_schema_errors(error)
        except BillingError as error:
            form.add_error("reason" if error.field == "reason" else None, error.message)
        else:
            if copy.state == "applied":
                messages.success(request, f"Corrected as {copy.event_id} and applied.")
            else:
                messages.error(
                    request,
                    f"Corrected as {copy.event_id}, but it is quarantined too: "
                    f"{copy.quarantine_reason}: {copy.quarantine_detail}",
                )
            return _back(request, copy.pk)
    status = 400 if request.method == "POST" else 200
    context = {"event": event, "form": form, "next": _next(request)}
    return render(request, "billing/event_correct.html", context, status=status)


@login_required
@permission_required("billing.view_invoice", raise_exception=True)
def invoice_list(request):
    context = filtered_page(request, InvoiceFilterSet, selectors.invoice_list())
    return render(request, "billing/invoice_list.html", context)


@login_required
@permission_required("billing.view_invoice", raise_exception=True)
def invoice_detail(request, invoice_id: str):
    try:
        invoice = selectors.invoice_get(invoice_id=invoice_id)
    except Invoice.DoesNotExist:
        raise Http404("no such invoice") from None
    # Its neighbours: the event that issued it and the sync jobs that post it.
    jobs = list(invoice.event.sync_jobs.select_related("connection").defer("document"))
    context = {
        "invoice": invoice,
        "jobs": jobs,
        "cases": cases_for_subject(invoice),
        "open_cases": open_cases_touching([invoice, invoice.event, *jobs]),
        "history": history_entries(invoice),
    }
    return render(request, "billing/invoice_detail.html", context)
