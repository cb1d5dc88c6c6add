"""Every (source state, transition) pair of SyncJob and Connection: allowed or refused."""

import pytest
from django_fsm import can_proceed

from erp_sync.choices import CircuitState, SyncJobState
from erp_sync.models import Connection, SyncJob

S = SyncJobState
JOB_TRANSITIONS = {
    "start": {S.PENDING, S.RETRY_WAIT},
    "succeed": {S.IN_FLIGHT},
    "schedule_retry": {S.IN_FLIGHT},
    "dead_letter": {S.IN_FLIGHT, S.PENDING},
    "replay": {S.DEAD},
    "hold": {S.PENDING, S.RETRY_WAIT, S.IN_FLIGHT},
    "release": {S.HELD},
    "reclaim": {S.IN_FLIGHT},
    "cancel": {S.PENDING, S.HELD, S.DEAD},
}
JOB_TARGETS = {
    "start": S.IN_FLIGHT,
    "succeed": S.POSTED,
    "schedule_retry": S.RETRY_WAIT,
    "dead_letter": S.DEAD,
    "replay": S.PENDING,
    "hold": S.HELD,
    "release": S.PENDING,
    "reclaim": S.PENDING,
    "cancel": S.CANCELLED,
}
JOB_KWARGS = {
    "start": {"lease_expires_at": None},
    "succeed": {"erp_id": "1", "erp_number": "N1"},
    "schedule_retry": {"error": "e", "code": "c", "next_attempt_at": None},
    "dead_letter": {"error": "e", "code": "c"},
    "hold": {"reason": "paused"},
    "cancel": {"reason": "r"},
}

C = CircuitState
CONNECTION_TRANSITIONS = {
    "trip": {C.CLOSED, C.HALF_OPEN},
    "probe": {C.OPEN},
    "recover": {C.HALF_OPEN, C.OPEN},
}
CONNECTION_TARGETS = {"trip": C.OPEN, "probe": C.HALF_OPEN, "recover": C.CLOSED}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("name", list(JOB_TRANSITIONS))
def test_job_transition_from_source_allowed_only_where_declared(name, source):
    job = SyncJob(state=source)
    allowed = source in JOB_TRANSITIONS[name]
    assert can_proceed(getattr(job, name)) is allowed
    if allowed:
        getattr(job, name)(**JOB_KWARGS.get(name, {}))
        assert job.state == JOB_TARGETS[name]


@pytest.mark.parametrize("source", list(C))
@pytest.mark.parametrize("name", list(CONNECTION_TRANSITIONS))
def test_connection_transition_from_source_allowed_only_where_declared(name, source):
    connection = Connection(circuit_state=source)
    allowed = source in CONNECTION_TRANSITIONS[name]
    assert can_proceed(getattr(connection, name)) is allowed
    if allowed:
        getattr(connection, name)(**({"error": "boom"} if name == "trip" else {}))
        assert connection.circuit_state == CONNECTION_TARGETS[name]


def test_job_transitions_cover_every_declared_transition():
    declared = {t.name for t in SyncJob().get_all_state_transitions()}
    assert declared == set(JOB_TRANSITIONS)


def test_connection_transitions_cover_every_declared_transition():
    declared = {t.name for t in Connection().get_all_circuit_state_transitions()}
    assert declared == set(CONNECTION_TRANSITIONS)
