"""Equivalence: the batch claim and batch outcome path (one claim for many jobs, set-based
writes) leaves the same jobs, attempts, history, billing statuses, cases and ERP documents
as the one-job path (batch_size 1, a claim and a save() per job).

Hypothesis draws invoices, some with a payment, the order their jobs were dispatched in
(a payment dispatched before its invoice is pending and meets ParentMissingError unless the
invoice posts first; one dispatched after is held awaiting its parent), the closed-period
policy, and what the ERP answers each document: success, a retryable error, a rejection, a
closed period. Each world is built, posted one way and rolled back, posted the other way
and rolled back, inside one transaction per example.

The one-job path posts the ready jobs one by one in id order (the claim's order) and stops
after the first retryable failure, where a batch stops calling; the jobs a batch did not
call carry exactly two more history rows ("attempt N started", "attempt N not made: batch
stopped"), the claim being undone, and are otherwise identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.selectors import record_model_for_type
from erp_sync.actors import system_actor
from erp_sync.adapters.base import NonRetryableError, PeriodClosedError, RetryableError
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.choices import ClosedPeriodPolicy, SyncJobState
from erp_sync.models import SandboxDocument, SyncAttempt, SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.posting import job_post
from exceptions.models import Case
from tests.erp_sync.factories import make_invoice, make_payment
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    fixed_jitter,
    make_world,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.postgres,
    pytest.mark.usefixtures("eager_celery"),
]

OUTCOMES = ("ok", "retryable", "rejected", "period_closed")
# Mostly successes: a failed parent, or a retryable failure (it ends the batch), hides what
# the documents after it would show.
answers = st.sampled_from(("ok", "ok", "ok", *OUTCOMES[1:]))
GIVEN_BACK = re.compile(r"attempt \d+ (started|not made: batch stopped)")
NUMBER = re.compile(r"SBX-\w+-\d+")


@dataclass(frozen=True)
class Family:
    invoice: str  # what the ERP answers the invoice
    payment: str | None  # None: no payment; else what the ERP answers it


families = st.lists(
    st.builds(Family, answers, st.sampled_from((None, "ok", "ok")) | answers),
    min_size=1,
    max_size=5,
)


class ScriptedErp:
    """The sandbox adapter, answering each external id's first call as scripted (later calls
    of the same document: the sandbox itself)."""

    def __init__(self, monkeypatch):
        self.script: dict[str, str] = {}
        self.called: set[str] = set()
        original = SandboxAdapter.post
        erp = self

        def post(adapter, document, **kwargs):
            outcome = erp.script.get(document.external_id, "ok")
            first = document.external_id not in erp.called
            erp.called.add(document.external_id)
            if first and outcome == "retryable":
                raise RetryableError("sandbox post: 503 service unavailable")
            if first and outcome == "rejected":
                raise NonRetryableError(f"sandbox: no such tax code in {document.external_id}")
            if first and outcome == "period_closed":
                raise PeriodClosedError(f"sandbox: period {document.document_date:%Y-%m} closed")
            return original(adapter, document, **kwargs)

        monkeypatch.setattr(SandboxAdapter, "post", post)


def _build(mix: list[Family], order: list[int], policy: str, erp: ScriptedErp) -> list[SyncJob]:
    """The world, its records and their jobs dispatched in `order` (indexes into the flat
    list of documents); the jobs in id order."""
    make_world(closed_period_policy=policy)
    documents = []
    for family in mix:
        invoice = make_invoice()
        documents.append((invoice.event, family.invoice))
        if family.payment is not None:
            documents.append((make_payment(invoice=invoice).event, family.payment))
    jobs = []
    for index in order:
        event, outcome = documents[index]
        # Its posting message waits for a commit that never comes: each path posts itself.
        [job] = sync_jobs_create_for_event(event=event, actor=None)
        erp.script[job.external_id] = outcome
        jobs.append(job)
    return sorted(jobs, key=lambda job: job.pk)


def _ready(jobs: list[SyncJob]) -> list[int]:
    states = dict(SyncJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("pk", "state"))
    return [job.pk for job in jobs if states[job.pk] == SyncJobState.PENDING]


def _post_one_by_one(ready: list[int], actor) -> None:
    for pk in ready:
        job_post(job_id=pk, actor=actor, batch_size=1)
        if SyncAttempt.objects.filter(job_id=pk, error_class="RetryableError").exists():
            return  # a batch stops calling here


def _post_as_batch(ready: list[int], actor) -> None:
    if ready:
        # One batch holding every ready job (a size above their count: no second batch).
        job_post(job_id=ready[0], actor=actor, batch_size=len(ready) + 1)


def _outcome(jobs: list[SyncJob], history_since: dict[int, int]) -> dict:
    """Everything the posting left, ids, external ids and ERP numbers replaced by the
    position of their job (the two runs make their own events, jobs and documents)."""
    index = {job.pk: i for i, job in enumerate(jobs)}
    names = {job.external_id: f"job{i}" for i, job in enumerate(jobs)}
    names |= {
        f"{job.event.source}/{job.event.event_id}": f"event-of-job{i}" for i, job in enumerate(jobs)
    }
    documents = SandboxDocument.objects.filter(external_id__in=names)
    numbers = {d.number: f"doc-of-{names[d.external_id]}" for d in documents}
    # Longest first: evt_12 before evt_1.
    names = dict(sorted(names.items(), key=lambda item: -len(item[0])))

    def plain(text: str) -> str:
        text = NUMBER.sub(lambda m: numbers.get(m.group(0), "?"), text or "")
        for original, name in names.items():
            text = text.replace(original, name)
        return text

    result: dict = {"jobs": {}, "documents": []}
    for job in SyncJob.objects.filter(pk__in=index).select_related("event"):
        history = list(
            job.history.filter(history_id__gt=history_since.get(job.pk, 0))
            .order_by("history_id")
            .values_list("history_type", "history_change_reason", "history_user__username")
        )
        record_model = record_model_for_type(job.event.type)
        record = record_model.objects.get(event_id=job.event_id)
        record_history = list(
            record.history.filter(history_change_reason__contains="ERP status")
            .order_by("history_id")
            .values_list("history_type", "history_change_reason", "history_user__username")
        )
        result["jobs"][index[job.pk]] = {
            "state": job.state,
            "hold_reason": job.hold_reason,
            "attempts": job.attempts,
            "erp_number": plain(job.erp_number),
            "last_error_code": job.last_error_code,
            "posting_date": job.posting_date,
            "history": [(kind, plain(reason), user) for kind, reason, user in history],
            "attempt_log": [
                (a.number, a.outcome, a.error_class, plain(a.erp_reference))
                for a in job.attempt_log.order_by("number")
            ],
            "erp_status": record.erp_status,
            "erp_document_number": plain(record.erp_document_number),
            "record_history": [(k, plain(r), u) for k, r, u in record_history],
            "cases": sorted(
                Case.objects.filter(
                    subject_id=str(job.pk), subject_type__model="syncjob"
                ).values_list("kind", "state")
            ),
        }
    for document in documents:
        result["documents"].append(
            (
                names[document.external_id],
                document.kind,
                plain(document.number),
                document.total_amount,
                document.document_date,
                plain(document.parent_external_id),
                sorted(document.entries.values_list("account", "debit_amount", "credit_amount")),
            )
        )
    result["documents"].sort()
    return result


def _run(mix, order, policy, erp, post) -> dict:
    """Build the world, post its ready jobs with `post`, describe the outcome; roll back."""
    with transaction.atomic():
        erp.called.clear()
        jobs = _build(mix, order, policy, erp)
        since = {
            job.pk: job.history.order_by("-history_id").values_list("history_id", flat=True)[0]
            for job in jobs
        }
        post(_ready(jobs), system_actor())
        outcome = _outcome(jobs, since)
        transaction.set_rollback(True)
    return outcome


def _without_given_back(batch: dict, single: dict) -> dict:
    """`batch` without the two history rows of each job it claimed but did not call
    ("attempt N started", "attempt N not made: batch stopped"), for comparison with
    `single`. Any other difference is left for the comparison to report."""
    for i, job in batch["jobs"].items():
        history, theirs = job["history"], single["jobs"][i]["history"]
        tail = history[len(theirs) :]
        if len(tail) == 2 and all(GIVEN_BACK.fullmatch(reason) for _, reason, _ in tail):
            job["history"] = history[: len(theirs)]
    return batch


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    mix=families,
    policy=st.sampled_from([ClosedPeriodPolicy.HOLD, ClosedPeriodPolicy.POST_NEXT_OPEN]),
    data=st.data(),
)
def test_batch_path_and_one_job_path_leave_identical_jobs_history_records_and_erp(
    mix, policy, data, monkeypatch, django_capture_on_commit_callbacks
):
    fixed_jitter(monkeypatch)
    erp = ScriptedErp(monkeypatch)
    count = sum(1 + (family.payment is not None) for family in mix)
    order = data.draw(st.permutations(range(count)), label="dispatch order")

    with django_capture_on_commit_callbacks(execute=False):
        single = _run(mix, order, policy, erp, _post_one_by_one)
        batch = _run(mix, order, policy, erp, _post_as_batch)

    batch = _without_given_back(batch, single)
    assert batch == single, "\n".join(_differences(batch, single))


def _differences(left, right, path="") -> list[str]:
    """Where two outcomes differ, one line per leaf (for the failure message)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [
            line
            for key in sorted(set(left) | set(right), key=str)
            for line in _differences(left.get(key), right.get(key), f"{path}.{key}")
        ]
    if left != right:
        return [f"{path}: batch {left!r} != one-job {right!r}"]
    return []
