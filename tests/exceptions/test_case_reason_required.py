import pytest

from exceptions import services
from exceptions.errors import CaseError
from exceptions.models import CaseState
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("reason", ["", "   ", None])
@pytest.mark.parametrize(
    "command", [services.case_resolve, services.case_dismiss, services.case_reopen]
)
def test_close_or_reopen_without_reason_is_refused(command, reason):
    case = CaseFactory(resolved=True) if command is services.case_reopen else CaseFactory()
    state = case.state
    with pytest.raises(CaseError) as raised:
        command(case=case, actor=UserFactory(), reason=reason)
    assert (raised.value.code, raised.value.field, raised.value.status) == (
        "reason_required",
        "reason",
        400,
    )
    case.refresh_from_db()
    assert case.state == state


def test_resolve_for_subject_without_reason_is_refused():
    case = CaseFactory()
    with pytest.raises(CaseError, match="reason"):
        services.cases_resolve_for_subject(subject=case.subject, actor=None, reason="")
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


def test_comment_without_body_is_refused():
    case = CaseFactory()
    with pytest.raises(CaseError) as raised:
        services.case_comment_add(case=case, actor=UserFactory(), body=" \n")
    assert raised.value.code == "body_required"
    assert case.comments.count() == 0
