"""Lineage search: any id reaches the chain event → record → jobs → ERP document → cases,
with a query count that does not grow with the data."""

import pytest
from django.urls import reverse

from erp_sync.choices import DocumentType
from erp_sync.lineage import lineage_for_event, lineage_search
from tests.erp_sync.factories import FinanceEventFactory, make_invoice, make_payment
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)
from tests.exceptions.factories import CaseFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
URL = reverse("erp_sync:lineage")


@pytest.fixture
def posted(django_capture_on_commit_callbacks):
    """A posted invoice job and a dead one (its mapping rule removed), with a case."""
    world = make_world()
    invoice = make_invoice(invoice_id="INV-2026-0042")
    invoice.event.correlation_id = "quote-789"
    invoice.event.save(update_fields=["correlation_id"])
    job = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)[0]
    job.refresh_from_db()
    world["rules"][DocumentType.INVOICE].delete()
    dead = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)[0]
    dead.refresh_from_db()
    return {"invoice": invoice, "job": job, "dead": dead}


def _kinds(chain):
    return [step.kind for step in chain]


def test_search_by_erp_document_number_reaches_the_event(posted):
    job = posted["job"]
    assert job.erp_number

    matches = lineage_search(job.erp_number)

    assert [m.kind for m in matches] == ["erp_document"]
    assert matches[0].event == posted["invoice"].event
    chain = lineage_for_event(matches[0].event)
    assert _kinds(chain)[:4] == ["event", "record", "job", "erp_document"]
    assert chain[1].label == "Invoice INV-2026-0042"
    assert [a.label for a in chain[2].children] == ["Attempt 1"]
    assert chain[3].label.startswith(f"ERP document {job.erp_number}")


@pytest.mark.parametrize(
    "key",
    ["event_id", "source/event_id", "correlation", "invoice_id"],
)
def test_every_kind_of_id_finds_the_same_event(posted, key):
    event = posted["invoice"].event
    text = {
        "event_id": event.event_id,
        "source/event_id": f"{event.source}/{event.event_id}",
        "correlation": "quote-789",
        "invoice_id": "INV-2026-0042",
    }[key]

    assert {m.event.pk for m in lineage_search(text)} == {event.pk}


def test_erp_id_finds_the_job_among_other_readings_of_the_text(posted):
    # The sandbox's ERP ids are small numbers: the same text may also be a case number.
    matches = lineage_search(posted["job"].erp_id)

    assert ("erp_document", posted["invoice"].event) in [(m.kind, m.event) for m in matches]


def test_payment_id_and_case_number_find_their_events(posted):
    payment = make_payment(invoice=posted["invoice"])
    dead = posted["dead"]
    case = CaseFactory(subject=dead, title="No invoice rule")

    assert [m.event for m in lineage_search(payment.payment_id)] == [payment.event]
    by_case = lineage_search(f"#{case.pk}")
    assert [(m.kind, m.event) for m in by_case] == [("case", dead.event)]
    chain = lineage_for_event(dead.event)
    cases = [step.label for step in chain if step.kind == "case"]
    assert f"Case #{case.pk}: No invoice rule" in cases  # with the dispatch's own case


def test_unknown_or_blank_text_matches_nothing(posted):
    assert lineage_search("no-such-id") == []
    assert lineage_search("   ") == []
    assert lineage_search("x" * 300) == []


def test_search_and_chain_query_count_does_not_grow_with_jobs(
    posted, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # Many more documents in the system, and a correlation id shared by several events.
    for _ in range(8):
        invoice = make_invoice()
        invoice.event.correlation_id = "batch-7"
        invoice.event.save(update_fields=["correlation_id"])
    erp_number = posted["job"].erp_number
    with django_assert_max_num_queries(14):
        matches = lineage_search(erp_number)
        lineage_for_event(matches[0].event)
    with django_assert_max_num_queries(14):
        assert len(lineage_search("batch-7")) == 8


def test_page_shows_the_chain_with_links(client, role_users, posted):
    job = posted["job"]
    client.force_login(role_users["auditor"])

    page = client.get(URL, {"q": job.erp_number}).content.decode()

    assert reverse("billing:event-detail", args=[posted["invoice"].event.pk]) in page
    assert reverse("billing:invoice-detail", args=["INV-2026-0042"]) in page
    assert reverse("erp_sync:job-detail", args=[job.pk]) in page
    assert f"ERP document {job.erp_number}" in page
    assert "Posted" in page


def test_page_lists_several_matches_and_opens_the_chosen_one(client, role_users, posted):
    first = FinanceEventFactory(correlation_id="deal-1")
    second = FinanceEventFactory(correlation_id="deal-1")
    client.force_login(role_users["finance_ops"])

    listing = client.get(URL, {"q": "deal-1"}).content.decode()
    chosen = client.get(URL, {"q": "deal-1", "event": second.pk}).content.decode()

    assert "2 matches" in listing
    assert f"event={first.pk}" in listing and f"event={second.pk}" in listing
    assert f"Event {second.source}/{second.event_id}" in chosen
    assert 'data-testid="lineage-chain"' in chosen


def test_partner_user_is_refused(client, role_users):
    client.force_login(role_users["partner"])
    assert client.get(URL, {"q": "x"}).status_code == 403
