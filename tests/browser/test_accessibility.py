"""axe-core (vendored: static/vendor/axe-core/, see VERSION.md) on the main console pages:
no serious or critical violation.

The pages' CSP allows no inline script, so axe is not added as a <script> tag: Playwright
evaluates its source through the DevTools protocol, which the page's CSP does not govern.
"""

from pathlib import Path

import pytest
from django.conf import settings

from tests.browser.conftest import sign_in
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]
AXE = Path(settings.BASE_DIR) / "static" / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    """Serious and critical violations on the page as it is now: rule id, impact, targets."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in BLOCKING]


@pytest.fixture
def world():
    make_world()
    invoice = make_invoice(invoice_id="INV-2026-0042")
    job = dispatch(invoice.event)[0]
    job.refresh_from_db()
    return {"invoice": invoice, "job": job}


def test_axe_runs_under_the_csp_and_sees_a_planted_violation(logged_in_page, live_server):
    page = logged_in_page("olivia", "finance_ops")
    # An image without alt text is a critical violation: proves axe ran and reports.
    page.evaluate(
        "() => { const i = document.createElement('img'); i.src = '/static/x.png';"
        " document.querySelector('main').appendChild(i); }"
    )
    assert "image-alt" in {v["id"] for v in axe_violations(page)}


def test_main_pages_have_no_serious_accessibility_violation(
    logged_in_page, live_server, world, browser_user
):
    event, job = world["invoice"].event, world["job"]
    ops_pages = [
        "/",
        "/exceptions/",
        "/billing/events/",
        f"/billing/events/{event.pk}/",
        "/billing/invoices/",
        "/billing/invoices/INV-2026-0042/",
        "/erp/jobs/",
        f"/erp/jobs/{job.pk}/",
        "/erp/connections/",
        "/erp/rules/",
        f"/erp/rules/{job.mapping_rules.first().pk}/versions",
        f"/erp/lineage/?q={job.erp_number}",
        "/reconciliation/runs/",
        "/partners/",
        "/billing/invoices/no-such-invoice/",  # the 404 page
    ]
    page = logged_in_page("olivia", "finance_ops")
    found = {}
    for path in ops_pages:
        page.goto(f"{live_server.url}{path}")
        violations = axe_violations(page)
        if violations:
            found[path] = violations

    browser_user("audrey", "auditor")
    page.context.clear_cookies()
    sign_in(page, live_server, "audrey")
    page.wait_for_url(f"{live_server.url}/")
    # The auditor's own pages, and a page it may not open (the styled 403).
    for path in ("/accounts/audit-log/", "/accounts/security-events/", "/erp/rules/new"):
        page.goto(f"{live_server.url}{path}")
        violations = axe_violations(page)
        if violations:
            found[path] = violations

    assert found == {}
