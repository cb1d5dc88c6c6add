"""The usage scope: usage recorded vs usage invoiced per subscription and period.

Usage is billed in arrears: the usage of April (ending 2026-04-30) is on the invoice issued
2026-05-01, so a May run compares the usage ending 2026-04-30..2026-05-30 with the usage
lines of the invoices issued in May.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import reverse

from exceptions.models import Case
from reconciliation.choices import BreakKind, BreakState, RunScope, RunState
from reconciliation.models import Break, TotalsRow
from reconciliation.services.runs import run_execute, run_start
from reconciliation.tasks import run_execute_task
from tests.partners import factories as f
from tests.reconciliation.factories import MAY_END, MAY_START, ConnectionFactory

pytestmark = pytest.mark.django_db
D = Decimal


def usage(sub, quantity: str, *, price="0.01", start="2026-04-01", end="2026-04-30"):
    event = f.ingest(
        "usage.recorded",
        {
            "usage_id": f.next_id("use"),
            "subscription_id": sub.subscription_id,
            "meter": "api_calls",
            "quantity": quantity,
            "unit_price": price,
            "period_start": start,
            "period_end": end,
        },
        time=f"{end}T23:00:00Z",
    )
    assert event.state == "applied", event.quarantine_detail


def usage_invoice(sub, quantity: str, amount: str, *, on="2026-05-01", family="usage"):
    lines = [f.line("100.00"), f.line(amount, family=family, quantity=quantity)]
    return f.invoice(sub=sub, on=on, lines=lines)


def run_usage(entity, actor, today=dt.date(2026, 6, 3)):
    run = run_start(
        entity=entity, period_start=MAY_START, period_end=MAY_END, actor=actor,
        scope=RunScope.USAGE, today=today,
    )  # fmt: skip
    return run_execute(run_id=run.pk, actor=actor)


@pytest.fixture
def world():
    """Four subscriptions of US01: one agreeing (two usage records on one line), one not
    invoiced, one invoiced for a different quantity, one invoiced with no usage recorded;
    and usage outside the run's period that must not count."""
    entity = f.entity()
    buyer = f.customer()
    subs = {name: f.subscription(buyer=buyer) for name in ("ok", "uninvoiced", "qty", "ghost")}
    usage(subs["ok"], "1000", end="2026-04-15")
    usage(subs["ok"], "500", start="2026-04-16")
    usage_invoice(subs["ok"], "1500", "15.00")
    usage(subs["uninvoiced"], "300")
    usage(subs["qty"], "200")
    usage_invoice(subs["qty"], "250", "2.50")
    usage_invoice(subs["ghost"], "40", "0.40")
    # Outside May: usage of May (invoiced in June) and an invoice of April.
    usage(subs["ok"], "999", start="2026-05-01", end="2026-05-31")
    usage_invoice(subs["ok"], "7", "0.07", on="2026-04-01")
    ConnectionFactory(entity=entity)
    return entity, subs


def test_usage_run_finds_each_break_once_with_both_sides(world, make_user):
    entity, subs = world
    run = run_usage(entity, make_user("ops"))

    assert run.state == RunState.COMPLETED, run.failure_reason
    assert (run.break_count, run.matched_count) == (3, 1)
    totals = {t.subject: t for t in TotalsRow.objects.filter(run=run)}
    ok = totals[subs["ok"].subscription_id]
    assert (ok.expected_count, ok.expected_quantity, ok.expected_amount) == (2, D(1500), D(15))
    assert (ok.actual_count, ok.actual_quantity, ok.actual_amount) == (1, D(1500), D(15))
    found = {b.kind: b for b in Break.objects.filter(entity=entity, scope=RunScope.USAGE)}
    assert set(found) == {
        BreakKind.USAGE_NOT_INVOICED,
        BreakKind.QUANTITY_MISMATCH,
        BreakKind.USAGE_NOT_RECORDED,
    }
    missing = found[BreakKind.USAGE_NOT_INVOICED]
    assert missing.billing_number == subs["uninvoiced"].subscription_id
    assert (missing.billing_quantity, missing.billing_total_amount) == (D(300), D("3.00"))
    assert (missing.erp_number, missing.erp_total_amount) == ("", None)
    assert missing.difference_amount == D("-3.00")
    qty = found[BreakKind.QUANTITY_MISMATCH]
    assert (qty.billing_quantity, qty.erp_quantity) == (D(200), D(250))
    assert qty.difference_amount == D("0.50")
    ghost = found[BreakKind.USAGE_NOT_RECORDED]
    assert (ghost.erp_number, ghost.erp_quantity) == (subs["ghost"].subscription_id, D(40))
    assert ghost.billing_number == ""
    cases = Case.objects.filter(kind__startswith="reconciliation_usage_")
    assert cases.count() == 2
    assert Case.objects.filter(kind="reconciliation_quantity_mismatch").count() == 1


def test_usage_rerun_updates_and_a_fixed_subject_resolves_its_break_and_case(world, make_user):
    entity, subs = world
    actor = make_user("ops")
    run_usage(entity, actor)
    first = set(Break.objects.values_list("pk", flat=True))

    again = run_usage(entity, actor)

    assert set(Break.objects.values_list("pk", flat=True)) == first
    assert Break.objects.filter(last_seen_run=again).count() == 3
    # The missing usage gets invoiced: the break and its case resolve on the next run.
    usage_invoice(subs["uninvoiced"], "300", "3.00", on="2026-05-20")
    third = run_usage(entity, actor)

    item = Break.objects.get(kind=BreakKind.USAGE_NOT_INVOICED)
    assert (item.state, item.resolved_run) == (BreakState.RESOLVED, third)
    case = Case.objects.get(kind="reconciliation_usage_not_invoiced")
    assert case.state == "resolved"
    assert third.break_count == 2


def test_usage_amount_inside_tolerance_agrees_and_outside_breaks(make_user):
    entity = f.entity()
    buyer = f.customer()
    near, far = f.subscription(buyer=buyer), f.subscription(buyer=buyer)
    usage(near, "100", price="0.1")  # 10.00
    usage_invoice(near, "100", "10.01")  # one cent: inside the USD tolerance
    usage(far, "100", price="0.1")
    usage_invoice(far, "100", "10.02")  # two cents: outside
    ConnectionFactory(entity=entity)

    run = run_usage(entity, make_user("ops"))

    item = Break.objects.get(scope=RunScope.USAGE)
    assert (item.kind, item.billing_number) == (BreakKind.AMOUNT_MISMATCH, far.subscription_id)
    assert item.difference_amount == D("0.02")
    assert run.break_count == 1


def test_break_page_names_the_usage_sides(world, make_user, client):
    entity, _ = world
    run_usage(entity, make_user("ops"))
    item = Break.objects.get(kind=BreakKind.QUANTITY_MISMATCH)
    client.force_login(make_user("fin", "finance_ops"))

    page = client.get(reverse("reconciliation:break-detail", args=[item.pk])).content.decode()

    assert "Recorded" in page and "Invoiced" in page
    assert "quantity 200" in page and "quantity 250" in page


def test_run_page_counts_the_usage_subjects(world, make_user, client):
    entity, _ = world
    run = run_usage(entity, make_user("ops"))
    client.force_login(make_user("fin", "finance_ops"))

    page = client.get(reverse("reconciliation:run-detail", args=[run.pk])).content.decode()

    assert "3 usage subjects recorded, 3 invoiced" in page
    assert "1 agree, 3 breaks" in page


def test_api_starts_a_usage_run_that_completes_with_its_breaks(
    world, api_for_role, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(
        "reconciliation.services.runs.run_enqueue",
        lambda run_id: transaction.on_commit(lambda: run_execute_task(run_id=run_id)),
    )
    api = api_for_role("finance_ops")
    body = {"entity": "US01", "period": "2026-05", "scope": "usage"}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/reconciliation-runs", body, format="json")
    assert response.status_code == 202, response.content

    run = api.get(f"/api/v1/reconciliation-runs/{response.json()['id']}").json()
    breaks = api.get(f"/api/v1/reconciliation-runs/{run['id']}/breaks").json()["results"]

    assert (run["scope"], run["state"], run["break_count"]) == ("usage", "completed", 3)
    assert {b["kind"] for b in breaks} == {
        "usage_not_invoiced", "quantity_mismatch", "usage_not_recorded",
    }  # fmt: skip


def test_credited_usage_nets_the_invoiced_side(make_user):
    """A credit note on a usage line counts against the usage invoiced, in its own period:
    correcting an over-billed quantity agrees again; crediting a usage line in full leaves
    the recorded usage uninvoiced."""
    entity = f.entity()
    buyer = f.customer()
    corrected, credited = f.subscription(buyer=buyer), f.subscription(buyer=buyer)
    usage(corrected, "200")
    over = usage_invoice(corrected, "250", "2.50")
    f.credit_note(of=over, on="2026-05-20", lines=[f.line("0.50", family="usage", quantity="50")])
    usage(credited, "300")
    whole = usage_invoice(credited, "300", "3.00")
    f.credit_note(of=whole, on="2026-05-21", lines=[f.line("3.00", family="usage", quantity="300")])
    ConnectionFactory(entity=entity)

    run = run_usage(entity, make_user("ops"))

    assert run.state == RunState.COMPLETED, run.failure_reason
    totals = {t.subject: t for t in TotalsRow.objects.filter(run=run)}
    assert (totals[corrected.subscription_id].actual_quantity,
            totals[corrected.subscription_id].actual_amount) == (D(200), D("2.00"))  # fmt: skip
    assert totals[credited.subscription_id].actual_amount == D("0.00")
    found = {b.billing_number: b.kind for b in Break.objects.filter(scope=RunScope.USAGE)}
    # Its lines were invoiced and credited back: 300 recorded against 0 billed.
    assert found == {credited.subscription_id: BreakKind.QUANTITY_MISMATCH}
