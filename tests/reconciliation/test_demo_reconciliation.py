"""`make demo` ends with last month reconciled: per entity a completed run of every scope,
the documents run showing the breaks made on purpose in the sandbox ERP, their cases, and
the KPIs on the dashboard. A second seed changes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase
from django.urls import reverse

from billing.demo.setup import demo_anchor
from config.celery import app as celery_app
from exceptions.models import Case
from reconciliation.choices import BreakKind, RunScope, RunState
from reconciliation.demo import AMOUNT_CHANGE, MANUAL_TOTAL
from reconciliation.models import Break, ReconciliationRun
from reconciliation.periods import Period

pytestmark = pytest.mark.django_db
ENTITIES = ("DE01", "UK01", "US01")


def _seed() -> tuple[str, str, int]:
    call_command("seed_erp_demo", stdout=StringIO())
    # The on-commit work runs as in production, so the demo's documents get posted.
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("seed_demo", "--scale", "0.1", stdout=StringIO())
    call_command("seed_partners_demo", stdout=StringIO())
    out = StringIO()
    call_command("seed_recon_demo", stdout=out)
    runs = ReconciliationRun.objects.count()
    again = StringIO()
    call_command("seed_recon_demo", stdout=again)
    return out.getvalue(), again.getvalue(), runs


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    # `make demo` without a broker: tasks (the postings) run inline, also when the tests
    # have REDIS_URL set.
    eager = celery_app.conf.task_always_eager
    with django_db_blocker.unblock(), transaction.atomic():
        celery_app.conf.task_always_eager = True
        try:
            outcome = _seed()
        finally:
            celery_app.conf.task_always_eager = eager
        yield outcome
        transaction.set_rollback(True)


def test_demo_has_a_completed_run_per_entity_and_scope_of_last_month(seeded):
    _, second, runs = seeded
    period = Period.previous_month(demo_anchor())
    completed = ReconciliationRun.objects.filter(
        state=RunState.COMPLETED, period_start=period.start, period_end=period.end
    )
    assert sorted(completed.values_list("entity__code", "scope")) == [
        (code, scope) for code in ENTITIES for scope in sorted(RunScope.values)
    ]
    assert ReconciliationRun.objects.count() == runs == 9
    assert second == ""


def test_demo_documents_runs_find_the_breaks_made_in_the_sandbox(seeded):
    for code in ENTITIES:
        run = ReconciliationRun.objects.get(entity__code=code, scope=RunScope.DOCUMENTS)
        assert run.break_count > 0
        kinds = set(Break.objects.filter(last_seen_run=run).values_list("kind", flat=True))
        # UK01's postings of last month are held (closed period): missing in its ERP.
        made = {BreakKind.MISSING_IN_ERP, BreakKind.MISSING_IN_BILLING}
        if code != "UK01":
            made.add(BreakKind.AMOUNT_MISMATCH)
            changed = Break.objects.get(last_seen_run=run, kind=BreakKind.AMOUNT_MISMATCH)
            assert changed.difference_amount == AMOUNT_CHANGE
        assert made <= kinds, (code, kinds)
        manual = Break.objects.get(
            last_seen_run=run, kind=BreakKind.MISSING_IN_BILLING, erp_number=f"SBX-{code}-MANUAL-1"
        )
        assert manual.erp_total_amount == MANUAL_TOTAL
        assert Case.objects.filter(
            kind="reconciliation_missing_in_billing", entity=code, state="open"
        ).exists()


def test_demo_dashboard_panel_shows_last_months_runs_and_breaks(seeded, client, make_user):
    client.force_login(make_user("demo-fin", "finance_ops"))

    page = client.get(reverse("reconciliation:kpi-panel")).content.decode()

    for code in ENTITIES:
        run = ReconciliationRun.objects.get(entity__code=code, scope=RunScope.DOCUMENTS)
        assert f"(run #{run.pk})" in page
    assert page.count('data-kpi="unreconciled_value"') == 3
    assert "none</td>" not in page.split('data-kpi="unreconciled_value"')[1].split("</tr>")[0]
