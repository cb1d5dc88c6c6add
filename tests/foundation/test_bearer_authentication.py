import pytest
from rest_framework.test import APIClient

from config.accounts.models import ApiClient
from config.accounts.services import api_client_create, api_client_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.foundation.probe_urls")]


def bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_bearer_token_with_scope_authenticates_as_the_client_user():
    client, token = api_client_create(name="erp-bridge", scopes=["read"])

    response = bearer(token).get("/api/v1/probe/")

    assert response.status_code == 200
    assert response.json() == {"user": client.user.username}


def test_bearer_token_without_needed_scope_is_forbidden():
    _, token = api_client_create(name="writer-only", scopes=["events:write"])

    response = bearer(token).get("/api/v1/probe/")

    assert response.status_code == 403
    assert response.json()["errors"][0]["message"]


def test_wrong_bearer_token_answers_401_with_error_shape():
    api_client_create(name="someone", scopes=["read"])

    response = bearer("not.a-real-token").get("/api/v1/probe/")

    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"errors"}
    assert body["errors"][0]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_bearer_token_answers_401():
    client, token = api_client_create(name="leaked", scopes=["read"])
    assert bearer(token).get("/api/v1/probe/").status_code == 200

    api_client_revoke(client=ApiClient.objects.get(pk=client.pk))
    response = bearer(token).get("/api/v1/probe/")

    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]


def test_person_without_permission_is_forbidden_and_with_it_allowed(api_for_role):
    assert api_for_role("finance_ops").get("/api/v1/probe/").status_code == 403
    assert api_for_role("integration_admin").get("/api/v1/probe/").status_code == 200
