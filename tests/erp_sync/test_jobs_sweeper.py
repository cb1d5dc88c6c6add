"""The sweeper re-drives lost dispatches, expired leases and cleared holds."""

import datetime as dt

import pytest
from django.utils import timezone

from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.models import Connection, MaintenanceWindow, SyncJob
from erp_sync.services.posting import job_post
from erp_sync.services.sweeper import jobs_reclaim_expired
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    CallCounter,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
    sweep,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_sweep_dispatches_event_whose_message_was_lost(
    django_capture_on_commit_callbacks, settings
):
    settings.CONCORD_ERP_DISPATCH_GRACE_SECONDS = 0
    make_world()
    invoice = make_invoice()  # applied, never dispatched (the signal was lost)

    counts = sweep(django_capture_on_commit_callbacks)

    job = SyncJob.objects.get(event=invoice.event)
    assert counts["dispatched"] == 1
    assert job.state == SyncJobState.POSTED
    assert sweep(django_capture_on_commit_callbacks)["dispatched"] == 0


def test_sweep_reclaims_expired_lease_and_posts_once(
    django_capture_on_commit_callbacks, monkeypatch
):
    make_world()
    invoice = make_invoice()
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    with django_capture_on_commit_callbacks(execute=False):
        [job] = sync_jobs_create_for_event(event=invoice.event, actor=None)
    # A worker started the job, the ERP created the document, then the worker died.
    job.start(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    job.save()
    from erp_sync.adapters.sandbox import SandboxAdapter
    from erp_sync.documents import document_from_json

    SandboxAdapter(job.connection).post(document_from_json(job.document))
    counter = CallCounter(monkeypatch)
    assert job_post(job_id=job.pk, actor=None) == "skipped"  # in flight: not ours

    counts = sweep(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert counts["reclaimed"] == 1
    assert job.state == SyncJobState.POSTED
    assert job.attempts == 2
    assert counter.calls == 1
    assert job.attempt_log.get().outcome == "found_existing"
    assert documents_for(job) == 1
    assert job.history.filter(history_change_reason__startswith="lease expired").exists()


def test_reclaim_leaves_live_lease_alone(db):
    make_world()
    invoice = make_invoice()
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    [job] = sync_jobs_create_for_event(event=invoice.event, actor=None)
    job.start(lease_expires_at=timezone.now() + dt.timedelta(minutes=5))
    job.save()
    assert jobs_reclaim_expired(actor=None) == 0


def test_paused_connection_holds_then_sweep_releases(django_capture_on_commit_callbacks):
    world = make_world(paused=True)
    invoice = make_invoice()
    from tests.erp_sync.job_helpers import dispatch

    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.state, job.hold_reason) == (SyncJobState.HELD, HoldReason.PAUSED)
    sweep(django_capture_on_commit_callbacks)
    assert SyncJob.objects.get(pk=job.pk).state == SyncJobState.HELD

    Connection.objects.filter(pk=world["connection"].pk).update(paused=False)
    sweep(django_capture_on_commit_callbacks)

    assert SyncJob.objects.get(pk=job.pk).state == SyncJobState.POSTED


def test_maintenance_window_holds_then_sweep_releases(django_capture_on_commit_callbacks):
    world = make_world()
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        connection=world["connection"],
        starts_at=now - dt.timedelta(minutes=1),
        ends_at=now + dt.timedelta(minutes=10),
    )
    from tests.erp_sync.job_helpers import dispatch

    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert (job.state, job.hold_reason) == (SyncJobState.HELD, HoldReason.MAINTENANCE)

    MaintenanceWindow.objects.filter(pk=window.pk).update(ends_at=now - dt.timedelta(seconds=1))
    sweep(django_capture_on_commit_callbacks)

    assert SyncJob.objects.get(pk=job.pk).state == SyncJobState.POSTED


def test_sweep_task_is_scheduled_every_30_seconds(db):
    from django_celery_beat.models import PeriodicTask

    from erp_sync.schedules import ensure_schedules

    ensure_schedules()
    ensure_schedules()
    task = PeriodicTask.objects.get(task="erp_sync.sweep")
    assert (task.interval.every, task.interval.period) == (30, "seconds")
    assert task.queue == "erp"
