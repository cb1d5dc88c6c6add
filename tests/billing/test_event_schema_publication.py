"""GET /api/v1/event-types: every type's JSON Schema and example, generated from the declarations
`validate_event` uses; the example validates against the schema and is accepted by the API; the
schema refuses nothing the API accepts and the API refuses what the schema refuses."""

import copy
import json

import jsonschema
import pytest

from billing.schema import EVENT_TYPES, EventSchemaError, validate_event
from billing.schema.publication import catalogue, event_json_schema, example_event
from tests.billing.test_event_schema_equivalence import EDGE_VALUES

pytestmark = pytest.mark.django_db
URL = "/api/v1/event-types"


@pytest.fixture
def reader(api_with_scopes):
    return api_with_scopes("read")


def _published(reader) -> dict[str, dict]:
    response = reader.get(URL)
    assert response.status_code == 200
    return {entry["type"]: entry for entry in response.json()["results"]}


def test_event_types_list_every_type_with_schema_and_example(reader):
    published = _published(reader)

    assert set(published) == EVENT_TYPES
    for name, entry in published.items():
        assert entry["description"]
        assert entry["schema_of"] == "event"
        assert entry["json_schema"]["properties"]["type"]["const"] == name
        assert entry["example"]["type"] == name
        assert entry["data_component"].endswith("Data")


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_published_example_validates_against_its_published_schema(reader, event_type):
    entry = _published(reader)[event_type]
    jsonschema.Draft202012Validator.check_schema(entry["json_schema"])

    jsonschema.Draft202012Validator(entry["json_schema"]).validate(entry["example"])


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_published_example_is_accepted_by_the_events_endpoint(
    reader, api_with_scopes, world, event_type
):
    example = _published(reader)[event_type]["example"]
    writer = api_with_scopes("events:write")

    response = writer.post(
        "/api/v1/events", data=json.dumps(example), content_type="application/json"
    )

    assert response.status_code == 202, response.json()


def test_event_types_for_anonymous_are_refused(client):
    assert client.get(URL).status_code in (401, 403)


def test_event_types_for_client_without_read_scope_are_refused(api_with_scopes):
    assert api_with_scopes("events:write").get(URL).status_code == 403


@pytest.mark.parametrize("role", ["finance_ops", "channel_manager", "integration_admin", "auditor"])
def test_event_types_for_internal_role_answer_200(api_for_role, role):
    assert api_for_role(role).get(URL).status_code == 200


def test_event_types_for_partner_role_are_refused(api_for_role):
    assert api_for_role("partner").get(URL).status_code == 403


# --- the published schema agrees with the validator -----------------------------------------

_DELETE = object()


def _api_accepts(body: dict) -> bool:
    try:
        validate_event(copy.deepcopy(body))
    except EventSchemaError:
        return False
    return True


def _variants(example: dict):
    """The example with one attribute, data field or line field removed or set to an edge
    value (and an unknown one added), one at a time."""
    containers = [(), ("data",)]
    if "lines" in example["data"]:
        containers.append(("data", "lines", 0))
    for path in containers:
        container = example
        for step in path:
            container = container[step]
        for key in sorted({*container, "extra"}):
            for value in [_DELETE, *EDGE_VALUES]:
                body = copy.deepcopy(example)
                target = body
                for step in path:
                    target = target[step]
                if value is _DELETE:
                    target.pop(key, None)
                else:
                    target[key] = copy.deepcopy(value)
                yield (*path, key, value), body


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_what_the_published_schema_refuses_the_api_refuses(event_type):
    """Equivalently: every event the API accepts validates against the published schema (the
    schema says less than the API, never more: minor units, totals and dates are the API's)."""
    validator = jsonschema.Draft202012Validator(event_json_schema(event_type))
    refused_by_schema_only = [
        where
        for where, body in _variants(example_event(event_type))
        if not validator.is_valid(body) and _api_accepts(body)
    ]
    assert refused_by_schema_only == []


def test_published_catalogue_is_generated_from_the_declarations():
    entries = {entry["type"]: entry for entry in catalogue()}

    for name in EVENT_TYPES:
        assert validate_event(entries[name]["example"]).type == name


# --- OpenAPI ----------------------------------------------------------------------------------


def test_openapi_document_has_a_data_component_per_event_type(reader):
    schema = reader.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    published = _published(reader)

    for name, entry in published.items():
        data = components[entry["data_component"]]
        assert data["type"] == "object"
        assert set(entry["example"]["data"]) <= set(data["properties"]), name
        assert set(data["required"]) <= set(entry["example"]["data"]), name
    assert any(path.rstrip("/") == "/api/v1/event-types" for path in schema["paths"])


def test_openapi_event_components_refer_to_their_data_components(reader):
    schema = reader.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]

    assert components["InvoiceIssuedEvent"]["properties"]["data"] == {
        "$ref": "#/components/schemas/InvoiceIssuedData"
    }
    assert components["InvoiceIssuedData"]["properties"]["lines"]["items"] == {
        "$ref": "#/components/schemas/DocumentLine"
    }
