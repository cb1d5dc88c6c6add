"""The dashboard's live figures as finance ops sees them: charts drawn by the vendored
Chart.js under the CSP, the same numbers in tables, each a link to the records behind it."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from billing.models import DuplicateDeliveryCount
from erp_sync.models import SyncJob
from exceptions.kinds import CaseKind
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import axe_violations
from tests.erp_sync.factories import ConnectionFactory, FinanceEventFactory, LegalEntityFactory
from tests.exceptions.factories import CaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    now = timezone.now()
    for hours in (2, 30, 200):
        CaseFactory(
            kind="unknown_customer", severity="high", first_seen_at=now - dt.timedelta(hours=hours)
        )
    CaseFactory(kind="unknown_customer", severity="low", first_seen_at=now)
    CaseFactory(kind="mapping_missing", severity="critical", first_seen_at=now)
    CaseFactory(kind="unknown_customer", severity="high", resolved=True)
    connection = ConnectionFactory(name="sandbox-us", entity=LegalEntityFactory(code="US01"))
    for index, (state, seconds) in enumerate(
        [("posted", 12), ("posted", 40), ("posted", 95), ("dead", 0), ("held", 0), ("pending", 0)]
    ):
        SyncJob.objects.create(
            event=FinanceEventFactory(),
            connection=connection,
            document_type="invoice",
            external_id=f"x-{index}",
            state=state,
            created_at=now - dt.timedelta(minutes=10, seconds=seconds),
            posted_at=now - dt.timedelta(minutes=10) if state == "posted" else None,
            hold_reason="paused" if state == "held" else "",
        )
    DuplicateDeliveryCount.objects.create(entity="US01", day=now.date(), duplicates=4, conflicts=1)


def test_finance_ops_sees_the_figures_drawn_and_follows_a_backlog_number(
    page, live_server, browser_user
):
    _world()
    browser_user("olivia", "finance_ops")
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    sign_in(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")

    dashboard = page.get_by_test_id("dashboard")
    dashboard.wait_for()
    assert dashboard.get_by_test_id("as-of").inner_text().startswith("As of ")
    assert [p.get_attribute("data-testid") for p in dashboard.locator("section.panel").all()] == [
        "panel-backlog",
        "panel-postings",
        "panel-latency",
        "panel-duplicates",
        "panel-settlements",
        "panel-breaks",
    ]
    # Every chart was drawn: a Chart.js chart on a canvas of non-zero size with ink on it.
    canvases = dashboard.locator("canvas[data-chart]")
    assert canvases.count() >= 5
    for canvas in canvases.all():
        box = canvas.bounding_box()
        assert box and box["width"] > 50 and box["height"] > 50
        drawn = canvas.evaluate(
            """c => { if (!window.Chart.getChart(c)) return 0;
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let ink = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) ink++;
                return ink; }"""
        )
        assert drawn > 100, canvas.get_attribute("data-chart")

    # The numbers, as people read them.
    kind = page.get_by_test_id("table-backlog-kind")
    row = kind.locator(f"tr[data-row='{CaseKind('unknown_customer').label}']")
    assert row.locator("td[data-series='high']").inner_text() == "3"
    assert row.locator("td[data-series='total']").inner_text() == "4"
    ages = page.get_by_test_id("table-backlog-age")
    assert ages.locator("tr[data-row='Under a day'] td[data-series='total']").inner_text() == "3"
    postings = page.get_by_test_id("table-postings").locator("tr[data-row='US01 · sandbox-us']")
    assert postings.locator("td[data-series='posted']").inner_text() == "3"
    assert postings.locator("td[data-series='dead']").inner_text() == "1"
    latency = page.get_by_test_id("table-latency").locator("tr[data-row='Last 24 hours']")
    assert latency.locator("td[data-series='p50']").inner_text() == "40 s"
    assert latency.locator("td[data-series='total']").inner_text() == "3"
    duplicates = page.get_by_test_id("table-duplicates").locator("tr[data-row='Today (UTC)']")
    assert duplicates.locator("td[data-series='total']").inner_text() == "5"

    assert axe_violations(page) == []
    if os.environ.get("CONCORD_SCREENSHOT_DIR"):  # for people, not an assertion
        page.screenshot(
            path=os.path.join(os.environ["CONCORD_SCREENSHOT_DIR"], "dashboard-figures.png"),
            full_page=True,
        )

    # A backlog number is a link to the queue filtered to exactly those cases.
    row.locator("td[data-series='high'] a").click()
    page.wait_for_url("**/exceptions/?**")
    assert "kind=unknown_customer" in page.url and "severity=high" in page.url
    assert page.get_by_test_id("case-table").locator("tbody tr[data-case-id]").count() == 3
    assert violations == []


def test_the_figures_reload_in_place_and_are_drawn_again(page, live_server, browser_user):
    _world()
    browser_user("olivia", "finance_ops")
    sign_in(page, live_server, "olivia")
    dashboard = page.get_by_test_id("dashboard")
    dashboard.wait_for()
    assert dashboard.get_attribute("hx-trigger") == "every 30s"
    page.evaluate("() => { document.getElementById('dashboard').dataset.stale = 'yes'; }")

    # What the 30 s poll does, without waiting for it: the same request, swapped in place.
    page.evaluate(
        "() => htmx.ajax('GET', document.getElementById('dashboard').getAttribute('hx-get'),"
        " {target: '#dashboard', swap: 'outerHTML'})"
    )
    page.wait_for_function(
        "() => document.getElementById('dashboard') && !document.getElementById('dashboard')"
        ".dataset.stale && document.querySelector('#dashboard canvas[data-chart]')"
    )

    assert page.locator("#dashboard").count() == 1
    canvases = page.locator("#dashboard canvas[data-chart]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#dashboard canvas[data-chart]')]"
        ".every(c => !!window.Chart.getChart(c))"
    )
    assert canvases.count() >= 5
