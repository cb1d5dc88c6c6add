"""The ingestion contract: 202 new, 200 duplicate, 409 conflict, 400 malformed (nothing stored)."""

import json

import pytest
from django.test import override_settings

from billing.models import FinanceEvent
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db
URL = "/api/v1/events"


@pytest.fixture
def api(api_with_scopes, world):
    return api_with_scopes("events:write")


def post(api, body, url=URL, **extra):
    return api.post(url, data=json.dumps(body), content_type="application/json", **extra)


def test_ingest_new_event_answers_202_with_records(api):
    body = event_body("invoice.issued", invoice_id="inv_new")
    response = post(api, body)
    assert response.status_code == 202
    assert response.json() == {
        "source": "billing-platform",
        "id": body["id"],
        "type": "invoice.issued",
        "state": "applied",
        "records": {"invoice": "inv_new"},
    }
    assert FinanceEvent.objects.get(event_id=body["id"]).state == "applied"


def test_ingest_same_event_again_answers_200_with_stored_result(api):
    body = event_body("invoice.issued")
    first = post(api, body)
    reordered = dict(reversed(list(body.items())))  # key order does not matter
    second = post(api, reordered)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert FinanceEvent.objects.filter(event_id=body["id"]).count() == 1


def test_ingest_same_id_different_body_answers_409_naming_stored_digest(api):
    body = event_body("invoice.issued")
    post(api, body)
    stored = FinanceEvent.objects.get(event_id=body["id"])
    changed = {**body, "data": {**body["data"], "due_date": "2026-06-30"}}
    response = post(api, changed)
    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "conflicting_duplicate"
    assert stored.body_digest in error["message"]


def test_ingest_malformed_event_answers_400_with_field_paths_and_stores_nothing(api):
    before = FinanceEvent.objects.count()
    body = event_body("invoice.issued")
    body["data"]["lines"][0]["amount"] = "99.00"
    response = post(api, body)
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert "data.lines[0].amount" in fields
    assert FinanceEvent.objects.count() == before


def test_ingest_fractional_json_number_answers_400_number_not_string(api):
    before = FinanceEvent.objects.count()
    raw = json.dumps(event_body("payment.settled")).replace('"100.00"', "100.00")
    response = api.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "number_not_string"
    assert FinanceEvent.objects.count() == before


def test_ingest_quarantined_event_answers_202_with_case(api):
    response = post(api, event_body("invoice.issued", customer_id="nobody"))
    assert response.status_code == 202
    data = response.json()
    assert data["state"] == "quarantined"
    assert data["quarantine_reason"] == "unknown_customer"
    assert data["case"]["kind"] == "unknown_customer"


def test_ingest_correlation_id_is_echoed_and_stored_on_event_and_history(api):
    body = event_body("invoice.issued")
    response = post(api, body, HTTP_X_CORRELATION_ID="corr-42")
    assert response["X-Correlation-ID"] == "corr-42"
    event = FinanceEvent.objects.get(event_id=body["id"])
    assert event.correlation_id == "corr-42"
    assert set(event.history.values_list("correlation_id", flat=True)) == {"corr-42"}
    invoice_history = event.result["records"]["invoice"]
    from billing.models import Invoice

    invoice = Invoice.objects.get(invoice_id=invoice_history)
    assert invoice.history.get().correlation_id == "corr-42"


def test_batch_answers_each_item_and_summary(api):
    before = FinanceEvent.objects.count()
    good = event_body("invoice.issued")
    bad = event_body("invoice.issued")
    bad["data"]["total"] = "1.00"
    conflict = {**good, "data": {**good["data"], "due_date": "2026-06-30"}}
    response = post(api, {"events": [good, bad, good, conflict]}, url=URL + "/batch")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 400, 200, 409]
    assert results[1]["errors"][0]["field"] == "events[1].data.total"
    assert results[3]["errors"][0]["code"] == "conflicting_duplicate"
    assert response.json()["summary"]["accepted"] == 1
    assert FinanceEvent.objects.count() == before + 1


@override_settings(CONCORD_EVENT_BATCH_MAX=3)
def test_batch_over_the_limit_answers_400_and_stores_nothing(api):
    before = FinanceEvent.objects.count()
    response = post(
        api, {"events": [event_body("invoice.issued") for _ in range(4)]}, URL + "/batch"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "events",
        "code": "batch_too_large",
        "message": "a batch holds at most 3 events, not 4",
    }
    assert FinanceEvent.objects.count() == before


def test_batch_of_1001_answers_400(api):
    body = {"events": [{"id": str(i)} for i in range(1001)]}
    response = post(api, body, URL + "/batch")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "batch_too_large"


def test_batch_without_events_list_answers_400(api):
    response = post(api, {"items": []}, URL + "/batch")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"


def test_event_detail_accepts_source_with_colons_and_slashes(api_with_scopes, api):
    body = event_body("invoice.issued", envelope={"source": "urn:billing:eu/1"})
    post(api, body)
    reader = api_with_scopes("read")
    response = reader.get(f"{URL}/urn:billing:eu/1/{body['id']}")
    assert response.status_code == 200
    assert response.json()["records"] == {"invoice": body["data"]["invoice_id"]}
