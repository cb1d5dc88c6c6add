"""Console pages of sync jobs: the monitor (filters, counts per state, table), one job
(attempts, lineage, history) and the replay / cancel commands on it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from config.errors import DomainError
from erp_sync.filters import SyncJobFilterSet
from erp_sync.models import SyncJob
from erp_sync.selectors import (
    sync_job_get,
    sync_job_lineage,
    sync_job_list,
    sync_job_state_counts,
)
from erp_sync.services.jobs import job_cancel, job_replay

PAGE_SIZE = 50


def _job_or_404(pk: int) -> SyncJob:
    try:
        return sync_job_get(pk)
    except SyncJob.DoesNotExist:
        raise Http404("no such sync job") from None


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_list_view(request):
    filterset = SyncJobFilterSet(request.GET or None, queryset=sync_job_list())
    jobs = filterset.qs
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "erp_sync/job_list.html",
        {
            "filterset": filterset,
            "page": page,
            "query": query.urlencode(),
            "counts": sync_job_state_counts(jobs),
        },
    )


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_detail_view(request, pk: int):
    job = _job_or_404(pk)
    history = job.history.select_related("history_user").order_by("-history_date", "-history_id")
    return render(
        request,
        "erp_sync/job_detail.html",
        {
            "job": job,
            "lineage": sync_job_lineage(job),
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
