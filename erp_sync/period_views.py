"""Console commands of a closed-period case's guide: post the held documents into the next
open period (a confirmation naming the count first, then the live progress), or wait for
the ERP to reopen the period."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.console import get_or_404
from config.errors import DomainError
from erp_sync.selectors import sync_job_list
from erp_sync.services.period_fix import (
    case_held_jobs,
    closed_period_post_start,
    closed_period_wait,
)
from exceptions.selectors import case_get, case_item_totals

CONFIRM_PREVIEW = 20


def _posting_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


@require_POST
@login_required
@permission_required("erp_sync.post_next_open_syncjob", raise_exception=True)
def closed_period_post_view(request, pk: int):
    """First answer: a confirmation naming the count, the money and the period; with
    confirm=yes, the posting starts and its progress page follows."""
    case = get_or_404(case_get, pk, "case")
    posting_date = _posting_date(request.POST.get("posting_date", ""))
    reason = request.POST.get("reason", "")
    if request.POST.get("confirm") != "yes":
        jobs = sync_job_list().filter(pk__in=case_held_jobs(case).values("pk")).order_by("id")
        count = jobs.count()
        if not count or posting_date is None or not case.is_active:
            messages.error(request, "No document is held by this closed period any more.")
            return redirect("exceptions:case-detail", pk=case.pk)
        return render(
            request,
            "erp_sync/closed_period_confirm.html",
            {
                "case": case,
                "count": count,
                "totals": case_item_totals(case),
                "preview": list(jobs[:CONFIRM_PREVIEW]),
                "more": max(count - CONFIRM_PREVIEW, 0),
                "posting_date": posting_date,
                "reason": reason,
            },
        )
    try:
        action = closed_period_post_start(
            case=case, actor=request.user, reason=reason, posting_date=posting_date
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("exceptions:case-detail", pk=case.pk)
    return redirect("erp_sync:job-bulk-detail", pk=action.pk)


@require_POST
@login_required
@permission_required("exceptions.change_case", raise_exception=True)
def closed_period_wait_view(request, pk: int):
    case = get_or_404(case_get, pk, "case")
    try:
        closed_period_wait(case=case, actor=request.user)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, "Acknowledged: the documents are posted when the ERP reopens the period."
        )
    return redirect("exceptions:case-detail", pk=case.pk)
