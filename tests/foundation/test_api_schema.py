import pytest

pytestmark = pytest.mark.django_db

CDN_MARKERS = ("cdn", "unpkg", "jsdelivr")


def test_schema_for_signed_in_person_is_openapi_3(client, make_user):
    client.force_login(make_user("reader", "auditor"))

    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Concord API"


def test_schema_for_bearer_client_is_openapi_3(api_with_scopes):
    api = api_with_scopes("read")

    response = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_schema_for_anonymous_is_refused(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_docs_serve_swagger_ui_from_static_without_cdn(client, make_user):
    client.force_login(make_user("reader", "auditor"))

    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode().lower()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    for marker in CDN_MARKERS:
        assert marker not in html, f"docs page references {marker!r}"


def test_docs_for_anonymous_are_refused(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code in (401, 403)


def test_schema_is_a_valid_openapi_3_0_document(client, make_user):
    from drf_spectacular.validation import validate_schema

    client.force_login(make_user("reader", "auditor"))

    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    validate_schema(schema)  # raises on a component outside the OpenAPI 3.0 dialect
    assert "InvoiceIssuedData" in schema["components"]["schemas"]
