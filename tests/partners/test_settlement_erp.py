"""A settlement in the ERP: approval → settlement.approved (validated like any event) → a vendor
bill to the partner in the paying entity (sandbox here, Tryton in tests/erp_sync/tryton/),
posted once → the settlement is posted; payout.settled (event, service or API) → paid."""

import datetime as dt
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient

from billing import handlers as billing_handlers
from billing.choices import QuarantineReason
from billing.errors import QuarantineError
from billing.models import FinanceEvent
from billing.services.events import event_ingest, event_replay
from erp_sync.actors import system_actor
from erp_sync.choices import SyncJobState
from erp_sync.models import SandboxDocument, SandboxEntry, SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from exceptions.models import Case
from partners.choices import SettlementState
from partners.errors import SettlementError
from partners.services import settlements as svc
from tests.erp_sync.factories import (
    COMMISSION_EXPENSE,
    PARTNER_PAYABLE,
    ConnectionFactory,
    default_rules,
)
from tests.erp_sync.job_helpers import eager_celery  # noqa: F401 (fixture)
from tests.partners import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
S = SettlementState


@pytest.fixture
def approved(channel, django_capture_on_commit_callbacks):
    """A 250.00 USD settlement approved by a second channel manager, a sandbox connection for
    the paying entity US01 with the default rules; the approval's on-commit work (dispatch and
    the posting task) has run."""
    alice, bob = channel
    connection = ConnectionFactory(entity=f.entity())
    default_rules("US01")
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00"), f.line("250.00")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 15), currency="USD", actor=alice
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        settlement = svc.settlement_approve(settlement=settlement, actor=bob)
    return SimpleNamespace(
        settlement=settlement, seller=seller, alice=alice, bob=bob, connection=connection
    )


def _api(person) -> APIClient:
    api = APIClient()
    api.force_authenticate(person)
    return api


def _payout(p, *, amount="250.00", currency="USD", event_id="po-evt-1") -> FinanceEvent:
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": "treasury",
        "type": "payout.settled",
        "time": "2026-05-10T09:00:00Z",
        "entity": "US01",
        "data": {
            "payout_id": "po_1",
            "settlement_id": f"stl_{p.settlement.pk}",
            "partner_id": p.seller.partner_id,
            "amount": amount,
            "currency": currency,
            "paid_at": "2026-05-10T09:00:00Z",
            "reference": "BANK-42",
        },
    }
    return event_ingest(body=body, actor=None).event


def test_approval_posts_one_vendor_bill_to_partner_and_settlement_becomes_posted(approved):
    p = approved
    event = p.settlement.approved_event

    [job] = SyncJob.objects.filter(event=event)
    assert (job.connection, job.state) == (p.connection, SyncJobState.POSTED)
    document = SandboxDocument.objects.get(external_id=job.external_id)
    assert (document.kind, document.entity, document.party_code) == (
        "settlement",
        "US01",
        p.seller.partner_id,
    )
    assert document.total_amount == Decimal("250.00")
    entries = SandboxEntry.objects.filter(document=document)
    assert sorted((e.account, e.debit_amount, e.credit_amount) for e in entries) == sorted(
        [
            (COMMISSION_EXPENSE, Decimal("250.00"), Decimal("0")),
            (PARTNER_PAYABLE, Decimal("0"), Decimal("250.00")),
        ]
    )
    assert job.document["lines"][0]["account"] == COMMISSION_EXPENSE
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.POSTED
    assert p.settlement.history.first().history_change_reason == "vendor bill posted in the ERP"


def test_dispatch_and_replay_again_post_nothing_more_and_keep_settlement_posted(
    approved, django_capture_on_commit_callbacks
):
    p = approved
    event = p.settlement.approved_event

    with django_capture_on_commit_callbacks(execute=True):
        again = sync_jobs_create_for_event(event=event, actor=system_actor())
        event_replay(event=FinanceEvent.objects.get(pk=event.pk), actor=p.bob)

    assert SyncJob.objects.filter(event=event).count() == 1
    assert [job.state for job in again] in ([], [SyncJobState.POSTED])
    assert SandboxDocument.objects.filter(kind="settlement").count() == 1
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.POSTED


def test_approved_event_is_validated_by_billing_schema_with_source_concord(approved):
    event = approved.settlement.approved_event

    assert (event.source, event.type, event.state) == ("concord", "settlement.approved", "applied")
    assert event.data["total"] == "250.00"
    assert sum(Decimal(line["amount"]) for line in event.data["lines"]) == Decimal("250.00")


def test_settlement_approved_from_outside_concord_is_refused_as_malformed(api_with_scopes):
    body = {
        "specversion": "1.0",
        "id": "forged-1",
        "source": "billing-platform",
        "type": "settlement.approved",
        "time": "2026-05-10T09:00:00Z",
        "entity": "US01",
        "data": {
            "settlement_id": "stl_1",
            "partner_id": "ptn_1",
            "period_start": "2026-04-01",
            "period_end": "2026-04-30",
            "currency": "USD",
            "total": "1.00",
            "lines": [{"line_id": "1", "kind": "accrual", "source_ref": "x", "amount": "1.00"}],
        },
    }

    answer = api_with_scopes("events:write").post(
        "/api/v1/events", data=json.dumps(body), content_type="application/json"
    )

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "source"
    assert not FinanceEvent.objects.filter(event_id="forged-1").exists()


def test_payout_settled_event_marks_posted_settlement_paid_once(approved):
    p = approved

    first = _payout(p)
    second = _payout(p, event_id="po-evt-2")

    assert (first.state, second.state) == ("applied", "applied")
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.PAID
    reasons = [h.history_change_reason for h in p.settlement.history.all()]
    assert reasons.count("paid: BANK-42") == 1


@pytest.mark.parametrize(("amount", "currency"), [("249.99", "USD"), ("250.00", "EUR")])
def test_payout_of_other_amount_or_currency_is_quarantined_and_settlement_stays_posted(
    approved, amount, currency
):
    p = approved

    event = _payout(p, amount=amount, currency=currency)

    assert event.state == "quarantined"
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.POSTED


def test_pay_api_with_reference_emits_payout_and_marks_paid(approved):
    p = approved

    answer = _api(p.alice).post(
        f"/api/v1/settlements/{p.settlement.pk}/pay",
        {"reference": "BANK-7", "paid_at": "2026-05-11T10:00:00Z"},
        format="json",
    )

    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == "paid"
    payout = FinanceEvent.objects.get(type="payout.settled")
    assert (payout.source, payout.state, payout.entity) == ("concord", "applied", "US01")
    assert payout.data["reference"] == "BANK-7"
    assert payout.data["amount"] == "250.00"
    assert payout.data["paid_at"] == "2026-05-11T10:00:00Z"


def test_pay_api_without_reference_is_400_and_needs_settlements_write_scope(
    approved, api_with_scopes
):
    p = approved
    url = f"/api/v1/settlements/{p.settlement.pk}/pay"

    missing = _api(p.alice).post(url, {}, format="json")
    read_only = api_with_scopes("read").post(url, {"reference": "B-1"}, format="json")
    auditor = _api(f.user("aud", "auditor")).post(url, {"reference": "B-1"}, format="json")

    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "reference"
    assert (read_only.status_code, auditor.status_code) == (403, 403)
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.POSTED
    assert not FinanceEvent.objects.filter(type="payout.settled").exists()


def test_mark_paid_of_submitted_settlement_is_refused_and_emits_nothing(channel):
    alice, _ = channel
    seller = f.partner()
    f.agreement(of=seller)
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 15), currency="USD", actor=alice
    )

    with pytest.raises(SettlementError) as refused:
        svc.settlement_mark_paid(settlement=settlement, actor=alice, reference="B-1")

    assert refused.value.code == "illegal_transition"
    assert not FinanceEvent.objects.filter(type="payout.settled").exists()


def _payment_refuses(monkeypatch) -> None:
    """The payment side refuses the payout: its `payout.settled` cannot be applied (the
    handler quarantines it, as it does for any payout that does not fit its settlement)."""

    def refuse(event, envelope, actor):
        scope = {"entity": envelope.entity, "partner": envelope.data["partner_id"]}
        raise QuarantineError(QuarantineReason.CONFLICT, "the bank returned the payment", scope)

    monkeypatch.setitem(billing_handlers._HANDLERS, "payout.settled", refuse)


def test_payout_refused_leaves_the_settlement_posted_without_event_case_or_paid_history(
    approved, monkeypatch
):
    p = approved
    history_before = list(p.settlement.history.values_list("history_id", flat=True))
    _payment_refuses(monkeypatch)

    with pytest.raises(SettlementError) as refused:
        svc.settlement_mark_paid(settlement=p.settlement, actor=p.alice, reference="BANK-9")
    answer = _api(p.alice).post(
        f"/api/v1/settlements/{p.settlement.pk}/pay", {"reference": "BANK-9"}, format="json"
    )

    assert refused.value.code == "payout_refused"
    assert "the bank returned the payment" in refused.value.message
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["code"] == "payout_refused"
    # Nothing is kept: the settlement is still posted with the same history, and neither
    # the payout event nor a case for it was left behind (one transaction, rolled back).
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.POSTED
    assert list(p.settlement.history.values_list("history_id", flat=True)) == history_before
    assert not FinanceEvent.objects.filter(type="payout.settled").exists()
    assert not Case.objects.filter(partner=p.seller.partner_id).exists()

    # Once the payment goes through, the same reference pays it, once.
    monkeypatch.undo()
    settlement = svc.settlement_mark_paid(
        settlement=p.settlement, actor=p.alice, reference="BANK-9"
    )
    assert settlement.state == S.PAID
    reasons = [h.history_change_reason for h in settlement.history.all()]
    assert reasons.count("paid: BANK-9") == 1


def test_payout_event_refused_from_outside_is_quarantined_with_a_case_and_changes_nothing(
    approved,
):
    p = approved
    history_before = p.settlement.history.count()

    event = _payout(p, amount="249.99")

    assert event.state == "quarantined"
    case = Case.objects.get(partner=p.seller.partner_id)
    assert case.kind == "conflict" and "249.99" in case.title + str(case.detail)
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.POSTED
    assert p.settlement.history.count() == history_before
    # A corrected payout pays it; the refused one stays quarantined with its case.
    assert _payout(p, event_id="po-evt-2").state == "applied"
    p.settlement.refresh_from_db()
    assert p.settlement.state == S.PAID
