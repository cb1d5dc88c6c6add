"""Out-of-order events wait for the record they name instead of needing a person.

Every child-before-parent pair of the event contract: the child is quarantined waiting for
its parent; when the parent is applied, the child is re-applied automatically (after the
parent's unit of work commits) and its case resolves saying why. Past the window the case
escalates instead.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.choices import FinanceEventState
from billing.models import AwaitedRecord
from billing.services import event_ingest, events_ingest_batch
from billing.services.awaiting import awaiting_sweep
from exceptions.models import Case, CaseState
from tests.billing.factories import PaymentFactory, credit_line, event_body
from tests.erp_sync.job_helpers import eager_celery  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

CUS, SUB, INV, PAY = "cus_late", "sub_late", "inv_late", "pay_late"


def _customer():
    return event_body("customer.upserted", customer_id=CUS)


def _subscription():
    return event_body("subscription.created", subscription_id=SUB)


def _invoice():
    return event_body("invoice.issued", invoice_id=INV)


def _payment():
    return event_body("payment.settled", payment_id=PAY)


# (child, parent, the reason the child waits): every pair where an event names a customer,
# subscription, invoice or payment another event creates.
PAIRS = {
    "subscription.created→customer": (
        lambda: event_body("subscription.created", customer_id=CUS),
        _customer,
        "unknown_customer",
    ),
    "invoice.issued→customer": (
        lambda: event_body("invoice.issued", customer_id=CUS),
        _customer,
        "unknown_customer",
    ),
    "payment.settled→customer": (
        lambda: event_body("payment.settled", customer_id=CUS),
        _customer,
        "unknown_customer",
    ),
    "subscription.amended→subscription": (
        lambda: event_body("subscription.amended", subscription_id=SUB),
        _subscription,
        "unknown_subscription",
    ),
    "subscription.renewed→subscription": (
        lambda: event_body("subscription.renewed", subscription_id=SUB),
        _subscription,
        "unknown_subscription",
    ),
    "subscription.cancelled→subscription": (
        lambda: event_body("subscription.cancelled", subscription_id=SUB),
        _subscription,
        "unknown_subscription",
    ),
    "usage.recorded→subscription": (
        lambda: event_body("usage.recorded", subscription_id=SUB),
        _subscription,
        "unknown_subscription",
    ),
    "invoice.issued→subscription": (
        lambda: event_body("invoice.issued", subscription_id=SUB),
        _subscription,
        "unknown_subscription",
    ),
    "credit_note.issued→invoice": (
        lambda: event_body("credit_note.issued", invoice_id=INV),
        _invoice,
        "unknown_invoice",
    ),
    "invoice.written_off→invoice": (
        lambda: event_body("invoice.written_off", invoice_id=INV),
        _invoice,
        "unknown_invoice",
    ),
    "payment.settled→invoice": (
        lambda: event_body("payment.settled", invoice_id=INV),
        _invoice,
        "unknown_invoice",
    ),
    "refund.issued→payment": (
        lambda: event_body("refund.issued", payment_id=PAY),
        _payment,
        "unknown_payment",
    ),
}


def _ingest(body, actor, capture):
    with capture(execute=True):
        return event_ingest(body=body, actor=actor).event


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_child_before_parent_waits_then_applies_when_parent_arrives(
    world, actor, django_capture_on_commit_callbacks, pair
):
    child_body, parent_body, reason = PAIRS[pair]

    child = _ingest(child_body(), actor, django_capture_on_commit_callbacks)

    child.refresh_from_db()
    assert child.state == FinanceEventState.QUARANTINED
    assert child.quarantine_reason == reason
    waiting = AwaitedRecord.objects.get(event=child)
    case = Case.objects.get(subject_id=str(child.pk), kind=reason)
    assert case.title.startswith(f"Waiting for {waiting.kind} {waiting.record_id}")
    assert case.detail["waiting_for"]["id"] == waiting.record_id
    assert case.sla_due_at == waiting.since + timedelta(days=7)

    parent = _ingest(parent_body(), actor, django_capture_on_commit_callbacks)

    parent.refresh_from_db()
    child.refresh_from_db()
    case.refresh_from_db()
    assert parent.state == FinanceEventState.APPLIED
    assert child.state == FinanceEventState.APPLIED, child.result
    assert case.state == CaseState.RESOLVED
    assert "it waited for arrived: re-applied automatically" in case.resolution
    last = case.history.order_by("-history_date", "-history_id").first()
    assert last.history_change_reason.startswith(f"resolved: the {waiting.kind} ")
    assert not AwaitedRecord.objects.exists()


def test_every_waiting_event_is_reapplied_in_the_order_it_was_received(
    world, actor, django_capture_on_commit_callbacks
):
    # In this order: credit 30 of 100, then write off the 70 left; the other way round
    # the write-off of 100 would leave nothing to credit.
    body = event_body(
        "credit_note.issued", invoice_id=INV, total="30.00", lines=[credit_line("30.00")]
    )
    credit = _ingest(body, actor, django_capture_on_commit_callbacks)
    write_off = _ingest(
        event_body("invoice.written_off", invoice_id=INV, amount="70.00"),
        actor,
        django_capture_on_commit_callbacks,
    )

    _ingest(_invoice(), actor, django_capture_on_commit_callbacks)

    credit.refresh_from_db()
    write_off.refresh_from_db()
    assert credit.state == FinanceEventState.APPLIED
    assert write_off.state == FinanceEventState.APPLIED
    assert credit.applied_at <= write_off.applied_at


def test_a_chain_of_waits_unwinds_when_the_first_record_arrives(
    world, actor, django_capture_on_commit_callbacks
):
    payment = _ingest(
        event_body("payment.settled", customer_id=CUS, invoice_id=INV),
        actor,
        django_capture_on_commit_callbacks,
    )
    invoice = _ingest(
        event_body("invoice.issued", invoice_id=INV, customer_id=CUS),
        actor,
        django_capture_on_commit_callbacks,
    )
    assert AwaitedRecord.objects.count() == 2

    _ingest(_customer(), actor, django_capture_on_commit_callbacks)

    for event in (invoice, payment):
        event.refresh_from_db()
        assert event.state == FinanceEventState.APPLIED, event.result
    assert not AwaitedRecord.objects.exists()
    assert not Case.objects.filter(state__in=["open", "acknowledged"]).exists()


def test_parent_in_a_batch_fast_path_releases_the_waiting_child(
    world, actor, django_capture_on_commit_callbacks
):
    child = _ingest(
        event_body("payment.settled", invoice_id=INV), actor, django_capture_on_commit_callbacks
    )

    with django_capture_on_commit_callbacks(execute=True):
        [result] = events_ingest_batch(bodies=[_invoice()], actor=actor)

    assert result["status"] == 202 and result["state"] == "applied"
    child.refresh_from_db()
    assert child.state == FinanceEventState.APPLIED
    assert child.result["records"]["allocations"] == {INV: "100.00"}


def test_event_quarantined_for_another_reason_does_not_wait(world, actor):
    event = event_ingest(
        body=event_body("payment.settled", invoice_id="inv_x", currency="EUR"), actor=actor
    ).event
    assert event.quarantine_reason == "currency_mismatch"
    assert not AwaitedRecord.objects.exists()


def test_past_the_window_the_case_escalates_and_the_event_waits_no_more(
    world, actor, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    make_user("lead", "finance_ops", email="lead@example.com")
    child = _ingest(
        event_body("refund.issued", payment_id=PAY), actor, django_capture_on_commit_callbacks
    )
    AwaitedRecord.objects.update(since=timezone.now() - timedelta(days=8))

    with django_capture_on_commit_callbacks(execute=True):
        counts = awaiting_sweep(actor=actor)

    assert counts == {"released": 0, "escalated": 1}
    case = Case.objects.get(subject_id=str(child.pk))
    assert case.escalated_at is not None
    assert case.state == CaseState.OPEN
    assert case.history.filter(
        history_change_reason__startswith="escalated: waited 7 days for payment pay_late"
    ).exists()
    assert not AwaitedRecord.objects.exists()
    assert [m.to for m in mailoutbox] == [["lead@example.com"]]
    assert f"#{case.pk}" in mailoutbox[0].body


def test_sweep_releases_a_waiting_event_whose_record_arrived_without_a_release(
    world, actor, django_capture_on_commit_callbacks
):
    child = _ingest(
        event_body("refund.issued", payment_id=PAY), actor, django_capture_on_commit_callbacks
    )
    # The payment arrives another way than through an event (no release is sent).
    PaymentFactory(payment_id=PAY, customer=world["customer"])

    counts = awaiting_sweep(actor=actor)

    assert counts["released"] == 1
    child.refresh_from_db()
    assert child.state == FinanceEventState.APPLIED
