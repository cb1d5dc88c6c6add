"""The settlement state machine: every (source, transition) pair, allowed or refused."""

import pytest
from django_fsm import TransitionNotAllowed, can_proceed

from partners.choices import SettlementState as S
from partners.models import Settlement

ALLOWED = {
    "calculate": {S.DRAFT: S.CALCULATED, S.CALCULATED: S.CALCULATED},
    "submit": {S.CALCULATED: S.SUBMITTED},
    "approve": {S.SUBMITTED: S.APPROVED},
    "reject": {S.SUBMITTED: S.REJECTED},
    "reopen": {S.REJECTED: S.DRAFT},
    "hold": {S.CALCULATED: S.ON_HOLD, S.SUBMITTED: S.ON_HOLD},
    "release": {S.ON_HOLD: S.CALCULATED},
    "post": {S.APPROVED: S.POSTED},
    "mark_paid": {S.APPROVED: S.PAID, S.POSTED: S.PAID},
}
ARGS = {
    "calculate": {"total": 0, "digest": "d", "at": None},
    "submit": {"by": None, "at": None},
    "approve": {"by": None, "at": None},
    "reject": {"reason": "r"},
    "hold": {"reason": "r"},
}


@pytest.mark.parametrize("source", S.values)
@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_transition_from_each_state_is_allowed_only_where_declared(name, source):
    settlement = Settlement(state=source, held_from=S.CALCULATED)
    method = getattr(settlement, name)

    if source in ALLOWED[name]:
        assert can_proceed(method)
        method(**ARGS.get(name, {}))
        assert settlement.state == ALLOWED[name][source]
    else:
        assert not can_proceed(method)
        with pytest.raises(TransitionNotAllowed):
            method(**ARGS.get(name, {}))


def test_release_returns_to_the_state_it_was_held_from():
    settlement = Settlement(state=S.SUBMITTED)
    settlement.hold(reason="case #1")
    assert (settlement.state, settlement.held_from) == (S.ON_HOLD, S.SUBMITTED)

    settlement.release()

    assert (settlement.state, settlement.held_from, settlement.hold_reason) == (S.SUBMITTED, "", "")
