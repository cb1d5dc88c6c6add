"""Every (source, transition) pair of ReconciliationRun, Break and Match."""

import pytest
from django_fsm import TransitionNotAllowed

from reconciliation.choices import BreakState, MatchStatus, RunState
from reconciliation.models import Break, Match, ReconciliationRun

# transition: (kwargs, {source: target}); a source not listed is refused.
RUN = {
    "start": ({}, {"queued": "running"}),
    "complete": ({"matched": 3, "suggested": 1, "breaks": 2}, {"running": "completed"}),
    "fail": ({"reason": "the ERP listing failed: 503"}, {"queued": "failed", "running": "failed"}),
}
BREAK = {
    "accept": ({"note": "known rounding", "by": None}, {"open": "accepted"}),
    "resolve": ({}, {"open": "resolved", "accepted": "resolved"}),
    "reopen": ({}, {"resolved": "open"}),
}
MATCH = {
    "confirm": ({"by": None, "note": "same fee"}, {"suggested": "confirmed"}),
    "reject": ({"by": None, "note": "different"}, {"suggested": "rejected"}),
}
CASES = [
    (ReconciliationRun, "state", RunState.values, RUN),
    (Break, "state", BreakState.values, BREAK),
    (Match, "status", MatchStatus.values, MATCH),
]


@pytest.mark.parametrize(
    ("model", "field", "source", "name"),
    [
        (model, field, source, name)
        for model, field, states, table in CASES
        for source in states
        for name in table
    ],
)
def test_transition_from_each_state(model, field, source, name):
    kwargs, allowed = {c[0]: c[3] for c in CASES}[model][name]
    record = model(**{field: source})

    if source in allowed:
        getattr(record, name)(**kwargs)
        assert getattr(record, field) == allowed[source]
    else:
        with pytest.raises(TransitionNotAllowed):
            getattr(record, name)(**kwargs)
        assert getattr(record, field) == source


def test_run_fail_records_reason_and_complete_records_counts():
    failed = ReconciliationRun(state="running")
    failed.fail(reason="the ERP listing failed: 503")
    done = ReconciliationRun(state="running")
    done.complete(matched=3, suggested=1, breaks=2)

    assert failed.failure_reason == "the ERP listing failed: 503" and failed.finished_at
    assert (done.matched_count, done.suggested_count, done.break_count) == (3, 1, 2)
