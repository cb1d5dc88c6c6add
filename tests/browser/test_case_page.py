"""The case page as finance ops uses it: Olivia opens the exception queue, moves to the
first case with the keyboard (ArrowDown, Enter), reads what failed and what happens if
nobody acts, follows the linked subject to its record page and, from there, the link back
to the case; the blocked invoice's sync job links back to the case too. Every page on the
way passes axe (no serious or critical violation)."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from erp_sync.choices import DocumentType
from exceptions.models import Case
from tests.browser.test_accessibility import axe_violations
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)
from tests.exceptions.factories import CaseFactory
from tests.partners.factories import partner as make_partner

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]
# One screenshot per step (tests/browser/screenshots/ is git-ignored).
SCREENSHOTS = Path(
    os.environ.get("CONCORD_SCREENSHOT_DIR") or Path(__file__).parent / "screenshots"
)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"case-page-{name}.png"), full_page=True)


@pytest.fixture
def blocked():
    """An invoice whose posting waits for a missing invoice mapping rule: one grouped case
    on the ERP connection, with the invoice's sync job as its blocked record."""
    world = make_world()
    world["rules"][DocumentType.INVOICE].delete()
    invoice = make_invoice(invoice_id="INV-2026-0099")
    job = dispatch(invoice.event)[0]
    return {"case": Case.objects.get(kind="mapping_missing"), "job": job, **world}


def test_queue_to_case_to_record_and_back(logged_in_page, live_server, blocked):
    case, connection, job = blocked["case"], blocked["connection"], blocked["job"]
    case_url = re.compile(rf"/exceptions/{case.pk}/$")
    page = logged_in_page("olivia", "finance_ops")
    page.locator("nav.nav a", has_text="Exceptions").click()
    expect(page.get_by_test_id("case-table")).to_be_visible()
    assert axe_violations(page) == []

    # The keyboard: the first row is selected (visibly), Enter opens it.
    page.keyboard.press("ArrowDown")
    selected = page.locator("[data-testid=case-table] tr[data-selected]")
    expect(selected).to_have_count(1)
    expect(selected).to_have_attribute("data-case-id", str(case.pk))
    expect(selected).to_have_class(re.compile("row-selected"))
    shot(page, "queue-selected")
    page.keyboard.press("Enter")
    page.wait_for_url(case_url)

    # What failed, in finance words, and what happens if nobody acts.
    expect(page.locator("h1")).to_have_text(
        f"Case #{case.pk}: Documents cannot be posted: no mapping rule names their accounts"
    )
    # (said once: by the missing-mapping guide, in its own terms, not again by the page)
    expect(page.get_by_test_id("case-consequence")).to_have_count(0)
    expect(page.get_by_test_id("guide-consequence")).to_contain_text("cannot close")
    expect(page.get_by_test_id("case-detail")).not_to_contain_text("{'")
    expect(page.get_by_test_id("case-detail")).to_contain_text("ERP connection")
    expect(page.get_by_test_id("case-items-total")).to_contain_text("1 worth 108.00 USD")
    expect(page.get_by_test_id("case-sla")).to_contain_text("left")
    subject = page.get_by_test_id("case-subject-link")
    expect(subject).to_have_text(connection.name)
    shot(page, "case")
    assert axe_violations(page) == []

    # The subject's page, and from it the link back to the case.
    subject.click()
    page.wait_for_url(re.compile(rf"/erp/connections/{connection.pk}/$"))
    back = page.get_by_test_id("open-cases").get_by_role(
        "link", name=re.compile(f"Case #{case.pk}")
    )
    expect(back).to_have_count(1)
    shot(page, "connection")
    assert axe_violations(page) == []
    back.click()
    page.wait_for_url(case_url)

    # The blocked record: its sync job's page links back to the case too.
    page.get_by_test_id("case-items").get_by_role("link", name="invoice INV-2026-0099").click()
    page.wait_for_url(re.compile(rf"/erp/jobs/{job.pk}/$"))
    open_cases = page.get_by_test_id("open-cases")
    expect(open_cases).to_contain_text("blocks 1 record")
    shot(page, "job")
    assert axe_violations(page) == []
    open_cases.get_by_role("link", name=re.compile(f"Case #{case.pk}")).click()
    page.wait_for_url(case_url)


def test_row_keys_leave_typing_alone(logged_in_page, live_server, blocked):
    page = logged_in_page("olivia", "finance_ops")
    page.goto(f"{live_server.url}/exceptions/")
    search = page.locator("#nav-search")
    search.click()
    page.keyboard.type("jk")
    page.keyboard.press("ArrowDown")
    expect(search).to_have_value("jk")
    expect(page.locator("tr[data-selected]")).to_have_count(0)

    # Out of the field, j selects, k stays on the first row, Escape-free: Enter opens it.
    page.locator("h1").click()
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(page.locator("tr[data-selected]")).to_have_count(1)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/exceptions/{blocked['case'].pk}/$"))


def test_partner_page_with_open_cases_passes_axe(logged_in_page, live_server):
    partner = make_partner()
    case = CaseFactory(partner=partner.partner_id, kind="unknown_partner", title="Deal names it")
    page = logged_in_page("olivia", "finance_ops")
    page.goto(f"{live_server.url}/partners/{partner.pk}/")
    link = page.get_by_test_id("open-cases").get_by_role("link", name=f"Case #{case.pk}: Deal")
    expect(link).to_have_count(1)
    assert axe_violations(page) == []
