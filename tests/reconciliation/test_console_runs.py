"""Console pages of runs: the list with its start form, starting a run, the run page and
its progress partial (polled while active), permissions and query counts."""

import pytest
from django.urls import reverse

from reconciliation.choices import RunState
from reconciliation.models import ReconciliationRun
from reconciliation.services.runs import run_start
from tests.reconciliation import kpi_data
from tests.reconciliation.factories import MAY_END, MAY_START

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]
LIST = "/reconciliation/runs/"


@pytest.fixture
def signed_in(client, finance_ops):
    client.force_login(finance_ops)
    return client


def test_run_list_shows_runs_and_the_start_form(signed_in, finance_ops):
    month = kpi_data.build(actor=finance_ops)

    response = signed_in.get(LIST)

    assert response.status_code == 200
    assert f'data-run-id="{month.run.pk}"' in response.content.decode()
    assert 'data-testid="run-start"' in response.content.decode()


def test_run_list_auditor_sees_no_start_form(client, make_user):
    client.force_login(make_user("aud", "auditor"))

    response = client.get(LIST)

    assert response.status_code == 200
    assert 'data-testid="run-start"' not in response.content.decode()


def test_run_list_without_permission_is_403(client, make_user):
    client.force_login(make_user("nobody"))

    assert client.get(LIST).status_code == 403


def test_run_start_post_queues_a_run_and_shows_it(signed_in):
    kpi_data.build(run=False)

    response = signed_in.post(
        reverse("reconciliation:run-start"),
        {"entity": "US01", "period": "2026-05", "scope": "documents"},
    )

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reconciliation:run-detail", args=[run.pk])
    assert (run.period_start, run.period_end, run.state) == (MAY_START, MAY_END, "queued")


def test_run_start_post_refused_says_why(signed_in):
    kpi_data.LegalEntityFactory(code="US01")  # no connection

    response = signed_in.post(
        reverse("reconciliation:run-start"),
        {"entity": "US01", "period": "2026-05", "scope": "documents"},
        follow=True,
    )

    assert ReconciliationRun.objects.count() == 0
    assert "no active ERP connection" in response.content.decode()


def test_run_start_post_auditor_is_403(client, make_user):
    kpi_data.build(run=False)
    client.force_login(make_user("aud", "auditor"))

    response = client.post(reverse("reconciliation:run-start"), {"entity": "US01"})

    assert response.status_code == 403
    assert ReconciliationRun.objects.count() == 0


def test_run_detail_active_run_polls_its_progress(signed_in, finance_ops):
    month = kpi_data.build(run=False)
    run = run_start(entity=month.entity, period_start=MAY_START, period_end=MAY_END, actor=None)

    page = signed_in.get(reverse("reconciliation:run-detail", args=[run.pk])).content.decode()
    partial = signed_in.get(reverse("reconciliation:run-progress", args=[run.pk]) + "?poll=1")

    assert 'hx-trigger="every 2s"' in page
    assert 'hx-trigger="every 2s"' in partial.content.decode()
    assert "HX-Refresh" not in partial


def test_run_progress_finished_run_stops_polling_and_refreshes(signed_in, finance_ops):
    month = kpi_data.build(actor=finance_ops)
    assert month.run.state == RunState.COMPLETED

    partial = signed_in.get(reverse("reconciliation:run-progress", args=[month.run.pk]) + "?poll=1")
    page = signed_in.get(reverse("reconciliation:run-detail", args=[month.run.pk]))

    assert partial["HX-Refresh"] == "true"
    assert "hx-trigger" not in partial.content.decode()
    assert 'data-testid="run-links"' in page.content.decode()


def test_run_detail_unknown_is_404(signed_in):
    assert signed_in.get(reverse("reconciliation:run-detail", args=[999])).status_code == 404


def test_run_list_query_count_same_for_many_runs(
    signed_in, finance_ops, django_assert_max_num_queries
):
    month = kpi_data.build(actor=finance_ops)
    with django_assert_max_num_queries(50) as few:
        signed_in.get(LIST)
    for _ in range(6):
        kpi_data.execute(month.entity, finance_ops)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = signed_in.get(LIST)

    assert response.content.decode().count("data-run-id=") == 7
