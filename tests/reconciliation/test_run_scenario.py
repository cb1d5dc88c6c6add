"""The seeded scenario against the sandbox ERP: every break kind found exactly, re-runs
idempotent, and fixing a cause resolves the break and its case on the next run."""

import pytest

from exceptions.models import Case
from reconciliation.choices import BreakState, MatchRule, MatchStatus, RunState
from reconciliation.models import Break, Match
from reconciliation.services.runs import run_execute, run_start
from tests.reconciliation import scenario
from tests.reconciliation.factories import MAY_END, MAY_START, erp_post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stateful_sandbox")]


def _run(connection, actor):
    run = run_start(
        entity=connection.entity, period_start=MAY_START, period_end=MAY_END, actor=actor
    )
    return run_execute(run_id=run.pk, actor=actor)


def _open_keys() -> set[str]:
    return set(Break.objects.exclude(state=BreakState.RESOLVED).values_list("key", flat=True))


def test_run_seeded_scenario_finds_every_injected_break_exactly(finance_ops):
    s = scenario.build()

    run = _run(s.connection, finance_ops)

    assert run.state == RunState.COMPLETED
    assert _open_keys() == s.expected
    assert run.break_count == len(s.expected)
    # Each break has one open case with its kind.
    cases = Case.objects.filter(kind__startswith="reconciliation_", state="open")
    assert sorted(c.kind for c in cases) == sorted(
        f"reconciliation_{b.kind}" for b in Break.objects.all()
    )


def test_run_seeded_scenario_matches_by_rule_and_only_suggests_the_recurring_pair(finance_ops):
    s = scenario.build()

    run = _run(s.connection, finance_ops)

    summary = Match.objects.filter(run=run, rule=MatchRule.SUMMARY_1N)
    assert {m.billing_row.number for m in summary} == {i.invoice_id for i in s.summary_invoices}
    assert {m.erp_row.kind for m in summary} == {"summary"}
    rekeyed = Match.objects.get(run=run, billing_row__number="INV-rekeyed")
    assert rekeyed.rule == MatchRule.DOCUMENT_NUMBER
    suggested = Match.objects.filter(run=run, status=MatchStatus.SUGGESTED)
    assert {(m.billing_row.number, m.erp_row.external_id) for m in suggested} == {
        ("INV-rec-3", "manual:rec-3"),
        ("INV-rec-17", "manual:rec-17"),
    }
    paired_recurring = Match.objects.filter(
        run=run, billing_row__number__startswith="INV-rec", status=MatchStatus.MATCHED
    )
    assert not paired_recurring.exists()
    assert run.suggested_count == 2


def test_run_again_unchanged_updates_breaks_and_bumps_cases(finance_ops):
    s = scenario.build()
    first = _run(s.connection, finance_ops)
    breaks_before = dict(Break.objects.values_list("key", "pk"))
    cases_before = Case.objects.count()

    second = _run(s.connection, finance_ops)

    assert dict(Break.objects.values_list("key", "pk")) == breaks_before
    assert _open_keys() == s.expected
    assert Case.objects.count() == cases_before
    assert set(Case.objects.values_list("occurrences", flat=True)) == {2}
    assert set(Break.objects.values_list("first_seen_run", "last_seen_run")) == {
        (first.pk, second.pk)
    }
    item = Break.objects.get(key="amount_mismatch|invoice:INV-round-out")
    assert item.history.first().history_change_reason == f"found again by run #{second.pk}"


def test_run_after_missing_document_posted_resolves_break_and_case(finance_ops):
    s = scenario.build()
    _run(s.connection, finance_ops)
    missing = Break.objects.get(key="missing_in_erp|invoice:INV-missing")

    erp_post(s.connection, s.missing_invoice)  # the replayed posting reached the ERP
    third = _run(s.connection, finance_ops)

    missing.refresh_from_db()
    assert missing.state == BreakState.RESOLVED
    assert missing.resolved_run_id == third.pk
    case = Case.objects.get(subject_id=str(missing.pk), kind="reconciliation_missing_in_erp")
    assert case.state == "resolved"
    assert _open_keys() == s.expected - {missing.key}
