"""Console pages of sync jobs: the monitor (filters, counts per state, table), one job
(attempts, lineage, history) and the replay / cancel commands on it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_fsm import can_proceed

from config.console import filtered_page, get_or_404, history_entries
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
from exceptions.selectors import cases_for_subject


def _job_or_404(pk: int) -> SyncJob:
    return get_or_404(sync_job_get, pk, "sync job")


@login_required
@permission_required("erp_sync.view_syncjob", raise_exception=True)
def job_list_view(request):
    context = filtered_page(request, SyncJobFilterSet, sync_job_list())
    context["counts"] = sync_job_state_counts(context["filterset"].qs)
    return render(request, "erp_sync/job_list.html", context)


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
