"""The guided fix of a missing mapping (issue 11): the case says what is missing, how much is
blocked and what happens if nobody acts; the rule form comes prefilled from the case with the
accounts of the connection's chart; the draft is previewed on a blocked document; saving goes
back to the case, whose blocked jobs replay as one bulk action; the case resolves when they
post."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from billing.choices import ErpStatus
from config.money_tags import money
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.choices import BulkActionState, DocumentType, SyncJobState
from erp_sync.mapping import resolve_rule
from erp_sync.models import MappingRule, SyncJob, SyncJobBulkAction
from erp_sync.selectors import connection_chart
from exceptions.models import Case, CaseState
from tests.erp_sync.factories import RECEIVABLE, REVENUE_SAAS, line, make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture
def blocked(django_capture_on_commit_callbacks):
    """Three US01 invoices of product family "support" that no rule maps: one case."""
    cache.clear()
    world = make_world()
    invoices = [
        make_invoice(lines=[line(amount, tax="0.00", family="support")])
        for amount in ("100.00", "250.00", "40.50")
    ]
    world["rules"][DocumentType.INVOICE].delete()
    for invoice in invoices:
        dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    case = Case.objects.get(kind="mapping_missing")
    return {**world, "invoices": invoices, "case": case}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rule_data(**changes) -> dict:
    data = {
        "name": "US01 invoices — support",
        "entity": "US01",
        "document_type": "invoice",
        "product_family": "support",
        "revenue_account": REVENUE_SAAS,
        "receivable_account": RECEIVABLE,
        "valid_from": "2026-05-01",
    }
    return {**data, **changes}


def test_guide_says_what_is_missing_how_much_is_blocked_and_offers_the_rule(blocked, make_user):
    admin = make_user("ines", "finance_ops", "integration_admin")
    case = blocked["case"]

    page = _client(admin).get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()

    assert 'data-testid="guide-mapping-missing"' in page
    assert "No invoice rule for US01 / support" in page
    total = money(Decimal("390.50"), "USD")
    assert f"3 invoices blocked, worth {total}, dated May 2026" in page
    assert "never reach the ledger of US01" in page
    assert "May 2026 cannot close" in page
    assert f'href="/erp/rules/new?case={case.pk}"' in page
    assert 'data-testid="guide-replay"' not in page  # no rule maps them yet


def test_without_rule_add_permission_no_create_button_and_forced_requests_are_403(
    blocked, make_user
):
    ops = _client(make_user("olga", "finance_ops"))
    case = blocked["case"]

    page = ops.get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()
    url = f"{reverse('erp_sync:rule-create')}?case={case.pk}"

    assert "No invoice rule for US01 / support" in page
    assert 'data-testid="guide-create-rule"' not in page
    assert 'data-testid="guide-ask"' in page
    assert ops.get(url).status_code == 403
    assert ops.post(url, _rule_data()).status_code == 403
    assert not MappingRule.objects.filter(product_family="support").exists()


def test_rule_form_from_the_case_is_prefilled_with_accounts_from_the_chart(blocked, make_user):
    admin = _client(make_user("ines", "integration_admin"))
    case = blocked["case"]

    response = admin.get(f"{reverse('erp_sync:rule-create')}?case={case.pk}")

    form = response.context["form"]
    assert form.initial["entity"] == "US01"
    assert form.initial["document_type"] == "invoice"
    assert form.initial["product_family"] == "support"
    assert str(form.initial["valid_from"]) == "2026-05-01"
    choices = dict(form.fields["revenue_account"].choices)
    assert choices[REVENUE_SAAS] == f"{REVENUE_SAAS} — SaaS revenue"
    assert choices[RECEIVABLE] == f"{RECEIVABLE} — Accounts receivable"
    page = response.content.decode()
    assert '<select name="revenue_account"' in page
    assert "No invoice rule for US01 / support" in page


def test_an_account_outside_the_chart_is_refused_by_the_form(blocked, make_user):
    admin = _client(make_user("ines", "integration_admin"))
    url = f"{reverse('erp_sync:rule-create')}?case={blocked['case'].pk}"

    response = admin.post(url, _rule_data(revenue_account="9999"))

    assert response.status_code == 200
    assert response.context["form"].errors["revenue_account"]
    assert not MappingRule.objects.filter(product_family="support").exists()


def test_draft_preview_shows_the_journal_lines_on_a_blocked_document_and_stores_nothing(
    blocked, make_user
):
    admin = _client(make_user("ines", "integration_admin"))
    case = blocked["case"]
    rules_before = MappingRule.objects.count()
    job = SyncJob.objects.order_by("pk").last()

    response = admin.post(
        f"{reverse('erp_sync:rule-draft-preview')}?case={case.pk}",
        {**_rule_data(), "sample": str(job.pk)},
        HTTP_HX_REQUEST="true",
    )

    page = response.content.decode()
    assert response.status_code == 200, page
    assert "balanced" in page and "NOT balanced" not in page
    rows = [" ".join(row.split()) for row in page.split("<tr>")[2:]]
    assert rows[0].startswith(
        f'<td><code>{RECEIVABLE}</code> Accounts receivable</td><td class="num">40.50</td>'
    )
    assert rows[1].startswith(f'<td><code>{REVENUE_SAAS}</code> SaaS revenue</td><td class="num">0')
    assert "this rule, not saved yet" in page
    assert f"invoice {blocked['invoices'][2].invoice_id}" in page
    assert MappingRule.objects.count() == rules_before
    job.refresh_from_db()
    assert job.state == SyncJobState.DEAD


def test_save_from_the_case_goes_back_to_it_offering_the_replay(blocked, make_user):
    admin = _client(make_user("ines", "finance_ops", "integration_admin"))
    case = blocked["case"]

    response = admin.post(f"{reverse('erp_sync:rule-create')}?case={case.pk}", _rule_data())

    assert response.status_code == 302
    assert response.url == reverse("exceptions:case-detail", args=[case.pk])
    page = admin.get(response.url).content.decode()
    assert "A rule maps them now." in page
    assert "Replay the 3 blocked jobs" in page
    assert reverse("erp_sync:case-jobs-replay", args=[case.pk]) in page


def test_replay_from_the_case_is_one_bulk_action_of_its_jobs_and_resolves_it(
    blocked, make_user, django_capture_on_commit_callbacks
):
    admin = make_user("ines", "finance_ops", "integration_admin")
    client = _client(admin)
    case = blocked["case"]
    other = make_invoice(lines=[line("10.00", family="saas")])  # posts: not in the case
    dispatch(other.event, capture=django_capture_on_commit_callbacks)
    client.post(f"{reverse('erp_sync:rule-create')}?case={case.pk}", _rule_data())
    blocked_ids = sorted(int(pk) for pk in case.items.values_list("subject_id", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("erp_sync:case-jobs-replay", args=[case.pk]))

    assert response.url == reverse("exceptions:case-detail", args=[case.pk])
    action = SyncJobBulkAction.objects.get()
    assert action.job_ids == blocked_ids
    assert action.scope == f"case #{case.pk}"
    assert action.requested_by == admin
    assert action.state == BulkActionState.COMPLETED
    assert action.counts["replayed"] == 3
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert case.history.filter(
        history_change_reason__startswith="resolved: all blocked records cleared: posted as"
    ).exists()
    for invoice in blocked["invoices"]:
        invoice.refresh_from_db()
        assert invoice.erp_status == ErpStatus.POSTED
    page = client.get(response.url).content.decode()
    assert 'data-testid="guide-done"' in page
    assert 'data-state="completed"' in page


def test_replay_from_the_case_needs_the_replay_permission(blocked, make_user):
    auditor = _client(make_user("audrey", "auditor"))
    case = blocked["case"]

    response = auditor.post(reverse("erp_sync:case-jobs-replay", args=[case.pk]))

    assert response.status_code == 403
    assert not SyncJobBulkAction.objects.exists()


def test_rule_form_with_another_kind_of_case_is_404(blocked, make_user):
    admin = _client(make_user("ines", "integration_admin"))
    other = Case.objects.create(
        kind="erp_unavailable",
        severity="high",
        subject=blocked["connection"],
        cause_key="x",
        title="down",
    )

    assert admin.get(f"{reverse('erp_sync:rule-create')}?case={other.pk}").status_code == 404


def test_chart_is_read_through_the_adapter_and_cached(blocked, monkeypatch):
    connection = blocked["connection"]
    calls = []
    original = SandboxAdapter.chart_of_accounts

    def counted(adapter):
        calls.append(1)
        return original(adapter)

    monkeypatch.setattr(SandboxAdapter, "chart_of_accounts", counted)

    first = connection_chart(connection)
    again = connection_chart(connection)

    assert [a.code for a in first] == sorted(a.code for a in first)
    assert again == first
    assert len(calls) == 1


def test_sandbox_chart_leaves_out_the_accounts_it_rejects(blocked):
    connection = blocked["connection"]
    connection.settings = {"reject_accounts": [RECEIVABLE]}

    codes = {account.code for account in SandboxAdapter(connection).chart_of_accounts()}

    assert REVENUE_SAAS in codes and RECEIVABLE not in codes


def test_a_rule_without_the_account_is_offered_for_revision(
    make_user, django_capture_on_commit_callbacks
):
    world = make_world()
    rule = world["rules"][DocumentType.INVOICE]
    MappingRule.objects.filter(pk=rule.pk).update(revenue_account="")
    invoice = make_invoice()
    dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    case = Case.objects.get(kind="mapping_missing")
    admin = _client(make_user("ines", "integration_admin"))

    page = admin.get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()

    assert f"Rule US01 invoice v1 (id {rule.pk}) gives no revenue account" in page
    assert f'href="/erp/rules/{rule.pk}/?case={case.pk}"' in page
    assert 'data-testid="guide-create-rule"' not in page
    form = admin.get(f"/erp/rules/{rule.pk}/?case={case.pk}").context["form"]
    assert dict(form.fields["revenue_account"].choices)[REVENUE_SAAS] == "4000 — SaaS revenue"


def test_a_draft_rule_wins_the_resolution_only_where_it_matches(blocked):
    draft = MappingRule(
        name="draft", entity="US01", document_type="invoice", product_family="support"
    )
    draft.valid_from = dt.date(2026, 5, 1)
    draft.specificity = draft.compute_specificity()
    context = {"entity": "US01", "document_type": "invoice", "product_family": "support"}

    assert resolve_rule(on_date=dt.date(2026, 5, 14), draft=draft, **context) is draft
    assert resolve_rule(on_date=dt.date(2026, 4, 30), draft=draft, **context) is None
    other = {**context, "product_family": "saas"}
    assert resolve_rule(on_date=dt.date(2026, 5, 14), draft=draft, **other) is None
    assert not MappingRule.objects.filter(name="draft").exists()


def test_case_page_links_to_all_its_blocked_jobs_and_the_list_shows_only_them(
    blocked, make_user, django_capture_on_commit_callbacks
):
    ops = make_user("olga", "finance_ops")
    case = blocked["case"]
    mapped = make_invoice(lines=[line("75.00", tax="0.00")])  # its rule exists: not blocked
    dispatch(mapped.event, capture=django_capture_on_commit_callbacks)
    client = _client(ops)

    page = client.get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()
    url = f"{reverse('erp_sync:job-list')}?blocked_by_case={case.pk}"
    assert f'href="{url}" data-testid="guide-all-blocked">all 3</a>' in page

    listed = client.get(url).content.decode()
    blocked_jobs = SyncJob.objects.filter(event__in=[i.event for i in blocked["invoices"]])
    assert blocked_jobs.count() == 3
    for job in blocked_jobs:
        assert f'data-job-id="{job.pk}"' in listed
    other = SyncJob.objects.get(event=mapped.event)
    assert f'data-job-id="{other.pk}"' not in listed
    assert f'data-job-id="{other.pk}"' in client.get(reverse("erp_sync:job-list")).content.decode()
