"""The dashboard's live figures (reconciliation:dashboard, loaded into home.html by htmx):
one panel per kind of record, each shown only with that record's view permission; every
number links to its list filtered to exactly those records; a bounded number of queries."""

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from erp_sync.models import SyncJob
from partners.models import Settlement
from reconciliation.dashboard import PANELS
from reconciliation.models import Break
from reconciliation.selectors import open_break_counts
from tests.erp_sync.factories import ConnectionFactory, FinanceEventFactory, PartnerFactory
from tests.exceptions.factories import CaseFactory

pytestmark = pytest.mark.django_db

URL = reverse("reconciliation:dashboard")
ALL_PANELS = ["backlog", "postings", "latency", "duplicates", "settlements", "breaks"]


def _user_with(make_user, name, *codes):
    user = make_user(name)
    for code in codes:
        app_label, codename = code.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def _panels(response) -> list[str]:
    return re.findall(r'data-testid="panel-([a-z]+)"', response.content.decode())


def _job(connection, state, **fields):
    return SyncJob.objects.create(
        event=FinanceEventFactory(),
        connection=connection,
        document_type="invoice",
        external_id=f"x-{SyncJob.objects.count()}",
        state=state,
        **fields,
    )


def _world(cases=3, jobs=3):
    now = timezone.now()
    for index in range(cases):
        CaseFactory(
            kind=["unknown_customer", "mapping_missing"][index % 2],
            severity=["high", "critical", "low"][index % 3],
            first_seen_at=now - dt.timedelta(hours=index * 20),
        )
    connection = ConnectionFactory()
    for index in range(jobs):
        state = ["posted", "dead", "held"][index % 3]
        _job(
            connection,
            state,
            posted_at=now if state == "posted" else None,
            created_at=now - dt.timedelta(seconds=30),
            hold_reason="paused" if state == "held" else "",
        )
    Settlement.objects.create(
        partner=PartnerFactory(),
        period_start=dt.date(2026, 5, 1),
        period_end=dt.date(2026, 5, 31),
        currency="USD",
    )
    return connection


def test_dashboard_finance_ops_sees_every_panel_and_the_time(client, make_user):
    _world()
    client.force_login(make_user("olivia", "finance_ops"))

    response = client.get(URL)

    assert response.status_code == 200
    assert _panels(response) == ALL_PANELS
    body = response.content.decode()
    assert 'hx-trigger="every 30s"' in body
    assert re.search(r"As of <time datetime=\"[^\"]+\">", body)
    # Each chart's data travels as JSON beside its canvas, never as a script to run.
    assert 'type="application/json"' in body
    assert "<script>" not in body


@pytest.mark.parametrize(
    ("codes", "panels"),
    [
        (["exceptions.view_case"], ["backlog"]),
        (["erp_sync.view_syncjob"], ["postings", "latency"]),
        (["billing.view_financeevent"], ["duplicates"]),
        (["partners.view_settlement"], ["settlements"]),
        (["reconciliation.view_break", "exceptions.view_case"], ["backlog", "breaks"]),
    ],
)
def test_dashboard_shows_only_the_panels_of_the_records_one_may_view(
    client, make_user, codes, panels
):
    _world()
    client.force_login(_user_with(make_user, "someone", *codes))

    response = client.get(URL)

    assert response.status_code == 200
    assert _panels(response) == panels


def test_dashboard_every_panel_names_an_existing_permission():
    for _, permission, _ in PANELS:
        app_label, codename = permission.split(".")
        assert Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists(), permission


@pytest.mark.parametrize("role", ["partner", None])
def test_dashboard_without_any_panel_is_refused(client, make_user, role):
    client.force_login(make_user("p", *([role] if role else [])))

    assert client.get(URL).status_code == 403


def test_dashboard_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_home_loads_the_figures_only_for_someone_who_may_see_a_panel(client, make_user):
    client.force_login(make_user("olivia", "finance_ops"))
    assert 'data-testid="dashboard-slot"' in client.get("/").content.decode()

    client.force_login(make_user("pat", "partner"))
    assert 'data-testid="dashboard-slot"' not in client.get("/").content.decode()


def _figure(response, figure_id):
    for panel in response.context["panels"]:
        for figure in panel.figures:
            if figure.id == figure_id:
                return figure
    raise AssertionError(f"no figure {figure_id}")


def test_dashboard_backlog_links_open_the_queue_filtered_to_those_cases(client, make_user):
    _world(cases=6)
    client.force_login(make_user("olivia", "finance_ops"))
    response = client.get(URL)

    checked = 0
    for figure_id, key in [("backlog-kind", "kind"), ("backlog-age", "age")]:
        for row in _figure(response, figure_id).table_rows:
            for severity, cell in row["cells"]:
                query = parse_qs(urlsplit(cell.url).query)
                assert urlsplit(cell.url).path == reverse("exceptions:case-list")
                assert query["state"] == ["open", "acknowledged"]
                assert query["severity"] == [severity]
                assert key in query
                queue = client.get(cell.url).content.decode()
                assert queue.count("<tr data-case-id=") == cell.value, cell.url
                checked += cell.value
            total = client.get(row["total"].url).content.decode()
            assert total.count("<tr data-case-id=") == row["total"].value
    assert checked == 12  # every case counted once by kind and once by age


def test_dashboard_posting_links_open_the_jobs_filtered_by_state_and_connection(client, make_user):
    connection = _world(jobs=5)
    client.force_login(make_user("olivia", "finance_ops"))
    response = client.get(URL)

    row = _figure(response, "postings").table_rows[0]
    cells = dict(row["cells"])
    assert parse_qs(urlsplit(cells["dead"].url).query) == {
        "state": ["dead"],
        "connection": [str(connection.pk)],
    }
    jobs = client.get(cells["posted"].url).content.decode()
    assert jobs.count("<tr data-job-id=") == cells["posted"].value == 2
    summary = dict(next(p for p in response.context["panels"] if p.key == "postings").summary)
    assert (summary["Dead"].value, summary["Held"].value) == (2, 1)
    held = client.get(summary["Held"].url).content.decode()
    assert held.count("<tr data-job-id=") == 1
    latency = _figure(response, "latency").table_rows[0]
    assert latency["total"].value == 2
    posted = client.get(latency["total"].url).content.decode()
    assert posted.count("<tr data-job-id=") == 2


def test_dashboard_other_links_carry_their_lists_filters(client, make_user):
    _world()
    client.force_login(make_user("olivia", "finance_ops"))
    response = client.get(URL)
    panels = {p.key: p for p in response.context["panels"]}

    quarantined = dict(panels["duplicates"].summary)["Quarantined as duplicate records"]
    assert parse_qs(urlsplit(quarantined.url).query) == {
        "state": ["quarantined"],
        "quarantine_reason": ["duplicate_record"],
    }
    assert client.get(quarantined.url).status_code == 200
    draft = dict(_figure(response, "settlements").rows)["Draft"][0]
    assert (draft.value, draft.url) == (1, reverse("partners:settlement-list") + "?state=draft")
    assert client.get(draft.url).status_code == 200
    breaks = dict(panels["breaks"].summary)["Open"]
    assert breaks.url == reverse("reconciliation:break-list") + "?state=open"


def test_dashboard_queries_do_not_grow_with_rows(client, make_user, django_assert_max_num_queries):
    client.force_login(make_user("olivia", "finance_ops"))
    _world(cases=2, jobs=3)
    with django_assert_max_num_queries(20) as few:
        client.get(URL)

    _world(cases=40, jobs=30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert response.status_code == 200


def test_open_break_counts_by_kind(finance_ops):
    from tests.reconciliation import kpi_data

    kpi_data.build(actor=finance_ops)
    accepted = Break.objects.filter(state="open").first()
    Break.objects.filter(pk=accepted.pk).update(state="accepted")

    counts = {row["kind"]: row["count"] for row in open_break_counts()}

    expected = {}
    for kind in Break.objects.filter(state="open").values_list("kind", flat=True):
        expected[kind] = expected.get(kind, 0) + 1
    assert counts == expected
    assert sum(counts.values()) == Break.objects.count() - 1
