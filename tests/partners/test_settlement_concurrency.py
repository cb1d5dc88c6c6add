"""Two approvers at the same moment: exactly one transition, one history row."""

import datetime as dt
import threading

import pytest
from django.db import connection

from billing.models import FinanceEvent
from partners.errors import SettlementError
from partners.models import Settlement
from partners.services import settlements as svc
from tests.partners import factories as f


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_make_exactly_one_transition(monkeypatch):
    f.entity()
    alice = f.user("cm-alice", "channel_manager")
    approvers = [f.user("cm-bob", "channel_manager"), f.user("cm-carol", "channel_manager")]
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("100.00")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)

    # Both approvers pass the hold re-check before either takes the row lock, so the lock
    # and the state check under it (not luck) decide.
    at_lock = threading.Barrier(2, timeout=10)
    original = svc._recheck_hold

    def recheck(settlement, actor):
        result = original(settlement, actor)
        at_lock.wait()
        return result

    monkeypatch.setattr(svc, "_recheck_hold", recheck)
    outcomes = []

    def approve(person):
        try:
            svc.settlement_approve(settlement=settlement, actor=person)
            outcomes.append("approved")
        except SettlementError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(person,)) for person in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["approved", "illegal_transition"]
    settlement = Settlement.objects.get(pk=settlement.pk)
    assert settlement.state == "approved"
    approvals = settlement.history.filter(history_change_reason="approved (four-eyes)")
    assert approvals.count() == 1
    assert approvals.get().history_user == settlement.approved_by
    assert FinanceEvent.objects.filter(type="settlement.approved").count() == 1
