"""A person's decisions: suggested matches confirmed or rejected (in bulk), breaks accepted
with a note; each resolves what it settles and carries over to the next run."""

import pytest

from exceptions.models import Case
from reconciliation.choices import BreakState, MatchStatus, RunState
from reconciliation.errors import ReconciliationError
from reconciliation.models import Break, Match
from reconciliation.services.breaks import break_accept
from reconciliation.services.matches import suggestions_confirm, suggestions_reject
from reconciliation.services.runs import run_execute, run_start
from tests.reconciliation import scenario
from tests.reconciliation.factories import MAY_END, MAY_START

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


def _run(connection, actor):
    run = run_start(
        entity=connection.entity, period_start=MAY_START, period_end=MAY_END, actor=actor
    )
    return run_execute(run_id=run.pk, actor=actor)


def _recurring_keys(day: int) -> list[str]:
    return [
        f"missing_in_erp|invoice:INV-rec-{day}",
        *Break.objects.filter(key__startswith=f"missing_in_billing|erp:manual:rec-{day}|")
        .values_list("key", flat=True),
    ]  # fmt: skip


def test_suggestions_confirm_bulk_resolves_missing_breaks_and_pairs_next_run(finance_ops):
    s = scenario.build()
    run = _run(s.connection, finance_ops)
    suggested = list(Match.objects.filter(run=run, status=MatchStatus.SUGGESTED))

    suggestions_confirm(matches=suggested, actor=finance_ops, note="same monthly fee")

    assert set(Match.objects.filter(run=run).values_list("status", flat=True)) >= {
        MatchStatus.CONFIRMED
    }
    keys = _recurring_keys(3) + _recurring_keys(17)
    assert set(Break.objects.filter(key__in=keys).values_list("state", flat=True)) == {
        BreakState.RESOLVED
    }
    cases = Case.objects.filter(
        subject_id__in=[str(b.pk) for b in Break.objects.filter(key__in=keys)]
    )
    assert set(cases.values_list("state", flat=True)) == {"resolved"}
    nxt = _run(s.connection, finance_ops)
    carried = Match.objects.filter(run=nxt, status=MatchStatus.CONFIRMED)
    assert {m.billing_row.number for m in carried} == {"INV-rec-3", "INV-rec-17"}
    assert {m.decided_by for m in carried} == {finance_ops}
    assert set(Break.objects.filter(key__in=keys).values_list("state", flat=True)) == {
        BreakState.RESOLVED
    }


def test_suggestions_reject_never_suggested_again(finance_ops):
    s = scenario.build()
    run = _run(s.connection, finance_ops)
    suggested = list(Match.objects.filter(run=run, status=MatchStatus.SUGGESTED))

    suggestions_reject(matches=[m.pk for m in suggested], actor=finance_ops, note="different")

    nxt = _run(s.connection, finance_ops)
    assert nxt.state == RunState.COMPLETED
    assert not Match.objects.filter(run=nxt, status=MatchStatus.SUGGESTED).exists()
    assert set(
        Break.objects.filter(key__in=_recurring_keys(3)).values_list("state", flat=True)
    ) == {BreakState.OPEN}


def test_suggestions_confirm_rule_match_refused(finance_ops):
    s = scenario.build()
    run = _run(s.connection, finance_ops)
    matched = Match.objects.filter(run=run, status=MatchStatus.MATCHED).first()

    with pytest.raises(ReconciliationError) as refused:
        suggestions_confirm(matches=[matched], actor=finance_ops)

    assert refused.value.code == "illegal_transition"


def test_break_accept_with_note_resolves_case_and_stays_accepted_on_rerun(finance_ops):
    s = scenario.build()
    _run(s.connection, finance_ops)
    item = Break.objects.get(key="tax_mismatch|invoice:INV-tax")

    accepted = break_accept(item=item, note="ERP rounds tax per line", actor=finance_ops)

    assert accepted.state == BreakState.ACCEPTED
    row = accepted.history.first()
    assert (row.history_user, row.history_change_reason) == (
        finance_ops,
        "accepted: ERP rounds tax per line",
    )
    case = Case.objects.get(subject_id=str(item.pk), kind="reconciliation_tax_mismatch")
    assert case.state == "resolved"
    _run(s.connection, finance_ops)
    item.refresh_from_db()
    case.refresh_from_db()
    assert (item.state, case.state) == (BreakState.ACCEPTED, "resolved")


def test_break_accept_without_note_refused(finance_ops):
    s = scenario.build()
    _run(s.connection, finance_ops)
    item = Break.objects.get(key="tax_mismatch|invoice:INV-tax")

    with pytest.raises(ReconciliationError) as refused:
        break_accept(item=item, note="  ", actor=finance_ops)

    assert refused.value.code == "note_required"
