"""Correct and replay through the console (the case's guide, the correct page) and the API:
who may, what a refused correction shows, and what the pages say afterwards."""

import pytest
from django.urls import reverse

from billing.models import FinanceEvent
from billing.services import event_correct, event_ingest
from exceptions.selectors import cases_for_subject
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarantined(world, actor):
    body = event_body(
        "payment.settled", payment_id="PAY-9", customer_id="cus_x", invoice_id="INV-1042"
    )
    event = event_ingest(body=body, actor=actor).event
    return {"event": event, "case": cases_for_subject(event).get()}


def form_data(event, **changes) -> dict:
    data = {f"data__{k}": v or "" for k, v in event.data.items()}
    data.update({"entity": event.entity, "reason": "typo in the invoice number"})
    data.update(changes)
    return data


def test_case_page_guide_explains_in_finance_words_and_offers_the_fixes(
    client, quarantined, role_users
):
    client.force_login(role_users["finance_ops"])
    page = client.get(reverse("exceptions:case-detail", args=[quarantined["case"].pk]))
    html = page.content.decode()
    assert "The payment refers to invoice INV-1042, which Concord has not received." in html
    assert "100.00 USD" in html  # the amount, through the money filter
    assert 'data-testid="correct-form"' in html and 'name="data__invoice_id"' in html
    assert 'value="INV-1042"' in html
    assert "{&#x27;" not in html.split('data-testid="event-guide"')[1]  # no raw dict


def test_guide_offers_no_fix_to_an_auditor(client, quarantined, role_users):
    client.force_login(role_users["auditor"])
    html = client.get(
        reverse("exceptions:case-detail", args=[quarantined["case"].pk])
    ).content.decode()
    assert "INV-1042, which Concord has not received" in html
    assert 'data-testid="correct-form"' not in html and "guide-discard" not in html


def test_correct_page_refuses_without_the_permission(client, quarantined, role_users):
    client.force_login(role_users["auditor"])
    url = reverse("billing:event-correct", args=[quarantined["event"].pk])
    assert client.get(url).status_code == 403
    assert client.post(url, form_data(quarantined["event"])).status_code == 403
    assert FinanceEvent.objects.filter(corrects=quarantined["event"]).count() == 0


def test_correct_invalid_currency_shows_the_field_error_and_writes_nothing(
    client, quarantined, role_users
):
    client.force_login(role_users["finance_ops"])
    event = quarantined["event"]
    response = client.post(
        reverse("billing:event-correct", args=[event.pk]),
        form_data(event, data__invoice_id="inv_x", data__amount="12.345"),
    )
    assert response.status_code == 400
    assert "data.amount" in response.context["form"].errors["data__amount"][0]
    assert FinanceEvent.objects.filter(corrects=event).count() == 0


def test_correct_from_the_case_returns_to_the_case_resolved(client, quarantined, role_users):
    client.force_login(role_users["finance_ops"])
    event, case = quarantined["event"], quarantined["case"]
    case_url = reverse("exceptions:case-detail", args=[case.pk])
    response = client.post(
        reverse("billing:event-correct", args=[event.pk]),
        {**form_data(event, data__invoice_id="inv_x"), "next": case_url},
    )
    assert response.status_code == 302 and response.url == case_url
    case.refresh_from_db()
    assert case.state == "resolved"
    copy = FinanceEvent.objects.get(corrects=event)
    page = client.get(reverse("billing:event-detail", args=[event.pk])).content.decode()
    assert copy.event_id in page and "INV-1042" in page and "inv_x" in page
    page = client.get(reverse("billing:event-detail", args=[copy.pk])).content.decode()
    assert 'data-testid="correction-of"' in page and "typo in the invoice number" in page


def test_api_correct_answers_the_applied_copy_and_is_idempotent(
    quarantined, api_with_scopes, actor
):
    event = quarantined["event"]
    api = api_with_scopes("events:write", "read")
    url = f"/api/v1/events/{event.source}/{event.event_id}/correct"
    body = {"reason": "typo", "data": {**event.data, "invoice_id": "inv_x"}}
    first = api.post(url, body, format="json")
    assert first.status_code == 200, first.json()
    answer = first.json()
    assert (answer["id"], answer["state"]) == (f"{event.event_id}~c1", "applied")
    assert answer["corrects"] == {"source": event.source, "id": event.event_id}
    assert answer["correction"]["changes"] == [
        {"field": "data.invoice_id", "old": "INV-1042", "new": "inv_x"}
    ]
    again = api.post(url, body, format="json")
    assert again.status_code == 200 and again.json()["id"] == answer["id"]
    assert FinanceEvent.objects.filter(corrects=event).count() == 1
    detail = api.get(f"/api/v1/events/{event.source}/{event.event_id}").json()
    assert (detail["state"], detail["corrected_by"]["id"]) == ("superseded", answer["id"])


def test_api_correct_invalid_answers_400_with_field_paths(quarantined, api_with_scopes):
    event = quarantined["event"]
    api = api_with_scopes("events:write")
    response = api.post(
        f"/api/v1/events/{event.source}/{event.event_id}/correct",
        {"reason": "x", "data": {**event.data, "currency": "XXQ"}},
        format="json",
    )
    assert response.status_code == 400
    assert "data.currency" in {e["field"] for e in response.json()["errors"]}
    assert FinanceEvent.objects.filter(corrects=event).count() == 0


def test_api_correct_needs_the_correct_permission(quarantined, role_users):
    from rest_framework.test import APIClient

    event = quarantined["event"]
    api = APIClient()
    api.force_authenticate(role_users["auditor"])
    response = api.post(
        f"/api/v1/events/{event.source}/{event.event_id}/correct",
        {"reason": "x", "data": {**event.data, "invoice_id": "inv_x"}},
        format="json",
    )
    assert response.status_code == 403


def test_correct_of_a_superseded_event_page_says_it_cannot(client, quarantined, role_users, actor):
    event = quarantined["event"]
    event_correct(
        event=event, payload={"data": {**event.data, "invoice_id": "inv_x"}}, actor=actor,
        reason="typo",
    )  # fmt: skip
    client.force_login(role_users["finance_ops"])
    page = client.get(reverse("billing:event-correct", args=[event.pk]))
    assert b'data-testid="not-correctable"' in page.content
