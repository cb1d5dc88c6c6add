"""Console pages of breaks: a run's breaks filtered by kind and state, all breaks, one
break, accepting with a note (from the list and the page), permissions, query counts."""

import pytest
from django.urls import reverse

from exceptions.models import Case
from reconciliation.choices import BreakKind, BreakState
from reconciliation.models import Break
from tests.reconciliation import kpi_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


@pytest.fixture
def month(finance_ops):
    return kpi_data.build(actor=finance_ops)


@pytest.fixture
def signed_in(client, finance_ops):
    client.force_login(finance_ops)
    return client


def _ids(response) -> set[int]:
    import re

    return {int(i) for i in re.findall(r'data-break-id="(\d+)"', response.content.decode())}


def test_run_breaks_filter_by_kind_and_state(signed_in, month):
    url = reverse("reconciliation:run-breaks", args=[month.run.pk])
    mismatch = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)

    everything = signed_in.get(url)
    by_kind = signed_in.get(url, {"kind": BreakKind.AMOUNT_MISMATCH})
    accepted = signed_in.get(url, {"state": BreakState.ACCEPTED})

    assert _ids(everything) == set(Break.objects.values_list("pk", flat=True))
    assert _ids(by_kind) == {mismatch.pk}
    assert _ids(accepted) == set()


def test_break_list_links_the_filtered_csv(signed_in, month):
    response = signed_in.get(reverse("reconciliation:break-list"), {"state": "open"})

    assert response.status_code == 200
    assert 'href="/reconciliation/breaks.csv?state=open"' in response.content.decode()


def test_break_accept_post_with_note_accepts_and_resolves_the_case(signed_in, month):
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)

    response = signed_in.post(
        reverse("reconciliation:break-accept", args=[item.pk]), {"note": "ERP rounding"}
    )

    item.refresh_from_db()
    assert response.status_code == 302
    assert (item.state, item.note) == (BreakState.ACCEPTED, "ERP rounding")
    assert Case.objects.get(kind="reconciliation_amount_mismatch").state == "resolved"


def test_break_accept_post_from_the_list_returns_to_it(signed_in, month):
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)
    back = reverse("reconciliation:run-breaks", args=[month.run.pk]) + "?kind=amount_mismatch"

    response = signed_in.post(
        reverse("reconciliation:break-accept", args=[item.pk]), {"note": "ok", "next": back}
    )

    assert response["Location"] == back


def test_break_accept_post_elsewhere_next_is_ignored(signed_in, month):
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)

    response = signed_in.post(
        reverse("reconciliation:break-accept", args=[item.pk]),
        {"note": "ok", "next": "//evil.example/"},
    )

    assert response["Location"] == reverse("reconciliation:break-detail", args=[item.pk])


def test_break_accept_post_without_note_changes_nothing(signed_in, month):
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)

    response = signed_in.post(
        reverse("reconciliation:break-accept", args=[item.pk]), {"note": ""}, follow=True
    )

    item.refresh_from_db()
    assert item.state == BreakState.OPEN
    assert "Not accepted" in response.content.decode()


def test_break_accept_post_auditor_is_403(client, make_user, month):
    client.force_login(make_user("aud", "auditor"))
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)

    response = client.post(reverse("reconciliation:break-accept", args=[item.pk]), {"note": "x"})

    item.refresh_from_db()
    assert response.status_code == 403
    assert item.state == BreakState.OPEN


def test_break_detail_shows_both_sides_and_the_accept_form(signed_in, month):
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)

    page = signed_in.get(reverse("reconciliation:break-detail", args=[item.pk])).content.decode()

    assert "INV-off" in page and "108.50 USD" in page and "0.50 USD" in page
    assert 'data-testid="break-accept"' in page


def test_break_detail_links_its_run_records_and_open_case(signed_in, month):
    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)
    case = Case.objects.get(subject_id=str(item.pk), kind__startswith="reconciliation_")

    page = signed_in.get(reverse("reconciliation:break-detail", args=[item.pk])).content.decode()

    links = page[page.index('data-testid="break-links"') :]
    assert reverse("reconciliation:run-detail", args=[item.last_seen_run_id]) in links
    assert reverse("billing:invoice-detail", args=[item.billing_number]) in links
    open_cases = page[page.index('data-testid="open-cases"') :]
    assert reverse("exceptions:case-detail", args=[case.pk]) in open_cases


def test_break_detail_unknown_is_404(signed_in, month):
    assert signed_in.get(reverse("reconciliation:break-detail", args=[999])).status_code == 404


def test_break_lists_query_count_same_for_many_breaks(
    signed_in, finance_ops, month, django_assert_max_num_queries
):
    all_url = reverse("reconciliation:break-list")
    with django_assert_max_num_queries(50) as few_all:
        signed_in.get(all_url)
    with django_assert_max_num_queries(50) as few_run:
        signed_in.get(reverse("reconciliation:run-breaks", args=[month.run.pk]))
    for index in range(12):
        kpi_data.invoice(month.entity, f"unposted-{index}")
    run = kpi_data.execute(month.entity, finance_ops)

    with django_assert_max_num_queries(len(few_all.captured_queries)):
        everything = signed_in.get(all_url)
    with django_assert_max_num_queries(len(few_run.captured_queries)):
        run_page = signed_in.get(reverse("reconciliation:run-breaks", args=[run.pk]))

    assert len(_ids(everything)) == 15
    assert len(_ids(run_page)) == 15
