"""API clients with events:write ingest and replay only the sources they are bound to."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import FinanceEvent
from billing.services import event_ingest
from config.accounts.models import ApiClient
from tests.billing.factories import LegalEntityFactory, event_body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def entity(db):
    return LegalEntityFactory(code="US01", currency="USD", country="US")


def crm_event() -> dict:
    return event_body("customer.upserted", envelope={"source": "crm"})


def billing_event() -> dict:
    return event_body("customer.upserted")


def refused_message(response) -> str:
    assert response.status_code == 403, response.content
    [error] = response.json()["errors"]
    return error["message"]


def test_ingest_of_a_bound_source_is_accepted(api_with_scopes):
    api = api_with_scopes("events:write", sources=["billing-platform"])

    assert api.post("/api/v1/events", billing_event(), format="json").status_code == 202


def test_ingest_of_another_source_is_refused_naming_it_and_stores_nothing(api_with_scopes):
    api = api_with_scopes("events:write", sources=["billing-platform"])

    response = api.post("/api/v1/events", crm_event(), format="json")

    assert "'crm'" in refused_message(response)
    assert not FinanceEvent.objects.filter(source="crm").exists()


def test_ingest_by_a_client_bound_to_no_source_is_refused(api_with_scopes):
    api = api_with_scopes("events:write", sources=[])

    response = api.post("/api/v1/events", billing_event(), format="json")

    assert "'billing-platform'" in refused_message(response)


def test_batch_with_one_foreign_source_is_refused_whole_naming_it(api_with_scopes):
    api = api_with_scopes("events:write", sources=["billing-platform"])

    response = api.post(
        "/api/v1/events/batch", {"events": [billing_event(), crm_event()]}, format="json"
    )

    assert "'crm'" in refused_message(response)
    assert FinanceEvent.objects.count() == 0


def test_batch_of_bound_sources_is_accepted(api_with_scopes):
    api = api_with_scopes("events:write", sources=["billing-platform", "crm"])

    response = api.post(
        "/api/v1/events/batch", {"events": [billing_event(), crm_event()]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["summary"]["accepted"] == 2


@pytest.fixture
def ops(make_user):
    return make_user("ops", "finance_ops")


def _stored(body, actor) -> FinanceEvent:
    return event_ingest(body=body, actor=actor).event


def test_replay_of_another_source_is_refused_naming_it(api_with_scopes, ops):
    event = _stored(crm_event(), ops)
    api = api_with_scopes("events:write", "read", sources=["billing-platform"])

    response = api.post(f"/api/v1/events/{event.source}/{event.event_id}/replay")

    assert "'crm'" in refused_message(response)


def test_replay_without_read_answers_the_new_state_alone(api_with_scopes, ops):
    event = _stored(billing_event(), ops)
    api = api_with_scopes("events:write", sources=["billing-platform"])

    response = api.post(f"/api/v1/events/{event.source}/{event.event_id}/replay")

    assert response.status_code == 200
    assert response.json() == {
        "source": "billing-platform",
        "event_id": event.event_id,
        "state": "applied",
    }


def test_replay_with_read_answers_the_event_body(api_with_scopes, ops):
    event = _stored(billing_event(), ops)
    api = api_with_scopes("events:write", "read", sources=["billing-platform"])

    response = api.post(f"/api/v1/events/{event.source}/{event.event_id}/replay")

    assert response.status_code == 200
    assert response.json()["body"]["data"]["customer_id"] == event.body["data"]["customer_id"]


def test_bulk_replay_filtering_another_source_is_refused(api_with_scopes):
    api = api_with_scopes("events:write", sources=["billing-platform"])

    response = api.post("/api/v1/events/replay", {"filter": {"source": ["crm"]}}, format="json")

    assert "'crm'" in refused_message(response)


def test_bulk_replay_without_source_filter_touches_only_bound_sources(api_with_scopes, ops):
    own = _stored(billing_event(), ops)
    foreign = _stored(crm_event(), ops)
    attempts = {e.pk: e.apply_attempts for e in (own, foreign)}
    api = api_with_scopes("events:write", sources=["billing-platform"])

    response = api.post("/api/v1/events/replay", {"filter": {"state": "applied"}}, format="json")

    assert response.status_code == 200, response.content
    own.refresh_from_db()
    foreign.refresh_from_db()
    assert foreign.apply_attempts == attempts[foreign.pk]
    assert sum(response.json().values()) == 1


def test_create_api_client_command_stores_the_sources():
    out = StringIO()
    call_command(
        "create_api_client", "erp-feed", "--scopes", "events:write",
        "--sources", "billing-platform,crm", stdout=out,
    )  # fmt: skip

    assert ApiClient.objects.get(name="erp-feed").sources == ["billing-platform", "crm"]
    assert "sources=billing-platform,crm" in out.getvalue()


def test_create_api_client_command_with_events_write_needs_sources():
    with pytest.raises(CommandError, match="--sources"):
        call_command("create_api_client", "unbound", "--scopes", "events:write", stdout=StringIO())

    assert not ApiClient.objects.filter(name="unbound").exists()
