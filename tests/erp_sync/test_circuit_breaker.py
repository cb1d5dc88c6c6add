"""Outage drill (eager): N failures open the circuit, no call while open, one probe after the
cooldown closes it, and every held job posts exactly once."""

import datetime as dt

import pytest
from django.utils import timezone

from erp_sync.adapters.base import RetryableError
from erp_sync.choices import CircuitState, HoldReason, SyncJobState
from erp_sync.models import Connection, SandboxDocument, SyncJob
from exceptions.models import Case, CaseState
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    SLOW_RETRY,
    CallCounter,
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    fixed_jitter,
    make_due,
    make_world,
    sweep,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
THRESHOLD = 3


def _outage(django_capture_on_commit_callbacks, monkeypatch):
    world = make_world(failure_threshold=THRESHOLD, open_cooldown_seconds=60, settings=SLOW_RETRY)
    fixed_jitter(monkeypatch)
    counter = CallCounter(monkeypatch, failures=[RetryableError("connection refused")] * THRESHOLD)
    for _ in range(6):
        dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    return world, counter


def test_breaker_opens_after_threshold_and_holds_jobs(
    django_capture_on_commit_callbacks, monkeypatch
):
    world, counter = _outage(django_capture_on_commit_callbacks, monkeypatch)

    connection = Connection.objects.get(pk=world["connection"].pk)
    assert connection.circuit_state == CircuitState.OPEN
    assert counter.calls == THRESHOLD
    states = list(SyncJob.objects.order_by("id").values_list("state", "hold_reason"))
    assert states[:2] == [(SyncJobState.RETRY_WAIT, "")] * 2
    assert states[2:] == [(SyncJobState.HELD, HoldReason.CONNECTION_OPEN)] * 4
    assert Case.objects.get(kind="circuit_open").state == CaseState.OPEN


def test_breaker_open_makes_zero_calls_even_for_due_retries(
    django_capture_on_commit_callbacks, monkeypatch
):
    _, counter = _outage(django_capture_on_commit_callbacks, monkeypatch)
    for job in SyncJob.objects.filter(state=SyncJobState.RETRY_WAIT):
        make_due(job)

    sweep(django_capture_on_commit_callbacks)
    sweep(django_capture_on_commit_callbacks)

    assert counter.calls == THRESHOLD  # nothing reached the ERP while open
    assert SyncJob.objects.filter(state=SyncJobState.HELD).count() == 6


def test_breaker_after_cooldown_probe_closes_and_all_post_once(
    django_capture_on_commit_callbacks, monkeypatch
):
    world, counter = _outage(django_capture_on_commit_callbacks, monkeypatch)
    for job in SyncJob.objects.filter(state=SyncJobState.RETRY_WAIT):
        make_due(job)
    sweep(django_capture_on_commit_callbacks)
    Connection.objects.filter(pk=world["connection"].pk).update(
        opened_at=timezone.now() - dt.timedelta(seconds=61)
    )

    sweep(django_capture_on_commit_callbacks)

    connection = Connection.objects.get(pk=world["connection"].pk)
    assert connection.circuit_state == CircuitState.CLOSED
    assert connection.consecutive_failures == 0
    assert set(SyncJob.objects.values_list("state", flat=True)) == {SyncJobState.POSTED}
    assert counter.calls == THRESHOLD + 6
    assert SandboxDocument.objects.count() == 6
    assert SandboxDocument.objects.values("external_id").distinct().count() == 6
    reasons = list(
        connection.history.order_by("history_date").values_list("history_change_reason", flat=True)
    )
    assert any("circuit open" in (r or "") for r in reasons)
    assert any("probing" in (r or "") for r in reasons)
    assert any("circuit closed" in (r or "") for r in reasons)
    assert Case.objects.get(kind="circuit_open").state == CaseState.RESOLVED


def test_breaker_failed_probe_opens_again(django_capture_on_commit_callbacks, monkeypatch):
    world, counter = _outage(django_capture_on_commit_callbacks, monkeypatch)
    counter.failures = [RetryableError("still down")]
    Connection.objects.filter(pk=world["connection"].pk).update(
        opened_at=timezone.now() - dt.timedelta(seconds=61)
    )

    sweep(django_capture_on_commit_callbacks)

    connection = Connection.objects.get(pk=world["connection"].pk)
    assert connection.circuit_state == CircuitState.OPEN
    assert counter.calls == THRESHOLD + 1  # exactly one probe
    assert not SyncJob.objects.filter(state=SyncJobState.POSTED).exists()


def test_breaker_probe_answered_with_rejection_closes_circuit(
    django_capture_on_commit_callbacks, monkeypatch
):
    from erp_sync.adapters.base import NonRetryableError

    world, counter = _outage(django_capture_on_commit_callbacks, monkeypatch)
    counter.failures = [NonRetryableError("unknown account 9999")]
    Connection.objects.filter(pk=world["connection"].pk).update(
        opened_at=timezone.now() - dt.timedelta(seconds=61)
    )

    sweep(django_capture_on_commit_callbacks)

    connection = Connection.objects.get(pk=world["connection"].pk)
    assert connection.circuit_state == CircuitState.CLOSED  # the ERP answered: it is up
    assert SyncJob.objects.filter(state=SyncJobState.DEAD).count() == 1  # the probe's document
    # The other held jobs were released and posted; the two waiting to retry are not due yet.
    assert SyncJob.objects.filter(state=SyncJobState.POSTED).count() == 3
    assert SyncJob.objects.filter(state=SyncJobState.RETRY_WAIT).count() == 2
