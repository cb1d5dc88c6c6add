"""Lineage: from any id to the chain event → billing record → sync jobs and attempts → ERP
document → cases.

`lineage_search(text)` looks the text up as every kind of id a person may hold: an event id
(or "source/id"), a correlation id, an invoice / credit note / payment / refund / write-off's
id, an ERP document number or id, a case number ("#12" or "12"). Each look-up is one query
on a unique or dedicated index, so the search costs the same at any volume. One match gives
its chain (`lineage_for_event`); several (a correlation id shared by many events, a number
that is both an invoice id and a case number) are listed for the person to choose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Prefetch, Q
from django.urls import reverse

from billing.models import CreditNote, FinanceEvent, Invoice, Payment, Refund, WriteOff
from billing.selectors import record_for_event
from erp_sync.models import SyncAttempt, SyncJob
from exceptions.models import Case

# At most this many matches are listed (a correlation id can tag a whole batch).
MATCH_LIMIT = 50
_CASE_NUMBER = re.compile(r"^#?(\d{1,18})$")
_HUMAN = {
    Invoice: "Invoice",
    CreditNote: "Credit note",
    Payment: "Payment",
    Refund: "Refund",
    WriteOff: "Write-off",
}


@dataclass
class Match:
    """One thing the searched text names: what it is, how it is shown, and its event."""

    kind: str
    label: str
    url: str
    event: FinanceEvent | None = None
    case: Case | None = None


@dataclass
class Step:
    """One link of a chain, with the state and time a person reads on it."""

    kind: str
    label: str
    url: str
    state: str = ""
    state_code: str = ""
    at: object = None
    children: list[Step] = field(default_factory=list)


def _event_url(event: FinanceEvent) -> str:
    return reverse("billing:event-detail", args=[event.pk])


def _record_url(record: Model) -> str:
    if isinstance(record, Invoice):
        return reverse("billing:invoice-detail", args=[record.invoice_id])
    return reverse("billing:event-detail", args=[record.event_id])


def _record_matches(text: str) -> list[Match]:
    # One unique-index look-up per kind of billing record, each with its event joined.
    lookups = (
        (Invoice, "invoice_id"),
        (CreditNote, "credit_note_id"),
        (Payment, "payment_id"),
        (Refund, "refund_id"),
    )
    matches = []
    for model, id_field in lookups:
        record = model.objects.select_related("event").filter(**{id_field: text}).first()
        if record is not None:
            label = f"{_HUMAN[model]} {getattr(record, id_field)}"
            matches.append(Match(model._meta.model_name, label, _record_url(record), record.event))
    return matches


def _event_matches(text: str) -> list[Match]:
    events = FinanceEvent.objects.defer("body", "result")
    source, slash, event_id = text.rpartition("/")
    if slash and source:
        by_id = events.filter(source=source, event_id=event_id)
    else:
        by_id = events.filter(event_id=text)
    found = {event.pk: event for event in by_id[:MATCH_LIMIT]}
    matches = [
        Match("event", f"Event {e.source}/{e.event_id}", _event_url(e), e) for e in found.values()
    ]
    # The empty-value exclusion matches the partial index's condition (billing_evt_correlation_idx).
    correlated = (
        events.filter(correlation_id=text).exclude(correlation_id="").order_by("id")[:MATCH_LIMIT]
    )
    for event in correlated:
        if event.pk not in found:
            label = f"Event {event.source}/{event.event_id} (correlation {text})"
            matches.append(Match("event", label, _event_url(event), event))
    return matches


def _erp_matches(text: str) -> list[Match]:
    jobs = (
        SyncJob.objects.select_related("event", "connection")
        .defer("document", "event__body", "event__result")
        .filter(Q(erp_number=text) & ~Q(erp_number="") | Q(erp_id=text) & ~Q(erp_id=""))
        .order_by("id")[:MATCH_LIMIT]
    )
    return [
        Match(
            "erp_document",
            f"ERP document {job.erp_number or job.erp_id} in {job.connection.name}",
            reverse("erp_sync:job-detail", args=[job.pk]),
            job.event,
        )
        for job in jobs
    ]


def _case_event(case: Case) -> FinanceEvent | None:
    """The event behind a case on an event, a sync job or a billing record (else None)."""
    model = case.subject_type.model_class()
    if model is FinanceEvent:
        return FinanceEvent.objects.defer("body", "result").filter(pk=case.subject_id).first()
    if model is SyncJob:
        job = SyncJob.objects.select_related("event").filter(pk=case.subject_id).first()
        return job.event if job else None
    if model in _HUMAN:
        record = model.objects.select_related("event").filter(pk=case.subject_id).first()
        return record.event if record else None
    return None


def _case_matches(text: str) -> list[Match]:
    number = _CASE_NUMBER.match(text)
    if number is None:
        return []
    case = Case.objects.select_related("subject_type").filter(pk=int(number.group(1))).first()
    if case is None:
        return []
    url = reverse("exceptions:case-detail", args=[case.pk])
    return [Match("case", f"Case #{case.pk}: {case.title}", url, _case_event(case), case)]


def lineage_search(text: str) -> list[Match]:
    """Everything `text` names (see the module docstring), events first, at most MATCH_LIMIT.

    A bounded number of indexed queries whatever the volume; never raises.
    """
    text = (text or "").strip()
    if not text or len(text) > 200:
        return []
    matches = _event_matches(text) + _record_matches(text) + _erp_matches(text)
    matches += _case_matches(text)
    return matches[:MATCH_LIMIT]


def _cases_on(subjects: list[Model]) -> list[Case]:
    """Every case raised on any of `subjects` (one query), newest first."""
    condition = Q(pk__in=[])
    for subject in subjects:
        subject_type = ContentType.objects.get_for_model(subject)
        condition |= Q(subject_type=subject_type, subject_id=str(subject.pk))
    return list(Case.objects.select_related("subject_type").filter(condition).order_by("-id"))


def lineage_for_event(event: FinanceEvent) -> list[Step]:
    """The chain of `event`: the event, its billing record, each sync job (its attempts as
    children, then its ERP document), and every case on any of them. Five queries."""
    event_step = Step(
        "event",
        f"Event {event.source}/{event.event_id} ({event.type})",
        _event_url(event),
        event.get_state_display(),
        event.state,
        event.received_at,
    )
    chain = [event_step]
    record = record_for_event(event)
    subjects: list[Model] = [event]
    if record is not None:
        subjects.append(record)
        state_code = getattr(record, "state", "") or record.erp_status
        state = record.get_state_display() if hasattr(record, "get_state_display") else ""
        erp = record.get_erp_status_display()
        chain.append(
            Step(
                "record",
                str(_HUMAN.get(type(record), record._meta.verbose_name)) + f" {record}",
                _record_url(record),
                f"{state}, ERP {erp.lower()}" if state else f"ERP {erp.lower()}",
                state_code,
                getattr(record, "issue_date", None) or getattr(record, "received_at", None),
            )
        )
    attempts = SyncAttempt.objects.order_by("number")
    jobs = (
        SyncJob.objects.filter(event=event)
        .select_related("connection")
        .defer("document")
        .prefetch_related(Prefetch("attempt_log", queryset=attempts))
        .order_by("id")
    )
    for job in jobs:
        subjects.append(job)
        job_url = reverse("erp_sync:job-detail", args=[job.pk])
        step = Step(
            "job",
            f"Sync job #{job.pk}: {job.get_document_type_display()} to {job.connection.name}",
            job_url,
            job.get_state_display()
            + (f" ({job.get_hold_reason_display()})" if job.hold_reason else ""),
            job.state,
            job.posted_at or job.updated_at,
        )
        step.children = [
            Step(
                "attempt",
                f"Attempt {attempt.number}",
                job_url,
                attempt.get_outcome_display(),
                attempt.outcome,
                attempt.started_at,
            )
            for attempt in job.attempt_log.all()
        ]
        chain.append(step)
        if job.erp_number or job.erp_id:
            chain.append(
                Step(
                    "erp_document",
                    f"ERP document {job.erp_number or job.erp_id}"
                    + (f" (id {job.erp_id})" if job.erp_number and job.erp_id else ""),
                    job_url,
                    "Posted",
                    "posted",
                    job.posted_at,
                )
            )
    for case in _cases_on(subjects):
        chain.append(
            Step(
                "case",
                f"Case #{case.pk}: {case.title}",
                reverse("exceptions:case-detail", args=[case.pk]),
                case.get_state_display(),
                case.state,
                case.last_seen_at,
            )
        )
    return chain
