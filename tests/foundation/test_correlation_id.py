import io
import json
import logging
import logging.config

import pytest
from celery import shared_task
from django.conf import settings

from config.celery import app as celery_app
from config.correlation import get_correlation_id, reset_correlation_id, set_correlation_id

pytestmark = pytest.mark.django_db


@shared_task(name="tests.foundation.read_correlation_id")
def read_correlation_id() -> str | None:
    return get_correlation_id()


@pytest.fixture
def json_log_stream():
    """A handler built from the project's LOGGING formatter and filter, on one test logger."""
    config = settings.LOGGING
    formatter = logging.config.DictConfigurator(config).configure_custom(
        dict(config["formatters"]["json"])
    )
    log_filter = logging.config.DictConfigurator(config).configure_custom(
        dict(config["filters"]["correlation"])
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(log_filter)
    logger = logging.getLogger("tests.correlation")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.removeHandler(handler)


def test_log_line_carries_the_current_correlation_id_as_json(json_log_stream):
    logger, stream = json_log_stream
    token = set_correlation_id("quote-789")
    try:
        logger.info("posting invoice", extra={"invoice_id": "INV-1"})
    finally:
        reset_correlation_id(token)

    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["correlation_id"] == "quote-789"
    assert record["message"] == "posting invoice"
    assert record["level"] == "INFO"
    assert record["invoice_id"] == "INV-1"


def test_request_correlation_id_reaches_logs_written_during_the_request(
    client, json_log_stream, monkeypatch
):
    logger, stream = json_log_stream
    from config import health

    original = health._check_database

    def logged_check():
        logger.info("checking database")
        return original()

    monkeypatch.setattr(health, "_check_database", logged_check)

    client.get("/readyz", HTTP_X_CORRELATION_ID="req-42")

    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["correlation_id"] == "req-42"


def test_eager_celery_task_sees_the_callers_correlation_id(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    token = set_correlation_id("evt-81f3")
    try:
        seen = read_correlation_id.delay().get()
    finally:
        reset_correlation_id(token)

    assert seen == "evt-81f3"
    assert get_correlation_id() is None


def test_task_without_caller_id_gets_a_fresh_one(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)

    seen = read_correlation_id.delay().get()

    assert seen and len(seen) == 32
