import pytest

from exceptions import services
from exceptions.models import CaseState
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_resolve_for_subject_resolves_only_its_active_cases():
    subject = UserFactory()
    open_case = CaseFactory(subject=subject, kind="unknown_customer")
    acked = CaseFactory(subject=subject, kind="closed_period", acknowledged=True)
    dismissed = CaseFactory(subject=subject, kind="other", dismissed=True)
    elsewhere = CaseFactory(kind="unknown_customer")

    count = services.cases_resolve_for_subject(subject=subject, actor=None, reason="replayed")

    assert count == 2
    for case, state in [
        (open_case, CaseState.RESOLVED),
        (acked, CaseState.RESOLVED),
        (dismissed, CaseState.DISMISSED),
        (elsewhere, CaseState.OPEN),
    ]:
        case.refresh_from_db()
        assert case.state == state
    assert open_case.resolution == "replayed"


def test_resolve_for_subject_with_kinds_leaves_other_kinds_open():
    subject = UserFactory()
    wanted = CaseFactory(subject=subject, kind="unknown_customer")
    other = CaseFactory(subject=subject, kind="closed_period")

    count = services.cases_resolve_for_subject(
        subject=subject, actor=None, reason="customer arrived", kinds=["unknown_customer"]
    )

    assert count == 1
    wanted.refresh_from_db()
    other.refresh_from_db()
    assert (wanted.state, other.state) == (CaseState.RESOLVED, CaseState.OPEN)


def test_resolve_for_subject_without_active_cases_returns_zero():
    assert services.cases_resolve_for_subject(subject=UserFactory(), actor=None, reason="x") == 0
