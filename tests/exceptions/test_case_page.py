"""The case page in finance words: a headline of what failed, what happens if nobody acts,
the recorded detail as labelled fields (never a dict repr), the subject and the blocked
records as links to their pages, the SLA clock as time left or overdue."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from exceptions.kinds import CONSEQUENCE, WHAT_FAILED, CaseKind
from exceptions.models import CaseItem
from exceptions.presentation import case_detail_view, flatten
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import dispatch, eager_celery, make_world  # noqa: F401
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


@pytest.fixture
def ops(client, role_users):
    client.force_login(role_users["finance_ops"])
    return client


def _page(client, case) -> str:
    response = client.get(reverse("exceptions:case-detail", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def job(django_capture_on_commit_callbacks):
    make_world()
    invoice = make_invoice(invoice_id="INV-2026-0042")
    posted = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)[0]
    posted.refresh_from_db()
    return posted


def test_every_kind_has_a_headline_and_a_consequence():
    assert set(CaseKind.values) <= set(WHAT_FAILED)
    assert set(CaseKind.values) <= set(CONSEQUENCE)


def test_detail_dict_shows_labelled_fields_and_no_repr(ops, job):
    case = CaseFactory(
        subject=job,
        kind="reconciliation_amount_mismatch",
        detail={
            "billing": "1250.00 USD",
            "erp": "1200.00 USD",
            "difference": "-50.00 USD",
            "document_date": "2026-05-14",
            "match": {"entity": "US01", "document_type": "invoice", "product_family": "support"},
            "tracking": {"ticket": "FIN-7", "tags": ["q2", "close"]},
            "note_from_source": None,
        },
    )
    html = _page(ops, case)

    assert "{'" not in html and "&#x27;" not in html  # no dict repr, escaped or not
    assert "<dt>Billing amount</dt><dd>1,250.00 USD</dd>" in html
    assert "<dt>Difference</dt><dd>-50.00 USD</dd>" in html
    assert "<dt>Document date</dt><dd>2026-05-14</dd>" in html
    assert "What the mapping rule had to match" in html
    assert "<dt>Product family</dt><dd>support</dd>" in html
    # Keys nobody declared: a small key/value list.
    assert "<dt>Tracking · ticket</dt><dd>FIN-7</dd>" in html
    assert "<dt>Tracking · tags</dt><dd>q2, close</dd>" in html
    assert "<dt>Note from source</dt><dd>—</dd>" in html


def test_headline_consequence_and_subject_link(ops, job):
    case = CaseFactory(subject=job, kind="erp_rejected", subject_label="invoice INV-2026-0042")
    html = _page(ops, case)

    assert f"<h1>Case #{case.pk}: The ERP refused a document</h1>" in html
    assert escape(CONSEQUENCE["erp_rejected"]) in html
    job_url = reverse("erp_sync:job-detail", args=[job.pk])
    assert f'<a href="{job_url}" data-testid="case-subject-link">invoice INV-2026-0042</a>' in html
    assert "Sync job" in html


def test_subject_without_a_page_is_text_not_a_broken_link(ops):
    case = CaseFactory(subject=UserFactory(username="someone"))
    html = _page(ops, case)
    assert 'data-testid="case-subject-link"' not in html
    assert "someone" in html


def test_sla_clock_says_time_left_or_overdue(ops):
    now = timezone.now()
    due_later = CaseFactory(sla_due_at=now + dt.timedelta(hours=5, minutes=10))
    overdue = CaseFactory(sla_due_at=now - dt.timedelta(days=2, hours=1))
    assert "5\xa0hours, 9\xa0minutes left" in _page(ops, due_later) or (
        "5\xa0hours, 10\xa0minutes left" in _page(ops, due_later)
    )
    assert "Overdue by 2\xa0days, 1\xa0hour" in _page(ops, overdue)


def test_grouped_case_links_each_blocked_record_with_count_and_value(ops, job):
    case = CaseFactory(
        subject=job.connection,
        kind="mapping_missing",
        cause_key=f"mapping_missing:{job.connection.pk}:US01:invoice:support",
        item_count=1,
        detail={"connection": job.connection.name, "last_job": "invoice INV-2026-0042"},
    )
    CaseItem.objects.create(
        case=case,
        subject_type=ContentType.objects.get_for_model(job),
        subject_id=str(job.pk),
        label="invoice INV-2026-0042",
        value_amount=Decimal("108.00"),
        currency="USD",
    )
    html = _page(ops, case)

    job_url = reverse("erp_sync:job-detail", args=[job.pk])
    assert f'<a href="{job_url}">invoice INV-2026-0042</a>' in html
    assert "1 worth 108.00 USD" in html
    connection_url = reverse("erp_sync:connection-detail", args=[job.connection.pk])
    assert f'href="{connection_url}" data-testid="case-subject-link"' in html
    assert "<dt>ERP connection</dt>" in html


def _queries(client, url) -> int:
    client.get(url)  # warm the content-type cache, as a running server has it
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_case_page_query_count_does_not_grow_with_blocked_records(ops, job):
    # A grouped kind without a per-kind guide: the count is the page's own (a guide, rendered
    # below, brings its own queries and its own bound).
    case = CaseFactory(
        subject=job.connection,
        kind="erp_unavailable",
        cause_key=str(job.connection.pk),
        detail={"error": "timeout", "response": {"status": 503}},
    )
    job_type = ContentType.objects.get_for_model(job)
    url = reverse("exceptions:case-detail", args=[case.pk])

    def block(n: int) -> None:
        CaseItem.objects.create(
            case=case,
            subject_type=job_type,
            subject_id=str(job.pk if n == 0 else 10_000 + n),  # gone records show as text
            label=f"invoice {n}",
            value_amount=Decimal("10.00"),
            currency="USD",
        )

    block(0)
    one = _queries(ops, url)
    for n in range(1, 40):
        block(n)
    forty = _queries(ops, url)

    assert forty == one  # measured: 15 (session, permissions, case, subject, items, history)
    assert forty <= 20


def test_flatten_never_yields_a_repr():
    rows = flatten({"a": {"b": [1, {"c": "d"}]}, "e": []})
    assert all("{" not in label + text for label, text in rows)


def test_non_dict_detail_is_shown_as_text():
    case = CaseFactory.build(detail=["a", "b"])
    assert [f.value for f in case_detail_view(case).fields] == ["a, b"]
