"""Correct and replay: a quarantined event replaced by a corrected copy, linked both ways,
with the changed fields kept; a bad correction writes nothing; a double submit makes one."""

import pytest

from billing.choices import FinanceEventState
from billing.errors import BillingError
from billing.models import AwaitedRecord, FinanceEvent, Payment
from billing.schema import EventSchemaError
from billing.selectors import corrected_by, correction_head, correction_root
from billing.services import event_correct, event_ingest
from billing.signals import event_applied
from exceptions.models import CaseComment
from exceptions.selectors import cases_for_subject
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


def quarantined_payment(actor, **data):
    body = event_body(
        "payment.settled", payment_id="PAY-9", customer_id="cus_x", invoice_id="INV-1042", **data
    )
    event = event_ingest(body=body, actor=actor).event
    assert (event.state, event.quarantine_reason) == ("quarantined", "unknown_invoice")
    return event


def corrected_data(event, **changes):
    return {**event.body["data"], **changes}


def test_correct_applies_copy_supersedes_original_and_resolves_case(
    world, actor, django_capture_on_commit_callbacks
):
    original = quarantined_payment(actor)
    body_before, digest_before = dict(original.body), original.body_digest
    sent = []
    event_applied.connect(lambda sender, events, **kw: sent.extend(events), weak=False)

    with django_capture_on_commit_callbacks(execute=True):
        copy = event_correct(
            event=original,
            payload={"data": corrected_data(original, invoice_id="inv_x")},
            actor=actor,
            reason="typo in the invoice number",
        )

    original.refresh_from_db()
    assert copy.event_id == f"{original.event_id}~c1"
    assert (copy.state, copy.corrects_id) == (FinanceEventState.APPLIED, original.pk)
    assert copy.correction == {
        "reason": "typo in the invoice number",
        "changes": [{"field": "data.invoice_id", "old": "INV-1042", "new": "inv_x"}],
    }
    assert original.state == FinanceEventState.SUPERSEDED
    assert (original.body, original.body_digest) == (body_before, digest_before)
    assert original.result["corrected_by"] == {"source": copy.source, "id": copy.event_id}
    assert corrected_by(original) == copy
    assert correction_head(original) == copy and correction_root(copy) == original
    assert Payment.objects.get(payment_id="PAY-9").event == copy
    assert not AwaitedRecord.objects.filter(event=original).exists()
    assert [e.pk for e in sent] == [copy.pk]

    case = cases_for_subject(original).get()
    assert case.state == "resolved"
    assert "typo in the invoice number" in case.resolution
    assert "data.invoice_id: INV-1042 → inv_x" in case.resolution
    row = case.history.first()
    assert (row.history_user, row.history_change_reason.startswith("resolved: corrected as")) == (
        actor,
        True,
    )
    superseded_row = original.history.first()
    assert superseded_row.state == "superseded" and superseded_row.history_user == actor
    assert "typo in the invoice number" in superseded_row.history_change_reason
    assert [r.history_type for r in copy.history.order_by("history_id")] == ["+", "~"]
    assert copy.history.first().history_user == actor


def test_correct_twice_with_same_payload_returns_the_first_copy(world, actor):
    original = quarantined_payment(actor)
    payload = {"data": corrected_data(original, invoice_id="inv_x")}
    first = event_correct(event=original, payload=payload, actor=actor, reason="typo")
    rows = original.history.count()
    again = event_correct(event=original, payload=payload, actor=actor, reason="typo")
    assert again.pk == first.pk
    assert FinanceEvent.objects.filter(corrects=original).count() == 1
    assert original.history.count() == rows


def test_correct_again_with_another_payload_is_refused(world, actor):
    original = quarantined_payment(actor)
    event_correct(
        event=original,
        payload={"data": corrected_data(original, invoice_id="inv_x")},
        actor=actor,
        reason="typo",
    )
    with pytest.raises(BillingError) as error:
        event_correct(
            event=original,
            payload={"data": corrected_data(original, invoice_id="INV-7")},
            actor=actor,
            reason="other",
        )
    assert error.value.code == "already_corrected"


def test_correct_invalid_payload_names_the_field_and_writes_nothing(world, actor):
    original = quarantined_payment(actor)
    events, rows = FinanceEvent.objects.count(), original.history.count()
    with pytest.raises(EventSchemaError) as error:
        event_correct(
            event=original,
            payload={"data": corrected_data(original, amount="12.345", currency="XXQ")},
            actor=actor,
            reason="wrong amount",
        )
    fields = {e.field for e in error.value.errors}
    assert {"data.currency"} <= fields
    original.refresh_from_db()
    assert original.state == FinanceEventState.QUARANTINED
    assert (FinanceEvent.objects.count(), original.history.count()) == (events, rows)
    assert cases_for_subject(original).get().state == "open"


def test_correct_refuses_identity_fields_blank_reason_and_no_change(world, actor):
    original = quarantined_payment(actor)
    with pytest.raises(EventSchemaError) as error:
        event_correct(event=original, payload={"type": "refund.issued"}, actor=actor, reason="x")
    assert [(e.field, e.code) for e in error.value.errors] == [("type", "not_correctable")]
    with pytest.raises(BillingError) as blank:
        event_correct(event=original, payload={}, actor=actor, reason="  ")
    assert blank.value.code == "reason_required"
    with pytest.raises(BillingError) as same:
        event_correct(event=original, payload={"data": original.data}, actor=actor, reason="x")
    assert same.value.code == "nothing_changed"
    assert FinanceEvent.objects.filter(corrects=original).count() == 0


def test_correct_of_an_applied_event_is_refused(world, actor):
    applied = event_ingest(body=event_body("payment.settled"), actor=actor).event
    with pytest.raises(BillingError) as error:
        event_correct(
            event=applied, payload={"data": corrected_data(applied, method="wire")}, actor=actor,
            reason="x",
        )  # fmt: skip
    assert error.value.code == "not_correctable"


def test_correct_still_failing_keeps_case_open_with_new_reason_and_a_comment(world, actor):
    original = quarantined_payment(actor)
    copy = event_correct(
        event=original,
        payload={"data": corrected_data(original, invoice_id="inv_x", currency="EUR")},
        actor=actor,
        reason="invoice number and currency were wrong",
    )
    assert (copy.state, copy.quarantine_reason) == ("quarantined", "currency_mismatch")
    cases = {c.kind: c for c in cases_for_subject(original)}
    assert cases["unknown_invoice"].state == "resolved"
    assert "no longer fails for unknown_invoice" in cases["unknown_invoice"].resolution
    open_case = cases["currency_mismatch"]
    assert open_case.state == "open"
    assert copy.event_id in open_case.title
    comment = CaseComment.objects.get(case=open_case)
    assert comment.author == actor
    assert "invoice number and currency were wrong" in comment.body
    assert "data.currency: USD → EUR" in comment.body

    # The chain goes on: the copy is corrected in turn, and the case follows to the end.
    second = event_correct(
        event=copy,
        payload={"data": corrected_data(copy, currency="USD")},
        actor=actor,
        reason="currency back to USD",
    )
    assert second.event_id == f"{original.event_id}~c2"
    assert (second.state, second.corrects_id) == ("applied", copy.pk)
    original.refresh_from_db()
    assert correction_head(original) == second
    open_case.refresh_from_db()
    assert open_case.state == "resolved"


def test_correct_same_reason_again_bumps_the_same_case(world, actor):
    original = quarantined_payment(actor)
    case = cases_for_subject(original).get()
    copy = event_correct(
        event=original,
        payload={"data": corrected_data(original, invoice_id="INV-1043")},
        actor=actor,
        reason="try the next number",
    )
    assert (copy.state, copy.quarantine_reason) == ("quarantined", "unknown_invoice")
    case.refresh_from_db()
    assert (case.state, case.occurrences) == ("open", 2)
    assert cases_for_subject(original).count() == 1
    assert AwaitedRecord.objects.get(event=copy).record_id == "INV-1043"
