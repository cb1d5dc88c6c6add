"""Each way a well-formed event cannot be applied quarantines it with an exception case."""

from datetime import date

import pytest

from billing.choices import FinanceEventState, SubscriptionState
from billing.models import Invoice, UsageRecord
from billing.services import event_ingest
from exceptions.selectors import cases_for_subject
from tests.billing.factories import credit_line, event_body

pytestmark = pytest.mark.django_db


def _closed(world):
    world["entity"].closed_through = date(2026, 5, 31)
    world["entity"].save()


def _cancelled(world):
    subscription = world["subscription"]
    subscription.cancel(effective_date=date(2026, 4, 30))
    subscription.save()


def _usage_exists(world):
    event_ingest(body=event_body("usage.recorded", usage_id="u_dup"), actor=None)


CASES = [
    ("unknown_entity", lambda w: None, event_body("invoice.issued", envelope={"entity": "ZZ01"})),
    ("unknown_customer", lambda w: None, event_body("invoice.issued", customer_id="nobody")),
    ("unknown_plan", lambda w: None, event_body("subscription.amended", plan_code="nope")),
    ("unknown_subscription", lambda w: None, event_body("usage.recorded", subscription_id="no")),
    ("unknown_invoice", lambda w: None, event_body("credit_note.issued", invoice_id="nope")),
    ("unknown_payment", lambda w: None, event_body("refund.issued", payment_id="nope")),
    ("unknown_partner", lambda w: None, event_body("partner.upserted", parent_partner_id="no")),
    ("subscription_cancelled", _cancelled, event_body("usage.recorded")),
    ("closed_period", _closed, event_body("invoice.issued")),
    ("currency_mismatch", lambda w: None, event_body("payment.settled", invoice_id="inv_x",
                                                     currency="EUR")),
    ("over_credit", lambda w: None, event_body("credit_note.issued", total="130.00",
                                               lines=[credit_line("130.00")])),
    ("over_refund", lambda w: None, event_body("refund.issued", amount="100.01")),
    ("over_write_off", lambda w: None, event_body("invoice.written_off", amount="100.01")),
    ("duplicate_record", lambda w: None, event_body("invoice.issued", invoice_id="inv_x")),
    ("duplicate_record", _usage_exists, event_body("usage.recorded", usage_id="u_dup")),
]  # fmt: skip


@pytest.mark.parametrize(("reason", "arrange", "body"), CASES)
def test_ingest_inapplicable_event_is_quarantined_with_case(world, actor, reason, arrange, body):
    arrange(world)
    outcome = event_ingest(body=body, actor=actor)
    assert outcome.status == 202
    event = outcome.event
    event.refresh_from_db()
    assert event.state == FinanceEventState.QUARANTINED
    assert event.quarantine_reason == reason
    case = cases_for_subject(event).get()
    assert case.kind == reason
    assert case.entity == body["entity"]
    assert outcome.response["case"]["id"] == case.pk


def test_quarantine_leaves_no_partial_records(world, actor):
    world["entity"].closed_through = date(2026, 5, 31)
    world["entity"].save()
    event_ingest(body=event_body("invoice.issued", invoice_id="inv_closed"), actor=actor)
    assert not Invoice.objects.filter(invoice_id="inv_closed").exists()


def test_closed_period_case_is_high_severity_with_period(world, actor):
    _closed(world)
    outcome = event_ingest(body=event_body("invoice.issued"), actor=actor)
    case = cases_for_subject(outcome.event).get()
    assert (case.severity, case.period, case.customer) == ("high", "2026-05", "cus_x")


def test_usage_for_expired_subscription_is_quarantined(world, actor):
    subscription = world["subscription"]
    subscription.term_end = date(2026, 4, 30)
    subscription.expire()
    subscription.save()
    assert subscription.state == SubscriptionState.EXPIRED
    outcome = event_ingest(body=event_body("usage.recorded"), actor=actor)
    assert outcome.event.quarantine_reason == "subscription_cancelled"
    assert not UsageRecord.objects.exists()
