"""Console pages of billing: the event log (with replay/discard) and invoices."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from billing import selectors
from billing.errors import BillingError
from billing.filters import FinanceEventFilterSet, InvoiceFilterSet
from billing.models import FinanceEvent, Invoice
from billing.services import event_discard, event_replay
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
    event = get_object_or_404(FinanceEvent.objects.select_related("received_by"), pk=pk)
    record = selectors.record_for_event(event)
    jobs = list(event.sync_jobs.select_related("connection").defer("document"))
    return render(
        request,
        "billing/event_detail.html",
        {
            "event": event,
            "body_pretty": json.dumps(event.body, indent=2, sort_keys=True, cls=DjangoJSONEncoder),
            "cases": cases_for_subject(event),
            "open_cases": open_cases_touching([event, record, *jobs]),
            "records": selectors.records_of_event(event),
            "record": record,
            "jobs": jobs,
            "history": history_entries(event),
            "can_replay": request.user.has_perm("billing.replay_financeevent"),
            "can_discard": request.user.has_perm("billing.discard_financeevent"),
        },
    )


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
    return redirect("billing:event-detail", pk=pk)


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
    return redirect("billing:event-detail", pk=pk)


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
