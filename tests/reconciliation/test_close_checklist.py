"""The close checklist of one entity and period: each item's count and links, in the
selector, the API and its permission."""

import datetime as dt

import pytest

from billing.models import FinanceEvent
from erp_sync.models import SyncJob
from partners.models import Partner, Settlement
from reconciliation.choices import BreakState
from reconciliation.close import close_checklist
from reconciliation.models import Break
from reconciliation.periods import Period
from tests.reconciliation import kpi_data
from tests.reconciliation.factories import D

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]
MAY = Period.month(2026, 5)
IN_MAY = dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC)


def _items(checklist) -> dict:
    return {item.key: item for item in checklist.items}


def test_close_checklist_without_a_run_blocks_on_the_missing_run():
    month = kpi_data.build(run=False)

    items = _items(close_checklist(entity=month.entity, period=MAY))

    assert items["reconciliation_clean"].count == 1
    assert "no completed run" in items["reconciliation_clean"].records[0]["label"]


def test_close_checklist_open_breaks_block_until_accepted(finance_ops):
    month = kpi_data.build(actor=finance_ops)

    before = _items(close_checklist(entity=month.entity, period=MAY))["reconciliation_clean"]
    Break.objects.update(state=BreakState.ACCEPTED)
    after = _items(close_checklist(entity=month.entity, period=MAY))["reconciliation_clean"]

    assert before.count == 3
    assert {r["url"] for r in before.records} == {
        f"/reconciliation/breaks/{pk}/" for pk in Break.objects.values_list("pk", flat=True)
    }
    assert "state=open" in before.url and "entity=US01" in before.url
    assert after.ok


def test_close_checklist_counts_unapplied_events_of_the_period(finance_ops):
    month = kpi_data.build(actor=finance_ops)
    quarantined, received, applied = (month.invoices[n].event_id for n in ("ok", "off", "missing"))
    FinanceEvent.objects.filter(pk=quarantined).update(state="quarantined", received_at=IN_MAY)
    FinanceEvent.objects.filter(pk=received).update(state="received", received_at=IN_MAY)
    FinanceEvent.objects.filter(pk=applied).update(received_at=IN_MAY)

    item = _items(close_checklist(entity=month.entity, period=MAY))["events_applied"]

    assert item.count == 2
    assert sorted(r["url"] for r in item.records) == sorted(
        f"/billing/events/{pk}/" for pk in (quarantined, received)
    )
    assert item.url.startswith("/billing/events/?entity=US01&state=received&state=quarantined")


def test_close_checklist_counts_postings_not_posted(finance_ops):
    month = kpi_data.build(actor=finance_ops)
    for index, name in enumerate(("ok", "off")):
        SyncJob.objects.create(
            event=month.invoices[name].event, connection=month.connection,
            document_type="invoice", external_id=f"j{index}", created_at=IN_MAY,
        )  # fmt: skip
    SyncJob.objects.filter(external_id="j1").update(state="posted")

    item = _items(close_checklist(entity=month.entity, period=MAY))["postings_posted"]

    assert item.count == 1
    assert item.records[0]["url"] == f"/erp/jobs/{SyncJob.objects.get(external_id='j0').pk}/"


def test_close_checklist_counts_settlements_not_approved(finance_ops):
    month = kpi_data.build(actor=finance_ops)
    partner = Partner.objects.create(
        partner_id="ptn-1", name="P", kind="reseller", country="US", currency="USD",
        paying_entity=month.entity,
    )  # fmt: skip
    for currency, state in (("USD", "calculated"), ("EUR", "approved"), ("GBP", "paid")):
        Settlement.objects.create(
            partner=partner, period_start=MAY.start, period_end=MAY.end, currency=currency,
            total_amount=D("1.00"),
        )  # fmt: skip
        Settlement.objects.filter(currency=currency).update(state=state)

    item = _items(close_checklist(entity=month.entity, period=MAY))["settlements_approved"]

    assert item.count == 1
    assert "USD" in item.records[0]["label"]


def test_close_checklist_all_clear_is_ok(finance_ops):
    month = kpi_data.build(actor=finance_ops)
    Break.objects.update(state=BreakState.ACCEPTED)

    checklist = close_checklist(entity=month.entity, period=MAY)

    assert checklist.ok and checklist.blocking == 0


def test_get_close_checklist_answers_items_with_links(api_for_role, finance_ops):
    kpi_data.build(actor=finance_ops)
    api = api_for_role("auditor")

    response = api.get("/api/v1/close-checklist", {"entity": "US01", "period": "2026-05"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert [i["key"] for i in body["items"]] == [
        "events_applied", "postings_posted", "reconciliation_clean", "settlements_approved",
    ]  # fmt: skip
    clean = body["items"][2]
    assert (clean["count"], clean["ok"], body["ok"]) == (3, False, False)
    assert clean["url"].startswith("http://testserver/reconciliation/breaks/?")


def test_get_close_checklist_refuses_without_read_permission(make_user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(make_user("nobody"))

    response = api.get("/api/v1/close-checklist", {"entity": "US01", "period": "2026-05"})

    assert response.status_code == 403


def test_get_close_checklist_unknown_entity_is_400(api_for_role):
    response = api_for_role("auditor").get("/api/v1/close-checklist", {"entity": "XX"})

    assert response.status_code == 400
