"""The finance KPIs of one entity and period: each figure against a known month."""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing.models import FinanceEvent, Payment
from erp_sync.models import SyncAttempt, SyncJob
from exceptions.models import Case
from partners.models import Partner, Settlement
from reconciliation import kpis as k
from reconciliation.choices import BreakKind
from reconciliation.models import Break
from reconciliation.periods import Period
from tests.reconciliation import kpi_data
from tests.reconciliation.factories import D, make_invoice, make_payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]
MAY = Period.month(2026, 5)


def _at(day: int, seconds: int = 0) -> dt.datetime:
    return dt.datetime(2026, 5, day, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)


def test_kpis_invoice_completeness_counts_posted_of_issued(finance_ops):
    month = kpi_data.build(actor=finance_ops)

    figures = k.kpis(entity=month.entity, period=MAY)

    assert figures["invoice_completeness"] == {"issued": 4, "posted": 3, "share": D("0.75")}


def test_kpis_invoice_accuracy_excludes_broken_unposted_and_credited(finance_ops):
    month = kpi_data.build(actor=finance_ops)

    figures = k.kpis(entity=month.entity, period=MAY)

    # Only INV-ok is posted, matched, never broken and never credited.
    assert figures["invoice_accuracy"] == {"invoices": 4, "accurate": 1, "share": D("0.25")}


def test_kpis_invoice_accuracy_without_a_completed_run_is_unknown(finance_ops):
    month = kpi_data.build(run=False)

    figures = k.kpis(entity=month.entity, period=MAY)

    assert figures["invoice_accuracy"]["accurate"] is None
    assert figures["reconciliation_completeness"]["run"] is None


def test_kpis_reconciliation_completeness_by_count_and_value(finance_ops):
    month = kpi_data.build(actor=finance_ops)

    figures = k.kpis(entity=month.entity, period=MAY)["reconciliation_completeness"]

    # 4 invoices + 1 credit note compared; ok, off and credited paired by a rule.
    assert (figures["run"], figures["documents"], figures["matched"]) == (month.run.pk, 5, 3)
    assert figures["share"] == D("0.6")
    assert figures["by_currency"] == {
        "USD": {"value": D("486.00"), "matched_value": D("324.00"), "share": D("0.6667")}
    }


def test_kpis_unreconciled_value_sums_open_differences_per_currency(finance_ops):
    month = kpi_data.build(actor=finance_ops)
    accepted = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)
    Break.objects.filter(pk=accepted.pk).update(state="accepted")

    figures = k.kpis(entity=month.entity, period=MAY)["unreconciled_value"]

    # missing INV-missing (-108.00) and its credit note... the accepted +0.50 is not open.
    assert figures == {
        "by_currency": {"USD": {"breaks": 2, "value": D("162.00")}},
        "breaks_without_amount": 0,
    }


def test_kpis_unreconciled_value_never_adds_currencies(finance_ops):
    month = kpi_data.build(actor=finance_ops)
    Break.objects.filter(kind=BreakKind.AMOUNT_MISMATCH).update(
        difference_currency="EUR", difference_amount=D("-3.25")
    )

    figures = k.kpis(entity=month.entity, period=MAY)["unreconciled_value"]["by_currency"]

    assert figures == {
        "EUR": {"breaks": 1, "value": D("3.25")},
        "USD": {"breaks": 2, "value": D("162.00")},
    }


def test_kpis_posting_latency_p50_p95_nearest_rank(finance_ops):
    month = kpi_data.build(run=False)
    for index, (name, seconds) in enumerate(
        [("ok", 10), ("off", 20), ("credited", 30), ("missing", 100)]
    ):
        event = month.invoices[name].event
        FinanceEvent.objects.filter(pk=event.pk).update(received_at=_at(10))
        SyncJob.objects.create(
            event=event, connection=month.connection, document_type="invoice",
            external_id=f"x{index}", posted_at=_at(10, seconds),
        )  # fmt: skip

    figures = k.kpis(entity=month.entity, period=MAY)["posting_latency"]

    assert figures == {"postings": 4, "p50_seconds": 20.0, "p95_seconds": 100.0}


def test_kpis_erp_rejected_ratio_counts_refusals_of_answered_attempts(finance_ops):
    month = kpi_data.build(run=False)
    job = SyncJob.objects.create(
        event=month.invoices["ok"].event, connection=month.connection,
        document_type="invoice", external_id="x",
    )  # fmt: skip
    for number, outcome in enumerate(["retry", "dead", "posted", "held"], start=1):
        SyncAttempt.objects.create(job=job, number=number, outcome=outcome, started_at=_at(3))
    SyncAttempt.objects.create(
        job=job, number=9, outcome="retry", started_at=_at(3) + dt.timedelta(days=40)
    )

    figures = k.kpis(entity=month.entity, period=MAY)["erp_rejected_ratio"]

    assert figures == {"requests": 3, "rejected": 2, "ratio": D("0.6667")}


def test_kpis_unapplied_cash_per_currency(finance_ops):
    month = kpi_data.build(run=False)
    usd = make_payment(invoice=month.invoices["ok"], amount="50.00")
    eur_invoice = make_invoice(
        entity=month.entity, currency="EUR", invoice_id="INV-eur", issue_date=dt.date(2026, 5, 2)
    )
    eur = make_payment(invoice=eur_invoice, amount="30.00")
    Payment.objects.filter(pk=usd.pk).update(allocated_amount=D("20.00"))
    Payment.objects.filter(pk=eur.pk).update(allocated_amount=D("0"))

    figures = k.kpis(entity=month.entity, period=MAY)["unapplied_cash"]

    assert figures == {
        "EUR": {"payments": 1, "value": D("30.00")},
        "USD": {"payments": 1, "value": D("30.00")},
    }


def test_kpis_duplicates_count_what_billing_stores(finance_ops):
    month = kpi_data.build(run=False)
    FinanceEvent.objects.filter(pk=month.invoices["ok"].event_id).update(
        quarantine_reason="duplicate_record", received_at=_at(4)
    )

    figures = k.kpis(entity=month.entity, period=MAY)["duplicate_events_rejected"]

    assert figures == {
        "deliveries_recorded": True,
        "rejected": 0,
        "duplicate_deliveries": 0,
        "conflicting_deliveries": 0,
        "duplicate_record_quarantined": 1,
    }


def _case(entity, *, severity="high", state="open", first_seen, resolved=None, n=[0]):
    n[0] += 1
    return Case.objects.create(
        kind="test", severity=severity, state=state, entity=entity.code, title="t",
        subject_type=ContentType.objects.get_for_model(Case), subject_id=f"s{n[0]}",
        first_seen_at=first_seen, resolved_at=resolved,
    )  # fmt: skip


def test_kpis_exception_backlog_by_severity_and_age(finance_ops):
    month = kpi_data.build(run=False)
    now = timezone.now()
    _case(month.entity, first_seen=now - dt.timedelta(hours=2))
    _case(month.entity, first_seen=now - dt.timedelta(days=3))
    _case(month.entity, severity="low", first_seen=now - dt.timedelta(days=10))
    _case(
        month.entity, severity="low", state="acknowledged", first_seen=now - dt.timedelta(days=45)
    )
    _case(month.entity, state="resolved", first_seen=now - dt.timedelta(days=45))

    figures = k.kpis(entity=month.entity, period=MAY, now=now)["exception_backlog"]

    assert figures["total"] == 4
    assert figures["by_severity"]["high"] == {
        "total": 2, "over_30d": 0, "7_30d": 0, "1_7d": 1, "under_1d": 1,
    }  # fmt: skip
    assert figures["by_severity"]["low"] == {
        "total": 2, "over_30d": 1, "7_30d": 1, "1_7d": 0, "under_1d": 0,
    }  # fmt: skip
    assert figures["by_severity"]["critical"]["total"] == 0


def test_kpis_mean_time_to_resolve_of_cases_resolved_in_the_period(finance_ops):
    month = kpi_data.build(run=False)
    _case(month.entity, state="resolved", first_seen=_at(1), resolved=_at(1, 3600))
    _case(month.entity, state="resolved", first_seen=_at(2), resolved=_at(2, 7200))
    _case(
        month.entity, state="resolved", first_seen=_at(2), resolved=_at(2) + dt.timedelta(days=40)
    )

    figures = k.kpis(entity=month.entity, period=MAY)["mean_time_to_resolve"]

    assert figures == {"resolved": 2, "mean_seconds": 5400.0}


def test_kpis_settlement_cycle_time_calculated_to_approved(finance_ops):
    month = kpi_data.build(run=False)
    partner = Partner.objects.create(
        partner_id="ptn-1", name="P", kind="reseller", country="US", currency="USD",
        paying_entity=month.entity,
    )  # fmt: skip
    for currency, hours in (("USD", 2), ("EUR", 4)):
        Settlement.objects.create(
            partner=partner, period_start=MAY.start, period_end=MAY.end, currency=currency,
            total_amount=D("10.00"), calculated_at=_at(31), approved_at=_at(31, hours * 3600),
        )  # fmt: skip

    figures = k.kpis(entity=month.entity, period=MAY)["settlement_cycle_time"]

    assert figures == {"approved": 2, "mean_seconds": 10800.0}


def test_kpis_close_cycle_exceptions_count_the_checklist_blockers(finance_ops):
    month = kpi_data.build(actor=finance_ops)

    figures = k.kpis(entity=month.entity, period=MAY)["close_cycle_exceptions"]

    # The run found 3 breaks (amount mismatch, two missing in the ERP), all open.
    assert figures["items"]["reconciliation_clean"] == 3
    assert figures["blocking"] == sum(figures["items"].values())


def test_kpis_of_another_entity_see_nothing_of_this_one(finance_ops):
    kpi_data.build(actor=finance_ops)
    other = kpi_data.LegalEntityFactory(code="DE01")

    figures = k.kpis(entity=other, period=MAY)

    assert figures["invoice_completeness"]["issued"] == 0
    assert figures["reconciliation_completeness"]["run"] is None
    assert figures["unreconciled_value"]["by_currency"] == {}


def test_kpis_query_count_does_not_grow_with_rows(finance_ops, django_assert_max_num_queries):
    month = kpi_data.build(actor=finance_ops)
    with django_assert_max_num_queries(25) as few:
        k.kpis(entity=month.entity, period=MAY)
    for index in range(15):
        kpi_data.invoice(month.entity, f"more-{index}")
    kpi_data.execute(month.entity, finance_ops)

    with django_assert_max_num_queries(len(few.captured_queries)):
        k.kpis(entity=month.entity, period=MAY)
