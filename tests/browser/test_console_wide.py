"""Console-wide conventions in the browser: lineage from any id, the auditor's read-only
view of rule versions and the audit log, a list page at 1024 px, the `/` shortcut.

Records come from the real services in the test's thread; the live server reads the same
database (transactional tests). Screenshots land in tests/browser/screenshots/ (ignored)."""

from pathlib import Path

import pytest

from erp_sync.models import MappingRule, SyncJob
from erp_sync.services.rules import mapping_rule_revise
from tests.erp_sync.factories import make_invoice, sandbox_accounts
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
SHOTS = Path(__file__).parent / "screenshots"


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def posted():
    """Invoice INV-2026-0042 posted to the sandbox ERP through one sync job."""
    world = make_world()
    invoice = make_invoice(invoice_id="INV-2026-0042")
    job = dispatch(invoice.event)[0]
    job.refresh_from_db()
    assert job.state == "posted" and job.erp_number
    return {"world": world, "invoice": invoice, "job": job}


def test_lineage_from_an_erp_document_number_reaches_the_event_and_back(
    logged_in_page, live_server, posted
):
    job, invoice = posted["job"], posted["invoice"]
    page = logged_in_page("olivia", "finance_ops")

    page.keyboard.press("/")  # the shortcut focuses the search box
    page.keyboard.type(job.erp_number)
    page.keyboard.press("Enter")

    page.wait_for_url("**/erp/lineage/?q=*")
    chain = page.locator("[data-testid=lineage-chain]")
    assert (
        chain.locator("[data-step=erp_document]")
        .inner_text()
        .startswith(f"ERP document {job.erp_number}")
    )
    assert "Posted" in chain.locator("[data-step=job]").inner_text()
    assert "Attempt 1" in chain.locator("[data-step=attempt]").inner_text()
    shot(page, "lineage_from_erp_number")

    chain.locator("[data-step=event] > a").click()  # to the original event
    page.wait_for_url(f"{live_server.url}/billing/events/{invoice.event.pk}/")
    assert invoice.event.event_id in page.locator("h1").inner_text()
    assert page.locator("[data-testid=event-state]").inner_text() == "Applied"

    page.locator("[data-testid=event-jobs] a", has_text=f"Sync job #{job.pk}").click()
    page.wait_for_url(f"{live_server.url}/erp/jobs/{job.pk}/")
    page.locator("[data-testid=erp-document]").click()  # and back to the ERP document
    page.wait_for_url("**/erp/lineage/?q=*")
    assert (
        page.locator("[data-testid=lineage-chain] [data-step=event]")
        .inner_text()
        .startswith(f"Event {invoice.event.source}/{invoice.event.event_id}")
    )


def test_auditor_sees_rule_versions_and_the_audit_log_and_no_action(
    logged_in_page, live_server, posted, browser_user
):
    admin = browser_user("ines", "integration_admin")
    rule = MappingRule.objects.get(is_active=True, document_type="invoice")
    old_account = rule.revenue_account
    sandbox_accounts(posted["world"]["connection"], ["4999"])
    mapping_rule_revise(rule=rule, data={"revenue_account": "4999"}, actor=admin)
    page = logged_in_page("audrey", "auditor")

    page.locator("nav.nav a", has_text="Mapping rules").click()
    page.locator("[data-testid=rule-table] a", has_text=rule.name).first.click()
    versions = page.locator("[data-testid=rule-versions]")
    assert versions.locator("tbody tr").count() >= 2
    newest = versions.locator("tr[data-version='2']")
    assert "ines" in newest.inner_text()
    assert f"Revenue account: {old_account} → 4999" in newest.inner_text()
    assert page.locator("main form[method=post]").count() == 0
    assert page.locator("main button").count() == 0
    shot(page, "auditor_rule_versions")

    page.locator("nav.nav a", has_text="Audit log").click()
    assert page.locator("h1").inner_text() == "Audit log"
    table = page.locator("[data-testid=audit-table]")
    assert table.locator("tr[data-source='erp_sync.mappingrule']").count() >= 3
    assert table.locator("tr[data-source='security event']").count() >= 1
    page.select_option("select[name=model]", "erp_sync.mappingrule")
    page.fill("input[name=actor]", "ines")
    page.locator("[data-testid=audit-filters] button[type=submit]").click()
    page.wait_for_url("**/accounts/audit-log/?*")
    rows = table.locator("tbody tr")
    assert rows.count() == 2  # the new version and the old one deactivated, both by ines
    assert all("ines" in rows.nth(i).inner_text() for i in range(rows.count()))
    assert page.locator("main form[method=post]").count() == 0
    shot(page, "auditor_audit_log")

    # The job page shows no replay or cancel to the auditor.
    page.goto(f"{live_server.url}/erp/jobs/{posted['job'].pk}/")
    assert page.locator("[data-testid=job-actions]").count() == 0


def test_list_pages_do_not_overflow_at_1024_px(logged_in_page, live_server, posted):
    for n in range(3):  # several rows, with ids long enough to push a naive table wider
        dispatch(make_invoice(invoice_id=f"INV-{'EXTERNALREFERENCE' * 4}-{n}").event)
    assert SyncJob.objects.count() == 4
    page = logged_in_page("olivia", "finance_ops")
    page.set_viewport_size({"width": 1024, "height": 768})

    for path in ("/erp/jobs/", "/billing/invoices/", "/billing/events/", "/exceptions/"):
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} is {overflow} px wider than a 1024 px window"
        shot(page, "at_1024" + path.replace("/", "_").rstrip("_"))
    page.goto(f"{live_server.url}/erp/jobs/")
    assert page.locator("main table tbody tr").count() == 4  # the rows are there, not hidden
