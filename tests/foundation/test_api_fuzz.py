"""schemathesis against the OpenAPI document (/api/v1/schema/, drf-spectacular's generator).

With a client holding every scope and every source: no 5xx, every answer conforms to its
schema (status code, content type, body, headers), malformed input is refused with a 4xx,
and a 400 has the error shape {"errors": [{"field", "code", "message"}]}. Without
credentials every operation answers 401 in that shape. The stateful phase chains calls
along the links schemathesis infers (a listed or created object read, changed or acted on
next), with the same checks. Bounded: few examples per operation and no deadline, so it fits
in `make test`.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    negative_data_rejection,
    positive_data_acceptance,
)

from config.accounts.models import API_SCOPES
from config.accounts.services import api_client_create

EXAMPLES = 10
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _schema(*phases: str):
    # Built at collection (no database needed); `from_fixture` does not work with pytest 9.
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = get_wsgi_application()
    loaded.config.phases.update(phases=list(phases))
    return loaded


@pytest.fixture(autouse=True)
def keep_test_connection():
    """As Django's test client does: the WSGI app's request signals must not close the
    connection that holds the test's transaction (on PostgreSQL it would)."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def bearer(db) -> dict:
    _, token = api_client_create(name="fuzz", scopes=list(API_SCOPES), sources=["*"])
    return {"Authorization": f"Bearer {token}"}


# The coverage phase sends boundary and malformed values (the 400 answers); fuzzing, random ones.
schema = _schema("examples", "coverage", "fuzzing")
anonymous_schema = _schema("fuzzing")


@schemathesis.check
def error_shape(ctx, response, case):
    """Every 4xx JSON body, and every 400, is {"errors": [{"field", "code", "message"}, ...]}."""
    if response.status_code < 400 or response.status_code >= 500:
        return True
    is_json = "json" in (response.headers.get("content-type") or [""])[0]
    if response.status_code != 400 and not is_json:
        return True  # Django's own 404 for a path that resolves to no route
    body = response.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    assert isinstance(errors, list) and errors, f"4xx without an errors list: {body!r}"
    for item in errors:
        assert set(item) == {"field", "code", "message"}, f"error item shape: {item!r}"
    return True


@schemathesis.check
def malformed_body_rejected(ctx, response, case):
    """A body that violates the schema is refused (4xx).

    The built-in negative_data_rejection also asks it of query parameters, which
    django-filter's widgets and DRF's paginators ignore when malformed (listed in
    docs/decisions.md); here it is asked of bodies only.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return None
    negative = {where for where, info in meta.components.items() if info.mode.is_negative}
    if negative != {ParameterLocation.BODY}:
        return None
    if "Incorrect type" in (meta.phase.data.description or ""):
        return None  # DRF coerces scalars: 0 for a string field is read as "0" (decisions.md)
    return negative_data_rejection(ctx, response, case)


@schema.parametrize()
@FUZZ
def test_fuzz_authorised_client_conforms(case, bearer):
    case.call_and_validate(
        headers=bearer,
        # Random ids are 404 and commands on real objects may be 409: not a rejection of
        # valid data. Query leniency: see malformed_body_rejected.
        excluded_checks=[positive_data_acceptance, negative_data_rejection],
        additional_checks=[error_shape, malformed_body_rejected],
    )


@anonymous_schema.parametrize()
@settings(FUZZ, max_examples=2)
def test_fuzz_without_credentials_is_401(case, db):
    response = case.call()
    try:
        resolve(case.formatted_path)
    except Resolver404:
        # A generated path parameter the route's pattern refuses (/windows/%C2%84/): no view.
        assert response.status_code == 404, (case.operation.label, response.status_code)
        assert response.json()["errors"][0]["code"] == "not_found"
        return
    assert response.status_code == 401, (case.operation.label, response.status_code)
    # Generated Authorization headers (the document's security schemes) are refused too.
    [problem] = response.json()["errors"]
    assert problem["code"] in ("not_authenticated", "authentication_failed"), problem


stateful_schema = _schema("stateful")
# Links inferred from the response schemas and path parameters (schemathesis' dependency
# analysis runs in as_state_machine): an object one call creates or lists is what the next
# call reads, replays or changes.
Workflow = stateful_schema.as_state_machine()


def test_fuzz_stateful_sequences_conform(bearer):
    """The stateful phase: call sequences along the inferred links, with the same checks."""
    # Inferred: e.g. GET /connections/ -> 200 feeds GET/PUT/PATCH /connections/{id}/.
    transitions = [name for name in vars(Workflow) if "__" in name and name[0].isupper()]
    assert len(Workflow.bundles) >= 10 and len(transitions) >= 20, (Workflow.bundles, transitions)

    class Authorised(Workflow):
        def get_call_kwargs(self, case):
            return {"headers": bearer}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                # The bearer replaces the generated auth headers (ignored_auth would read the
                # generated ones as invalid); anonymous calls are test_fuzz_without_credentials.
                excluded_checks=[positive_data_acceptance, negative_data_rejection, ignored_auth],
                additional_checks=[error_shape],
            )

    Authorised.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
