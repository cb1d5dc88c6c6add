import pytest

from exceptions.errors import RemediationError
from exceptions.models import CaseState
from exceptions.remediation import case_remediate, case_remediations
from tests.exceptions.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_remediations_list_only_actions_the_user_may_perform(user_remediation, role_users):
    case = CaseFactory()
    keys = [a.key for a in case_remediations(case, role_users["finance_ops"])]
    assert keys == ["activate"]  # "purge" needs accounts.delete_user, which no role has
    assert case_remediations(case, role_users["auditor"]) == []


def test_remediations_without_provider_are_empty(role_users):
    assert case_remediations(CaseFactory(), role_users["finance_ops"]) == []


def test_remediations_on_closed_case_are_empty(user_remediation, role_users):
    assert case_remediations(CaseFactory(resolved=True), role_users["finance_ops"]) == []


def test_remediate_performs_through_provider_and_resolves_case(user_remediation, role_users):
    case = CaseFactory()
    actor = role_users["finance_ops"]

    message = case_remediate(case=case, key="activate", actor=actor)

    assert message == f"activate done for {case.subject}"
    assert user_remediation.performed == [(case.subject.pk, "activate", actor.pk)]
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED


def test_remediate_unknown_key_is_refused(user_remediation, role_users):
    case = CaseFactory()
    with pytest.raises(RemediationError) as raised:
        case_remediate(case=case, key="reboot", actor=role_users["finance_ops"])
    assert (raised.value.code, raised.value.field) == ("unknown_remediation", "action")
    assert user_remediation.performed == []


def test_remediate_without_permission_is_refused(user_remediation, role_users):
    case = CaseFactory()
    with pytest.raises(RemediationError) as raised:
        case_remediate(case=case, key="purge", actor=role_users["finance_ops"])
    assert (raised.value.code, raised.value.status) == ("remediation_forbidden", 403)
    assert user_remediation.performed == []
