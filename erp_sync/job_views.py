"""Console pages of sync jobs: the monitor (filters, counts per state, table, bulk replay /
cancel by selection or by the filter), one job (attempts, lineage, history), the replay /
cancel commands on it, and a bulk action's live progress."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from billing.selectors import record_for_event
from config.console import filtered_page, get_or_404, history_entries
from config.errors import DomainError
from erp_sync.choices import BulkActionKind, BulkActionState
from erp_sync.filters import SyncJobFilterSet
from erp_sync.models import SyncJob
from erp_sync.selectors import (
    bulk_action_get,
    bulk_action_jobs,
    sync_job_get,
    sync_job_lineage,
    sync_job_list,
    sync_job_state_counts,
)
from erp_sync.services.bulk import bulk_action_start
from erp_sync.services.jobs import job_cancel, job_replay
from exceptions.selectors import cases_for_subject, open_cases_touching

BULK_PERMISSIONS = {
    BulkActionKind.REPLAY: "erp_sync.replay_syncjob",
    BulkActionKind.CANCEL: "erp_sync.cancel_syncjob",
}
# Jobs named on the confirmation page; the count covers them all.
CONFIRM_PREVIEW = 20


def _job_or_404(pk: int) -> SyncJob:
    return get_or_404(sync_job_get, pk, "sync job")


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_list_view(request):
    context = filtered_page(request, SyncJobFilterSet, sync_job_list())
    # The counts cover the other filters but not the state one, so that filtering to "dead"
    # still shows how many are pending, held, ... (the chosen states are marked).
    others = request.GET.copy()
    chosen = others.getlist("state")
    others.pop("state", None)
    others.pop("page", None)
    counted = SyncJobFilterSet(others or None, queryset=sync_job_list()).qs
    context["counts"] = sync_job_state_counts(counted)
    context["chosen_states"] = chosen
    context["other_filters"] = bool(others)
    context["bulk_actions"] = [
        (kind, BulkActionKind(kind).label)
        for kind, permission in BULK_PERMISSIONS.items()
        if request.user.has_perm(permission)
    ]
    return render(request, "erp_sync/job_list.html", context)


@require_POST
@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_bulk_view(request):
    """Bulk replay / cancel: the jobs ticked ("selected") or every job the list's filter
    matches ("filter"). First answer: a confirmation naming the count; with confirm=yes,
    the action is recorded and started, and the page of its progress follows."""
    if not any(request.user.has_perm(permission) for permission in BULK_PERMISSIONS.values()):
        raise PermissionDenied("you may not replay or cancel sync jobs")
    kind = request.POST.get("action", "")
    permission = BULK_PERMISSIONS.get(kind)
    if permission is None:
        messages.error(request, "Choose replay or cancel.")
        return redirect("erp_sync:job-list")
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"you may not {kind} sync jobs")
    query = request.POST.get("query", "")
    by_filter = request.POST.get("scope") == "filter"
    if by_filter:
        jobs = SyncJobFilterSet(QueryDict(query) or None, queryset=sync_job_list()).qs
        scope = f"filter: {query}" if query else "filter: every job"
    else:
        ids = [value for value in request.POST.getlist("job") if value.isdigit()]
        jobs = sync_job_list().filter(pk__in=ids)
        scope = "selected"
    back = f"{_list_url()}?{query}" if query else _list_url()
    reason = request.POST.get("reason", "")
    if request.POST.get("confirm") != "yes":
        count = jobs.count()
        if not count:
            messages.error(request, "No sync job is selected: tick some, or use the filter.")
            return redirect(back)
        return render(
            request,
            "erp_sync/job_bulk_confirm.html",
            {
                "kind": kind,
                "verb": BulkActionKind(kind).label.lower(),
                "count": count,
                "preview": list(jobs[:CONFIRM_PREVIEW]),
                "more": max(count - CONFIRM_PREVIEW, 0),
                "by_filter": by_filter,
                "ids": request.POST.getlist("job"),
                "query": query,
                "reason": reason,
                "back": back,
            },
        )
    try:
        action = bulk_action_start(
            kind=kind, jobs=jobs, actor=request.user, reason=reason, scope=scope
        )
    except DomainError as error:
        messages.error(request, error.message)
        return redirect(back)
    return redirect("erp_sync:job-bulk-detail", pk=action.pk)


def _list_url() -> str:
    return reverse("erp_sync:job-list")


def _bulk_context(pk: int) -> dict:
    action = get_or_404(bulk_action_get, pk, "bulk action")
    return {"action": action, "active": action.state == BulkActionState.RUNNING}


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_bulk_detail_view(request, pk: int):
    """A bulk action: who asked, why, which jobs, and its progress (live while running)."""
    context = _bulk_context(pk)
    context["history"] = history_entries(context["action"])
    if context["action"].kind == BulkActionKind.POST_NEXT_OPEN:
        context["jobs"] = bulk_action_jobs(context["action"])
    return render(request, "erp_sync/job_bulk_detail.html", context)


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_bulk_progress_view(request, pk: int):
    """The progress partial, polled with htmx while the action runs."""
    context = _bulk_context(pk)
    response = render(request, "erp_sync/_bulk_progress.html", context)
    if not context["active"] and request.GET.get("poll"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_detail_view(request, pk: int):
    job = _job_or_404(pk)
    history = history_entries(job)
    return render(
        request,
        "erp_sync/job_detail.html",
        {
            "job": job,
            "lineage": sync_job_lineage(job),
            "cases": cases_for_subject(job),
            # Open cases on the job, its event or its billing record, and the grouped cases
            # that hold it as a blocked record.
            "open_cases": open_cases_touching([job, job.event, record_for_event(job.event)]),
            "history": history,
            # job_replay takes dead jobs (the replay transition) and held ones (release).
            "can_replay": (can_proceed(job.replay) or can_proceed(job.release))
            and request.user.has_perm("erp_sync.replay_syncjob"),
            "can_cancel": can_proceed(job.cancel)
            and request.user.has_perm("erp_sync.cancel_syncjob"),
        },
    )


def _run(request, pk: int, command):
    job = _job_or_404(pk)
    try:
        message = command(job)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, message)
    return redirect("erp_sync:job-detail", pk=job.pk)


@require_POST
@login_required
@permission_required("erp_sync.replay_syncjob", raise_exception=True)
def job_replay_view(request, pk: int):
    reason = request.POST.get("reason", "")
    return _run(
        request, pk, lambda job: job_replay(job=job, actor=request.user, reason=reason).message
    )


@require_POST
@login_required
@permission_required("erp_sync.cancel_syncjob", raise_exception=True)
def job_cancel_view(request, pk: int):
    reason = request.POST.get("reason", "")

    def cancel(job):
        job_cancel(job=job, actor=request.user, reason=reason)
        return "Job cancelled."

    return _run(request, pk, cancel)
