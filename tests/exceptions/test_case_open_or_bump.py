from datetime import timedelta

import pytest
from django.utils import timezone

from exceptions import services
from exceptions.errors import CaseError
from exceptions.models import Case, CaseState
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def _open(subject, kind="unknown_customer", severity="high", **kwargs):
    kwargs.setdefault("title", f"{kind} on {subject}")
    return services.case_open_or_bump(subject=subject, kind=kind, severity=severity, **kwargs)


def test_open_first_time_creates_an_open_case_with_scope_and_sla():
    subject = UserFactory()
    before = timezone.now()
    case = _open(
        subject,
        severity="critical",
        detail={"customer_id": "c-1"},
        entity="US01",
        customer="c-1",
        partner="p-1",
        period="2026-05",
    )
    assert case.state == CaseState.OPEN
    assert case.subject == subject
    assert case.subject_label == str(subject)
    assert (case.entity, case.customer, case.partner, case.period) == (
        "US01",
        "c-1",
        "p-1",
        "2026-05",
    )
    assert case.occurrences == 1
    assert case.detail == {"customer_id": "c-1"}
    assert before + timedelta(hours=4) <= case.sla_due_at <= timezone.now() + timedelta(hours=4)


@pytest.mark.parametrize(
    ("severity", "blocking"),
    [("low", False), ("medium", False), ("high", True), ("critical", True)],
)
def test_open_blocking_defaults_by_severity(severity, blocking):
    assert _open(UserFactory(), severity=severity).blocking is blocking


def test_open_with_explicit_blocking_overrides_the_default():
    assert _open(UserFactory(), severity="low", blocking=True).blocking is True


def test_open_again_bumps_occurrences_instead_of_duplicating():
    subject = UserFactory()
    first = _open(subject, detail={"try": 1})
    again = _open(subject, title="still unknown", detail={"try": 3})
    _open(subject)

    assert again.pk == first.pk
    assert Case.objects.filter(subject_id=str(subject.pk)).count() == 1
    case = Case.objects.get(pk=first.pk)
    assert case.occurrences == 3
    assert case.title == f"unknown_customer on {subject}"
    assert case.detail == {"try": 3}  # detail=None keeps the last one given
    assert case.last_seen_at > case.first_seen_at


def test_open_again_on_acknowledged_case_keeps_it_acknowledged():
    case = CaseFactory(acknowledged=True)
    bumped = _open(case.subject, kind=case.kind)
    assert bumped.pk == case.pk
    assert bumped.state == CaseState.ACKNOWLEDGED
    assert bumped.occurrences == 2


def test_open_again_with_other_kind_or_subject_makes_separate_cases():
    subject = UserFactory()
    a = _open(subject, kind="unknown_customer")
    b = _open(subject, kind="closed_period")
    c = _open(UserFactory(), kind="unknown_customer")
    assert len({a.pk, b.pk, c.pk}) == 3


def test_open_after_resolve_reopens_the_same_case():
    subject = UserFactory()
    case = _open(subject)
    services.case_resolve(case=case, actor=None, reason="customer created")

    reopened = _open(subject)

    assert reopened.pk == case.pk
    assert reopened.state == CaseState.OPEN
    assert reopened.occurrences == 2
    assert reopened.resolved_at is None
    assert reopened.resolution == ""
    assert "recurred after it was resolved" in reopened.history.first().history_change_reason


def test_open_after_dismiss_creates_a_new_case():
    subject = UserFactory()
    case = _open(subject)
    services.case_dismiss(case=case, actor=None, reason="test data")

    fresh = _open(subject)

    assert fresh.pk != case.pk
    assert fresh.occurrences == 1
    case.refresh_from_db()
    assert case.state == CaseState.DISMISSED


def test_open_bump_fills_scope_keys_given_and_keeps_others():
    subject = UserFactory()
    _open(subject, entity="US01", customer="c-1")
    case = _open(subject, period="2026-05")
    assert (case.entity, case.customer, case.period) == ("US01", "c-1", "2026-05")


def test_open_with_unknown_severity_is_refused():
    with pytest.raises(CaseError) as raised:
        _open(UserFactory(), severity="urgent")
    assert raised.value.code == "invalid_severity"
    assert not Case.objects.exists()


def test_second_active_case_for_subject_and_kind_is_refused_by_the_database():
    from django.db import IntegrityError, transaction

    case = CaseFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseFactory(subject=case.subject, kind=case.kind, acknowledged=True)
