import pytest
from django.contrib.auth import get_user_model

from exceptions.remediation import RemediationAction, register_remediation, unregister_remediation
from exceptions.services import cases_resolve_for_subject


class UserSubjectRemediation:
    """A test-only provider for cases whose subject is a user: re-activate the user."""

    def __init__(self):
        self.performed = []

    def actions(self, subject, user):
        actions = [RemediationAction("activate", "Activate user", "exceptions.change_case")]
        if not subject.is_active:
            return actions
        return [*actions, RemediationAction("purge", "Purge user", "accounts.delete_user")]

    def perform(self, subject, key, actor):
        self.performed.append((subject.pk, key, actor.pk))
        cases_resolve_for_subject(subject=subject, actor=actor, reason=f"remediated: {key}")
        return f"{key} done for {subject}"


@pytest.fixture
def user_remediation():
    provider = UserSubjectRemediation()
    register_remediation(get_user_model(), provider)
    yield provider
    unregister_remediation(get_user_model())
