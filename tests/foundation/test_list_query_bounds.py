"""Every list page and every API list reads in a number of queries that does not grow with
its rows.

The routes are walked as the access matrix walks them: every console page without a path
parameter and every API GET whose path ends in a collection (no trailing `{id}`), so a new
list is covered without being named here. The data set is the access matrix's, grown by
`_grow` (one more of everything: events, invoices, credit notes, payments, sync jobs, cases,
partners with accruals and a settlement, reconciliation runs with breaks and matches,
maintenance windows, mapping rules). Each route is asked once to warm caches, then counted;
the data set grows again and the count must not move. Counting grown against grown (not
against empty) keeps prefetches honest: a prefetch on no rows asks nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.accounts.services import api_client_create
from tests.foundation import access_table as table
from tests.foundation.test_access_matrix import (
    _build_world,
    _is_api,
    api_operations,
    resolver_routes,
)

pytestmark = pytest.mark.django_db
_round = itertools.count(1)


def console_lists() -> list[str]:
    """URL names of the console pages a GET reads without a path parameter."""
    return sorted(
        name
        for route, name, entry in resolver_routes()
        if name
        and not _is_api(route, name)
        and not entry.pattern.converters
        and ("CONSOLE", name) not in _SKIPPED
        and table.CONSOLE.get((name, "GET")) is not None
    )


def api_lists() -> list[str]:
    """API collection paths a GET reads (the path does not end in a parameter)."""
    return sorted(
        path
        for method, path in api_operations()
        if method == "GET" and not path.rstrip("/").endswith("}") and "{" not in path
        and ("API", path) not in _SKIPPED
    )  # fmt: skip


# Not lists: sign-in steps, empty forms and probes.
_SKIPPED = {
    ("CONSOLE", "accounts:login"),
    ("CONSOLE", "accounts:otp-setup"),
    ("CONSOLE", "accounts:otp-verify"),
    ("CONSOLE", "accounts:password-change"),
    ("CONSOLE", "erp_sync:connection-create"),
    ("CONSOLE", "erp_sync:rule-create"),
    ("CONSOLE", "erp_sync:rule-preview"),
    ("CONSOLE", "healthz"),
    ("CONSOLE", "readyz"),
    ("CONSOLE", "metrics"),
    ("CONSOLE", "api-schema"),
    ("CONSOLE", "api-docs"),
}
# The query a list needs to answer at all (the same every time).
_QUERY = {
    "/api/v1/close-checklist/": "?entity=US01&period=2026-05",
    "/api/v1/kpis/": "?entity=US01&period=2026-05",
}


def _grow() -> None:
    """One more of every kind of row the lists show."""
    from erp_sync.models import Connection, MaintenanceWindow
    from erp_sync.services import dispatch
    from partners.services import settlements as settlement_services
    from reconciliation.services.runs import run_execute, run_start
    from tests.erp_sync.factories import (
        CustomerFactory,
        LegalEntityFactory,
        MappingRuleFactory,
        line,
        make_credit_note,
        make_invoice,
        make_payment,
    )
    from tests.partners import factories as pf
    from tests.reconciliation.factories import erp_post

    n = next(_round)
    entity = LegalEntityFactory(code="US01")
    erp = Connection.objects.filter(entity=entity).order_by("pk").first()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatch, "enqueue_post", lambda ids, **kwargs: None)
        patch.setattr("reconciliation.services.runs.run_enqueue", lambda run_id: None)
        for k in range(2):
            customer = CustomerFactory(entity=entity, customer_id=f"cus_grow_{n}_{k}")
            invoice = make_invoice(
                entity=entity,
                customer=customer,
                invoice_id=f"INV-grow-{n}-{k}",
                issue_date=dt.date(2026, 5, 10),
                lines=[line("100.00", tax="8.00", tax_code="US-ST")],
            )
            dispatch.sync_jobs_create_for_event(event=invoice.event, actor=None)
            make_credit_note(invoice=invoice)
            make_payment(invoice=invoice, amount="10.00")
            if k == 0:
                erp_post(erp, invoice, total_amount=Decimal("999.00"))  # an amount break
        # A case on a quarantined event: a payment from a customer nobody has sent.
        pf.ingest("payment.settled", {
            "payment_id": f"pay_orphan_{n}", "customer_id": f"cus_never_{n}",
            "amount": "5.00", "currency": "USD", "received_at": "2026-05-12T10:00:00Z",
            "method": "card",
        })  # fmt: skip
        MappingRuleFactory(name=f"grow rule {n}", entity="US01")
        MaintenanceWindow.objects.create(
            connection=erp,
            starts_at=timezone.now() + dt.timedelta(days=40 + n),
            ends_at=timezone.now() + dt.timedelta(days=41 + n),
            reason=f"grow {n}",
        )
        seller = pf.partner()
        pf.agreement(of=seller)
        sub = pf.subscription(buyer=pf.customer(), seller=seller)
        pf.invoice(sub=sub, on="2026-04-03", lines=[pf.line("500.00")])
        manager = get_user_model().objects.get(username="matrix-builder")
        settlement = settlement_services.settlement_open(
            partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=manager
        )
        settlement_services.settlement_calculate(settlement=settlement, actor=manager)
        run = run_start(
            entity=entity,
            period_start=dt.date(2026, 5, 1),
            period_end=dt.date(2026, 5, 31),
            actor=None,
        )
        run_execute(run_id=run.pk, actor=None)


@pytest.fixture(scope="module")
def grown(django_db_setup, django_db_blocker):
    """The access matrix's data set grown once; rolled back after the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        _build_world()
        _grow()
        admin = get_user_model().objects.create_superuser(
            username="bounds-admin", password="correct-horse-battery"
        )
        _, token = api_client_create(name="bounds", scopes=list(table.SCOPES), sources=["*"])
        yield {"admin": admin, "token": token}
        transaction.set_rollback(True)


def _counts(grown: dict, asks: list[tuple[str, str]]) -> dict[str, int]:
    """Queries per URL: asked once to warm the caches, then counted."""
    console = Client()
    console.force_login(grown["admin"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {grown['token']}")
    counts, refused = {}, {}
    for kind, url in asks:
        client = api if kind == "API" else console
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        if response.status_code != 200:
            refused[url] = response.status_code
        counts[url] = len(queries)
    assert not refused, f"lists that did not answer 200: {refused}"
    return counts


def test_every_list_is_walked():
    """The walk finds the lists (a broken walk would make the bound test vacuous)."""
    consoles, apis = console_lists(), api_lists()
    assert {"exceptions:case-list", "erp_sync:job-list", "billing:invoice-list"} <= set(consoles)
    assert {"/api/v1/cases/", "/api/v1/invoices/", "/api/v1/sync-jobs/"} <= set(apis)
    assert len(consoles) >= 15 and len(apis) >= 15, (consoles, apis)


def test_list_query_counts_do_not_grow_with_rows(grown, settings):
    # The API key cache lives 5 s from the request that filled it: a counted request just
    # past that moment would look the client up again. Always look it up instead.
    settings.CONCORD_API_KEY_CACHE_SECONDS = 0
    asks = [("CONSOLE", reverse(name)) for name in console_lists()]
    asks += [("API", path + _QUERY.get(path, "")) for path in api_lists()]
    before = _counts(grown, asks)
    _grow()
    _grow()
    after = _counts(grown, asks)
    grew = {url: (before[url], after[url]) for url in before if after[url] > before[url]}
    assert not grew, f"query counts grew with rows (before, after): {grew}"
