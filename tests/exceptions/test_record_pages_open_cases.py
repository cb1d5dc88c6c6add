"""Record pages link their neighbours and their open cases: a sync job blocked by a missing
mapping rule shows the grouped case on its own page, its event's, its invoice's and its
connection's; each page's query count stays bounded as cases and jobs grow."""

import pytest
from django.urls import reverse

from erp_sync.choices import DocumentType
from exceptions.kinds import CaseKind
from exceptions.models import Case
from exceptions.selectors import open_cases_touching
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import dispatch, eager_celery, make_world  # noqa: F401
from tests.exceptions.factories import CaseFactory
from tests.partners.factories import partner as make_partner

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture
def ops(client, role_users):
    client.force_login(role_users["finance_ops"])
    return client


@pytest.fixture
def blocked(django_capture_on_commit_callbacks):
    """An invoice whose job is blocked by a missing invoice mapping rule (a grouped case)."""
    world = make_world()
    world["rules"][DocumentType.INVOICE].delete()
    invoice = make_invoice(invoice_id="INV-2026-0077")
    job = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)[0]
    job.refresh_from_db()
    case = Case.objects.get(kind="mapping_missing")
    return {"invoice": invoice, "job": job, "case": case, "connection": world["connection"]}


def _open_cases_section(html: str) -> str:
    start = html.index('data-testid="open-cases"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize("page", ["job", "event", "invoice", "connection"])
def test_record_page_lists_the_grouped_case_that_blocks_it(ops, blocked, page):
    url = {
        "job": reverse("erp_sync:job-detail", args=[blocked["job"].pk]),
        "event": reverse("billing:event-detail", args=[blocked["invoice"].event_id]),
        "invoice": reverse("billing:invoice-detail", args=["INV-2026-0077"]),
        "connection": reverse("erp_sync:connection-detail", args=[blocked["connection"].pk]),
    }[page]
    html = ops.get(url).content.decode()
    section = _open_cases_section(html)
    case_url = reverse("exceptions:case-detail", args=[blocked["case"].pk])
    assert f'href="{case_url}"' in section
    assert "blocks 1 record" in section


def test_invoice_page_links_its_event_and_its_sync_jobs(ops, blocked):
    html = ops.get(reverse("billing:invoice-detail", args=["INV-2026-0077"])).content.decode()
    assert reverse("billing:event-detail", args=[blocked["invoice"].event_id]) in html
    assert reverse("erp_sync:job-detail", args=[blocked["job"].pk]) in html
    assert "<title>Invoice INV-2026-0077" in html  # the title block holds the title only


def test_cleared_or_closed_cases_are_not_open_cases(blocked):
    case = blocked["case"]
    case.items.update(cleared_at=case.last_seen_at)
    assert open_cases_touching([blocked["job"]]) == []
    resolved = CaseFactory(subject=blocked["job"], resolved=True)
    assert resolved not in open_cases_touching([blocked["job"]])


def test_partner_page_lists_cases_scoped_to_the_partner(ops):
    partner = make_partner()
    scoped = CaseFactory(partner=partner.partner_id, kind="unknown_partner", title="Deal")
    CaseFactory(partner="P-other", title="Someone else's")
    html = ops.get(reverse("partners:partner-detail", args=[partner.pk])).content.decode()
    section = _open_cases_section(html)
    assert reverse("exceptions:case-detail", args=[scoped.pk]) in section
    assert "Someone else" not in section


def test_event_and_invoice_pages_query_count_is_bounded(
    ops, blocked, django_assert_max_num_queries
):
    job = blocked["job"]
    # One active case per (subject, kind): twenty kinds on the job, closed ones on the event.
    for kind in [k for k in CaseKind.values if k != "mapping_missing"][:20]:
        CaseFactory(subject=job, kind=kind, title=f"Failure {kind}")
        CaseFactory(subject=blocked["invoice"].event, kind=kind, resolved=True)
    for url in (
        reverse("billing:event-detail", args=[blocked["invoice"].event_id]),
        reverse("billing:invoice-detail", args=["INV-2026-0077"]),
        reverse("erp_sync:job-detail", args=[job.pk]),
    ):
        ops.get(url)  # warm the content-type cache, as a running server has it
        with django_assert_max_num_queries(18):  # measured: 13 event, 15 invoice and job
            response = ops.get(url)
        assert response.status_code == 200
        assert _open_cases_section(response.content.decode()).count("Case #") == 21
