import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.foundation.probe_urls")]


def assert_error_shape(body: dict) -> None:
    assert set(body) == {"errors"}
    assert body["errors"]
    for item in body["errors"]:
        assert set(item) == {"field", "code", "message"}


def test_missing_object_answers_404_in_error_shape(api_with_scopes):
    response = api_with_scopes("read").get("/api/v1/probe/missing/")

    assert response.status_code == 404
    assert_error_shape(response.json())
    assert response.json()["errors"][0]["code"] == "not_found"


def test_wrong_method_answers_405_in_error_shape(api_with_scopes):
    response = api_with_scopes("read").delete("/api/v1/probe/")

    assert response.status_code == 405
    assert_error_shape(response.json())
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


def test_anonymous_api_call_answers_401_in_error_shape(client):
    response = client.get("/api/v1/probe/")

    assert response.status_code == 401
    assert_error_shape(response.json())
