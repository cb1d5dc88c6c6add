"""cases_open_or_bump_many gives the same cases as case_open_or_bump per item, set-based."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError

from exceptions import case_batches, services
from exceptions.models import Case
from tests.exceptions.factories import UserFactory

pytestmark = pytest.mark.django_db
KIND = "reconciliation_amount_mismatch"
# What each subject had before: nothing, an open case, an acknowledged one, two resolved ones
# (the later one reopens), only a dismissed one (a new case opens), an open one of another kind.
HISTORIES = ["none", "open", "acknowledged", "resolved_twice", "dismissed", "other_kind"]


def _values(n: int) -> dict:
    return {
        "kind": KIND,
        "severity": "high",
        "title": f"amount mismatch {n}",
        "detail": {"n": n},
        "entity": "US01",
        "customer": f"cus_{n}",
        "period": "2026-05",
    }


def _prepare(history: str, actor):
    subject = UserFactory()
    open_ = lambda kind=KIND: services.case_open_or_bump(  # noqa: E731
        subject=subject, kind=kind, severity="medium", title="before", entity="DE01"
    )
    if history == "open":
        open_(), open_()
    elif history == "acknowledged":
        services.case_acknowledge(case=open_(), actor=actor)
    elif history == "resolved_twice":
        later = services.case_resolve(case=open_(), actor=actor, reason="fixed")
        # An older resolution with a higher id: the latest resolved_at decides, not the id.
        Case.objects.create(
            subject_type=later.subject_type, subject_id=later.subject_id, kind=KIND,
            severity="medium", title="older", state="resolved", resolution="old",
            resolved_at=later.resolved_at - timedelta(days=1),
        )  # fmt: skip
    elif history == "dismissed":
        services.case_dismiss(case=open_(), actor=actor, reason="not a problem")
    elif history == "other_kind":
        open_("reconciliation_tax_mismatch")
    return subject


def _outcome(subject) -> list[tuple]:
    cases = Case.objects.filter(subject_id=str(subject.pk)).order_by("id")
    return [
        (
            c.kind, c.state, c.occurrences, c.title, c.detail, c.entity, c.customer, c.period,
            c.severity, c.blocking, c.resolution, c.resolved_at is None,
            [(h.history_type, h.history_change_reason) for h in c.history.order_by("history_id")],
        )
        for c in cases
    ]  # fmt: skip


def test_many_equals_one_by_one():
    actor = UserFactory()
    one = [_prepare(h, actor) for h in HISTORIES]
    many = [_prepare(h, actor) for h in HISTORIES]

    for n, subject in enumerate(one):
        services.case_open_or_bump(subject=subject, actor=actor, **_values(n))
    returned = case_batches.cases_open_or_bump_many(
        items=[(subject, _values(n)) for n, subject in enumerate(many)], actor=actor
    )

    for a, b in zip(one, many, strict=True):
        assert _outcome(a) == _outcome(b)
    assert [c.subject_id for c in returned] == [str(s.pk) for s in many]
    assert {c.state for c in returned} == {"open", "acknowledged"}
    # The reopened case is the later of the two resolved ones.
    reopened = Case.objects.filter(subject_id=str(many[3].pk)).order_by("id")
    assert [(c.title, c.state) for c in reopened] == [
        ("amount mismatch 3", "open"),
        ("older", "resolved"),
    ]


def test_many_falls_back_one_by_one_when_a_concurrent_case_wins():
    actor = UserFactory()
    subjects = [_prepare(h, actor) for h in HISTORIES]
    real = case_batches.bulk_create_with_history

    def racing(objs, model, **kwargs):
        real(objs, model, **kwargs)
        raise IntegrityError("exc_case_one_active_per_subject_kind")

    with mock.patch.object(case_batches, "bulk_create_with_history", racing):
        case_batches.cases_open_or_bump_many(
            items=[(s, _values(n)) for n, s in enumerate(subjects)], actor=actor
        )

    active = Case.objects.filter(kind=KIND, state__in=["open", "acknowledged"])
    assert sorted(active.values_list("subject_id", flat=True)) == sorted(
        str(s.pk) for s in subjects
    )
    assert Case.objects.get(subject_id=str(subjects[1].pk), kind=KIND).occurrences == 3


def test_resolve_for_subjects_resolves_only_active_cases():
    actor = UserFactory()
    subjects = [_prepare(h, actor) for h in HISTORIES]

    count = case_batches.cases_resolve_for_subjects(subjects=subjects, actor=actor, reason="gone")

    # open, acknowledged, other_kind: the active ones.
    assert count == 3
    assert not Case.objects.filter(state__in=["open", "acknowledged"]).exists()
    resolved = Case.objects.filter(resolution="gone")
    assert {h.history_change_reason for c in resolved for h in c.history.all()[:1]} == {
        "resolved: gone"
    }
