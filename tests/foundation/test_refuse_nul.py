"""A NUL character in a query string is answered 400, never a 500 from PostgreSQL."""

import pytest


@pytest.mark.django_db
def test_api_query_with_nul_answers_400_in_the_error_shape(api_with_scopes):
    client = api_with_scopes("read")
    response = client.get("/api/v1/kpis/", {"entity": "US\x0001", "period": "2026-05"})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "entity"
    assert "NUL" in error["message"]


@pytest.mark.django_db
def test_sync_job_filter_older_than_ten_years_answers_400(api_with_scopes):
    client = api_with_scopes("read")
    response = client.get("/api/v1/sync-jobs/", {"older_than_minutes": "1.9e16"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "older_than_minutes"
