"""The access matrix: every console URL and every API operation, for every actor, against
tests/foundation/access_table.py.

Routes come from the resolver (console) and from the OpenAPI document (API), so a new view
is covered, and fails here until the table says who may use it. Path parameters are real
objects of one data set built once per module (inside a transaction rolled back at the
end); each request runs in a savepoint that is rolled back, so a command by one actor
does not change what the next one sees. One test per actor walks every route.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from config.accounts.services import api_client_create
from config.roles import PARTNER, ROLES
from tests.foundation import access_table as table

pytestmark = pytest.mark.django_db
SKIPPED_PREFIXES = ("admin/", "static/", "__debug__/")
DENIED = {"403": {403}, "401": {401}}


# --- the routes -------------------------------------------------------------------------


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if entry.namespace and namespace:
                ns = f"{namespace}:{entry.namespace}"
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name, entry


def resolver_routes() -> list[tuple[str, str | None, URLPattern]]:
    return [
        (route, name, entry)
        for route, name, entry in _walk(get_resolver().url_patterns)
        if not route.lstrip("^").startswith(SKIPPED_PREFIXES)
    ]


def _is_api(route: str, name: str | None) -> bool:
    return route.lstrip("^").startswith("api/v1/") and name not in ("api-schema", "api-docs")


def api_operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


# --- the data set -----------------------------------------------------------------------


def _build_world() -> dict:
    """One of everything a path names: its ids by the name of the collection."""
    from billing.models import CreditNote, FinanceEvent, Payment
    from erp_sync.models import MaintenanceWindow, MappingRule, SyncJob
    from erp_sync.services import dispatch
    from exceptions.models import Case
    from partners.models import Accrual, Attribution
    from partners.services import settlements as settlement_services
    from reconciliation.models import Break
    from reconciliation.services.runs import run_execute, run_start
    from tests.erp_sync.factories import (
        default_rules,
        make_credit_note,
        make_invoice,
        make_payment,
    )
    from tests.partners import factories as pf
    from tests.reconciliation import scenario

    # The partners factory numbers its event ids from 1, as the erp_sync factory does.
    pf._ids = itertools.count(900_000)
    manager = pf.user("matrix-builder", "channel_manager")
    seller = pf.partner()
    agreement = pf.agreement(of=seller)
    sub = pf.subscription(buyer=pf.customer(), seller=seller)
    pf.invoice(sub=sub, on="2026-04-02", lines=[pf.line("1000.00")])
    settlement = settlement_services.settlement_open(
        partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=manager
    )
    settlement = settlement_services.settlement_calculate(settlement=settlement, actor=manager)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("reconciliation.services.runs.run_enqueue", lambda run_id: None)
        s = scenario.build()
        run = run_start(
            entity=s.connection.entity,
            period_start=dt.date(2026, 5, 1),
            period_end=dt.date(2026, 5, 31),
            actor=None,
        )
        run = run_execute(run_id=run.pk, actor=None)
    invoice = make_invoice(entity=s.connection.entity)
    if not SyncJob.objects.exists():
        default_rules("US01")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(dispatch, "enqueue_post", lambda ids, **kwargs: None)
            dispatch.sync_jobs_create_for_event(event=invoice.event, actor=None)
    if not CreditNote.objects.exists():
        make_credit_note(invoice=invoice)
    if not Payment.objects.exists():
        make_payment(invoice=invoice, amount="10.00")
    window = MaintenanceWindow.objects.create(
        connection=s.connection,
        starts_at=timezone.now() + dt.timedelta(days=30),
        ends_at=timezone.now() + dt.timedelta(days=31),
        reason="access matrix",
    )
    event = FinanceEvent.objects.order_by("pk").first()
    case = Case.objects.order_by("pk").first()
    job = SyncJob.objects.order_by("pk").first()
    assert case and job and event, "the data set needs a case, a sync job and an event"
    return {
        "accruals": Accrual.objects.order_by("pk").first().pk,
        "agreements": agreement.pk,
        "attributions": Attribution.objects.order_by("pk").first().pk,
        "cases": case.pk,
        "connections": s.connection.pk,
        "window": window.pk,
        "credit-notes": CreditNote.objects.order_by("pk").first().credit_note_id,
        "customers": invoice.customer.customer_id,
        "event": (event.source, event.event_id, event.pk),
        "invoices": invoice.invoice_id,
        "mapping-rules": MappingRule.objects.order_by("pk").first().pk,
        "partners": seller.pk,
        "payments": Payment.objects.order_by("pk").first().payment_id,
        "reconciliation-runs": run.pk,
        "breaks": Break.objects.filter(last_seen_run=run).order_by("pk").first().pk,
        "settlements": settlement.pk,
        "subscriptions": sub.subscription_id,
        "sync-jobs": job.pk,
    }


def _actors() -> dict:
    """A person per role (the partner tied to a partner) and a bearer token per scope."""
    users = {}
    for role in ROLES:
        user = get_user_model().objects.create_user(
            username=f"matrix-{role}",
            password="correct-horse-battery",
            partner_code="ptn-matrix" if role == PARTNER else "",
        )
        user.groups.add(Group.objects.get(name=role))
        users[role] = user
    tokens = {}
    for scope in table.SCOPES:
        _, token = api_client_create(name=f"matrix-{scope}", scopes=[scope], sources=["*"])
        tokens[f"scope:{scope}"] = token
    return {"users": users, "tokens": tokens}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once; rolled back after the module (tests nest their own savepoints inside)."""
    with django_db_blocker.unblock(), transaction.atomic():
        data = {"ids": _build_world(), **_actors()}
        yield data
        transaction.set_rollback(True)


# --- filling paths ----------------------------------------------------------------------


def api_url(path: str, ids: dict) -> str:
    """The path with its parameters filled by the data set's objects."""
    source, event_id, _ = ids["event"]
    path = path.replace("{source}", source).replace("{event_id}", event_id)
    path = path.replace("{window_pk}", str(ids["window"]))
    collection = path.split("/")[3]
    if path.startswith("/api/v1/reconciliation-runs/breaks/"):
        collection = "breaks"
    return re.sub(r"\{\w+\}", str(ids.get(collection, "0")), path, count=1)


_CONSOLE_OBJECTS = {
    "exceptions": "cases",
    "erp_sync:rule": "mapping-rules",
    "erp_sync:case": "cases",
    "erp_sync:connection": "connections",
    "erp_sync:job": "sync-jobs",
    "erp_sync:closed-period": "cases",
    "partners:partner": "partners",
    "partners:attribution-new": "partners",
    "partners:attribution-edit": "attributions",
    "partners:agreement": "agreements",
    "partners:settlement": "settlements",
    "partners:statement": "settlements",
    "reconciliation:run": "reconciliation-runs",
    "reconciliation:break": "breaks",
}


def console_url(name: str, entry: URLPattern, ids: dict) -> str:
    params = set(entry.pattern.converters)
    kwargs = {}
    if "pk" in params:
        if name.startswith("billing:event"):
            kwargs["pk"] = ids["event"][2]
        else:
            key = next(k for k in _CONSOLE_OBJECTS if name.startswith(k))
            kwargs["pk"] = ids[_CONSOLE_OBJECTS[key]]
    if "window_pk" in params:
        kwargs["window_pk"] = ids["window"]
    if "invoice_id" in params:
        kwargs["invoice_id"] = ids["invoices"]
    missing = params - set(kwargs)
    assert not missing, f"access matrix: no object to fill {sorted(missing)} of {name}"
    return reverse(name, kwargs=kwargs)


# --- asking -----------------------------------------------------------------------------


def _client(actor: str, world: dict) -> Client:
    client = Client(raise_request_exception=False)
    if actor in world["users"]:
        client.force_login(world["users"][actor])
    elif actor in world["tokens"]:
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {world['tokens'][actor]}"
    return client


def _ask(client: Client, method: str, url: str):
    """The answer, in a savepoint that is rolled back so the data set stays as built."""
    with transaction.atomic():
        if method == "GET":
            response = client.get(url)
        else:
            response = getattr(client, method.lower())(
                url, data="{}", content_type="application/json"
            )
        transaction.set_rollback(True)
    return response


def verdict(expected: str, response) -> str | None:
    """None if the answer is what the table expects, else what was wrong."""
    got = response.status_code
    if expected == table.PUBLIC:
        return f"got {got}" if got >= 500 else None
    if expected == "allowed":
        location = response.get("Location", "") if got in (301, 302) else ""
        if got in (401, 403) or got >= 500 or location.startswith("/accounts/login/"):
            return f"got {got} {location}".strip()
        return None
    if expected == table.LOGIN:
        location = response.get("Location", "")
        if got == 302 and location.startswith("/accounts/login/"):
            return None
        return f"got {got} {location}".strip()
    if got in DENIED[expected]:
        return None
    return f"got {got}"


# --- the tests --------------------------------------------------------------------------


def test_every_route_has_a_row_in_the_table():
    console_missing = sorted(
        f"CONSOLE[({name!r}, <method>)]  # {route}"
        for route, name, _ in resolver_routes()
        if not _is_api(route, name) and not any(key[0] == name for key in table.CONSOLE)
    )
    api_missing = sorted(
        f"API[({method!r}, {path!r})]"
        for method, path in api_operations()
        if (method, path) not in table.API
    )
    assert not console_missing + api_missing, (
        "routes missing from tests/foundation/access_table.py (add a row each):\n"
        + "\n".join(console_missing + api_missing)
    )


def test_every_table_row_is_a_route():
    names = {name for route, name, _ in resolver_routes()}
    operations = set(api_operations())
    stale = [f"CONSOLE{key}" for key in table.CONSOLE if key[0] not in names]
    stale += [f"API{key}" for key in table.API if key not in operations]
    assert not stale, "rows of access_table.py naming no route: " + ", ".join(stale)


def test_every_api_route_of_the_resolver_is_in_the_openapi_document(world):
    """So the API walk (from the document) cannot miss a view the schema left out."""
    documented = set()
    for _method, path in api_operations():
        match = resolve(api_url(path, world["ids"]))
        documented.add(match.view_name)
    undocumented = sorted(
        f"{name} ({route})"
        for route, name, _ in resolver_routes()
        if _is_api(route, name) and name not in documented
    )
    assert not undocumented, "API routes not in /api/v1/schema/: " + ", ".join(undocumented)


@pytest.mark.parametrize("actor", table.ACTORS)
def test_access_matrix(actor, world):
    client = _client(actor, world)
    wrong = []
    asked = 0
    for method, path in api_operations():
        rule = table.API.get((method, path))
        if rule is None:
            continue  # named by test_every_route_has_a_row_in_the_table
        expected = rule.expected(actor)
        response = _ask(client, method, api_url(path, world["ids"]))
        asked += 1
        if problem := verdict(expected, response):
            wrong.append(f"{method} {path} as {actor}: {problem}, expected {expected}")
    for route, name, entry in resolver_routes():
        if _is_api(route, name):
            continue
        for (row_name, method), rule in table.CONSOLE.items():
            if row_name != name:
                continue
            expected = rule.expected(actor)
            url = console_url(name, entry, world["ids"])
            # Signing out would sign this client out for the routes after it.
            once = _client(actor, world) if name == "accounts:logout" else client
            response = _ask(once, method, url)
            asked += 1
            if problem := verdict(expected, response):
                wrong.append(f"{method} {url} ({name}) as {actor}: {problem}, expected {expected}")
    assert asked >= len(table.API)
    assert not wrong, f"{len(wrong)} answers differ from access_table.py:\n" + "\n".join(wrong)


# --- object level -----------------------------------------------------------------------


def _as(actor: str, world: dict) -> Client:
    return _client(actor, world)


def _post(client: Client, url: str, body: dict):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_settlement_command_ignores_amounts_approver_and_state_sent_with_it(world):
    from partners.models import Settlement

    pk = world["ids"]["settlements"]
    before = Settlement.objects.get(pk=pk)
    forged = {"total_amount": "999999.00", "state": "paid", "approved_by": "matrix-finance_ops"}

    response = _post(_as("channel_manager", world), f"/api/v1/settlements/{pk}/calculate", forged)

    after = Settlement.objects.get(pk=pk)
    assert response.status_code == 200, response.content
    assert (after.state, after.total_amount) == (before.state, before.total_amount)
    assert after.approved_by_id is None
    assert response.json()["state"] == before.state


def test_mapping_rule_create_ignores_version_activity_and_lineage_sent_with_it(world):
    from erp_sync.models import MappingRule

    body = {
        "name": "matrix rule",
        "product_family": "matrix-only",
        "valid_from": "2026-01-01",
        "id": 424242,
        "version": 7,
        "is_active": False,
        "specificity": 99,
        "supersedes": world["ids"]["mapping-rules"],
    }

    response = _post(_as("integration_admin", world), "/api/v1/mapping-rules", body)

    assert response.status_code == 201, response.content
    rule = MappingRule.objects.get(pk=response.json()["id"])
    assert rule.pk != 424242
    assert (rule.version, rule.is_active, rule.supersedes_id) == (1, True, None)
    assert rule.specificity == 1  # product_family only


def test_case_acknowledge_ignores_state_and_resolution_sent_with_it(world):
    from exceptions.models import Case

    pk = world["ids"]["cases"]
    forged = {"state": "resolved", "resolution": "forged", "resolved_at": "2026-01-01T00:00Z"}

    response = _post(_as("finance_ops", world), f"/api/v1/cases/{pk}/acknowledge", forged)

    case = Case.objects.get(pk=pk)
    assert response.status_code == 200, response.content
    assert (case.state, case.resolution, case.resolved_at) == ("acknowledged", "", None)


def test_client_bound_to_another_source_cannot_replay_or_read_the_event(world):
    source, event_id, _ = world["ids"]["event"]
    _, token = api_client_create(name="matrix-crm", scopes=["events:write"], sources=["crm"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    replay = _post(client, f"/api/v1/events/{source}/{event_id}/replay", {})
    read = client.get(f"/api/v1/events/{source}/{event_id}")

    assert replay.status_code == 403
    assert repr(source) in replay.json()["errors"][0]["message"]
    assert read.status_code == 403  # events:write without read


def test_partner_user_gets_404_for_another_partners_object_and_403_for_internal_ones(world):
    """The portal: settlements and accruals are scoped to the user's own partner, so another
    partner's object does not exist for them (404, not 403: its existence is not revealed);
    partners and agreements are internal (403)."""
    client = _as("partner", world)
    expected = {"settlements": 404, "accruals": 404, "partners": 403, "agreements": 403}
    for collection, status in expected.items():
        response = client.get(f"/api/v1/{collection}/{world['ids'][collection]}/")
        assert response.status_code == status, (collection, response.status_code)
    pk = world["ids"]["settlements"]
    for name in ("partners:settlement-detail", "partners:statement-csv"):
        response = client.get(reverse(name, kwargs={"pk": pk}), follow=False)
        assert response.status_code == 404, (name, response.status_code)
