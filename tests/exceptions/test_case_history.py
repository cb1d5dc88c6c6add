"""Every service leaves a history row naming its actor and reason."""

import pytest

from exceptions import services
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor():
    return UserFactory(username="ops-anna")


def _last(case):
    return case.history.order_by("-history_date", "-history_id").first()


def test_open_records_actor_and_reason(actor):
    case = services.case_open_or_bump(
        subject=UserFactory(), kind="mapping_missing", severity="high", title="No rule", actor=actor
    )
    row = _last(case)
    assert (row.history_user, row.history_change_reason) == (actor, "opened: No rule")
    assert row.history_type == "+"


def test_bump_records_actor_and_reason(actor):
    case = CaseFactory(kind="mapping_missing")
    services.case_open_or_bump(
        subject=case.subject, kind="mapping_missing", severity="high", title="No rule", actor=actor
    )
    row = _last(case)
    assert (row.history_user, row.history_change_reason, row.occurrences) == (
        actor,
        "recurred: No rule",
        2,
    )


def test_acknowledge_records_actor_and_reason(actor):
    case = services.case_acknowledge(case=CaseFactory(), actor=actor)
    row = _last(case)
    assert row.history_user == actor
    assert row.history_change_reason == "acknowledged, owner ops-anna"
    assert row.state == "acknowledged"


@pytest.mark.parametrize(
    ("command", "state"),
    [(services.case_resolve, "resolved"), (services.case_dismiss, "dismissed")],
)
def test_close_records_actor_and_reason(actor, command, state):
    case = command(case=CaseFactory(), actor=actor, reason="handled in ERP")
    row = _last(case)
    assert (row.history_user, row.history_change_reason, row.state) == (
        actor,
        f"{state}: handled in ERP",
        state,
    )


def test_reopen_records_actor_and_reason(actor):
    case = services.case_reopen(case=CaseFactory(resolved=True), actor=actor, reason="not fixed")
    row = _last(case)
    assert (row.history_user, row.history_change_reason) == (actor, "reopened: not fixed")


def test_resolve_for_subject_records_actor_and_reason(actor):
    case = CaseFactory()
    services.cases_resolve_for_subject(subject=case.subject, actor=actor, reason="event replayed")
    row = _last(case)
    assert (row.history_user, row.history_change_reason, row.state) == (
        actor,
        "resolved: event replayed",
        "resolved",
    )


def test_comment_records_actor_and_reason(actor):
    case = CaseFactory()
    comment = services.case_comment_add(case=case, actor=actor, body="Asked billing.")
    row = comment.history.get()
    assert comment.author == actor
    assert (row.history_user, row.history_change_reason) == (
        actor,
        f"comment added to case #{case.pk}",
    )
