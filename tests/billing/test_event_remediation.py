"""Cases on a quarantined event offer replay and discard to those allowed to use them."""

import pytest

from billing.services import event_ingest
from exceptions.remediation import case_remediate, case_remediations
from exceptions.selectors import cases_for_subject
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


def test_case_offers_replay_and_discard_to_finance_ops_only(world, role_users):
    outcome = event_ingest(body=event_body("invoice.issued", customer_id="c_late"), actor=None)
    case = cases_for_subject(outcome.event).get()
    keys = [a.key for a in case_remediations(case, role_users["finance_ops"])]
    assert keys == ["replay", "discard"]
    assert case_remediations(case, role_users["auditor"]) == []


def test_remediate_replay_applies_event_and_resolves_case(world, role_users):
    outcome = event_ingest(body=event_body("invoice.issued", customer_id="c_late"), actor=None)
    event_ingest(body=event_body("customer.upserted", customer_id="c_late"), actor=None)
    case = cases_for_subject(outcome.event).get()
    message = case_remediate(case=case, key="replay", actor=role_users["finance_ops"])
    assert "applied" in message
    outcome.event.refresh_from_db()
    case.refresh_from_db()
    assert (outcome.event.state, case.state) == ("applied", "resolved")
