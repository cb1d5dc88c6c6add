"""Every (source state, transition) pair of the Case state machine, through the services."""

import pytest

from exceptions import services
from exceptions.errors import CaseError
from exceptions.models import CaseState
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

OPEN, ACK, RESOLVED, DISMISSED = (
    CaseState.OPEN,
    CaseState.ACKNOWLEDGED,
    CaseState.RESOLVED,
    CaseState.DISMISSED,
)

COMMANDS = {
    "acknowledge": lambda case, actor: services.case_acknowledge(case=case, actor=actor),
    "resolve": lambda case, actor: services.case_resolve(case=case, actor=actor, reason="fixed"),
    "dismiss": lambda case, actor: services.case_dismiss(case=case, actor=actor, reason="noise"),
    "reopen": lambda case, actor: services.case_reopen(case=case, actor=actor, reason="again"),
}

# (source, transition) -> target state, "same" (already there: unchanged) or None (illegal).
MATRIX = {
    (OPEN, "acknowledge"): ACK,
    (OPEN, "resolve"): RESOLVED,
    (OPEN, "dismiss"): DISMISSED,
    (OPEN, "reopen"): "same",
    (ACK, "acknowledge"): "same",
    (ACK, "resolve"): RESOLVED,
    (ACK, "dismiss"): DISMISSED,
    (ACK, "reopen"): None,
    (RESOLVED, "acknowledge"): None,
    (RESOLVED, "resolve"): "same",
    (RESOLVED, "dismiss"): None,
    (RESOLVED, "reopen"): OPEN,
    (DISMISSED, "acknowledge"): None,
    (DISMISSED, "resolve"): None,
    (DISMISSED, "dismiss"): "same",
    (DISMISSED, "reopen"): None,
}


def test_matrix_covers_every_state_and_transition():
    assert set(MATRIX) == {(s, t) for s in CaseState.values for t in COMMANDS}


def _case_in(state: str):
    return CaseFactory(state=state)


@pytest.mark.parametrize(("source", "name"), sorted(MATRIX))
def test_transition_from_source_follows_the_state_machine(source, name):
    case = _case_in(source)
    history_before = case.history.count()
    actor = UserFactory()
    expected = MATRIX[(source, name)]

    if expected is None:
        with pytest.raises(CaseError) as raised:
            COMMANDS[name](case, actor)
        assert raised.value.code == "illegal_transition"
        case.refresh_from_db()
        assert case.state == source
        assert case.history.count() == history_before
    elif expected == "same":
        returned = COMMANDS[name](case, actor)
        case.refresh_from_db()
        assert returned.state == source == case.state
        assert case.history.count() == history_before
    else:
        returned = COMMANDS[name](case, actor)
        case.refresh_from_db()
        assert returned.state == expected == case.state
        assert case.history.count() == history_before + 1


@pytest.mark.parametrize("source", [OPEN, ACK])
@pytest.mark.parametrize("name", ["resolve", "dismiss"])
def test_close_records_reason_and_time(source, name):
    case = _case_in(source)
    command = services.case_resolve if name == "resolve" else services.case_dismiss
    closed = command(case=case, actor=UserFactory(), reason="  duplicate of #12 ")
    assert closed.resolution == "duplicate of #12"
    assert closed.resolved_at is not None


def test_acknowledge_without_owner_makes_the_actor_owner():
    actor = UserFactory()
    case = services.case_acknowledge(case=CaseFactory(), actor=actor)
    assert case.owner == actor


def test_acknowledge_with_owner_assigns_that_owner():
    owner = UserFactory()
    case = services.case_acknowledge(case=CaseFactory(), actor=UserFactory(), owner=owner)
    assert case.owner == owner


def test_reopen_clears_resolution_and_restarts_sla():
    case = CaseFactory(resolved=True)
    reopened = services.case_reopen(case=case, actor=UserFactory(), reason="came back")
    assert reopened.state == OPEN
    assert reopened.resolved_at is None
    assert reopened.resolution == ""
    assert reopened.sla_due_at > case.sla_due_at
