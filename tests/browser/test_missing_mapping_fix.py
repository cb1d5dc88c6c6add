"""The guided fix of a missing mapping, as finance ops sees it: Fiona (finance ops, who also
administers the ERP mappings) filters the exception queue to missing mapping rules, opens the
one case that groups three support invoices no rule maps, reads how many and how much they
are, creates the rule from the case (prefilled, the accounts chosen from the sandbox ERP's
chart), previews the journal lines on a blocked invoice, saves, replays the blocked jobs from
the case and watches the replay's progress reach done; the case is resolved and an invoice
shows it posted in the ERP. axe finds no serious or critical violation on the new pages.

The bulk replay's worker is the test itself: starting it from the case queues it (the page
polls its progress) and the test runs it as the Celery task would; postings run inline
(eager Celery).
"""

import os
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from config.money_tags import money
from erp_sync.choices import DocumentType
from erp_sync.services import bulk
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import AXE, BLOCKING, axe_violations
from tests.erp_sync.factories import RECEIVABLE, REVENUE_SERVICES, line, make_invoice
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
# The case page is another flow's; this one adds its guide section.
GUIDE = "[data-testid=case-guide]"
SCREENSHOTS = Path(
    os.environ.get("CONCORD_SCREENSHOT_DIR") or Path(__file__).parent / "screenshots"
)


@pytest.fixture
def blocked():
    """Three US01 support invoices dispatched while no invoice rule exists: one case."""
    world = make_world()
    world["rules"][DocumentType.INVOICE].delete()
    invoices = [
        make_invoice(invoice_id=f"INV-2026-01{n}", lines=[line(amount, family="support")])
        for n, amount in ((1, "1200.00"), (2, "800.00"), (3, "450.25"))
    ]
    for invoice in invoices:
        dispatch(invoice.event)
    return invoices


@pytest.fixture
def queued(monkeypatch):
    """Bulk actions started from the console stay queued for the test to run (the worker)."""
    started: list[int] = []
    monkeypatch.setattr(bulk, "bulk_action_enqueue", started.append)
    return started


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"missing-mapping-{name}.png"), full_page=True)


def no_serious_violations(page, found: dict, within: str = "") -> None:
    """axe on the page, or only on the part `within` (a CSS selector) of a page that is not
    this flow's own (the case page: its guide section)."""
    if not within:
        violations = axe_violations(page)
    else:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(AXE.read_text())
        result = page.evaluate(
            """async (selector) => {
                const r = await axe.run(selector, {resultTypes: ['violations']});
                return r.violations.map(v => ({id: v.id, impact: v.impact,
                    targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
            }""",
            within,
        )
        violations = [v for v in result if v["impact"] in BLOCKING]
    if violations:
        found[f"{page.url} {within}".strip()] = violations


def test_filter_open_create_rule_preview_save_replay_and_see_it_posted(
    page, live_server, browser_user, blocked, queued
):
    browser_user("fiona", "finance_ops", "integration_admin")
    sign_in(page, live_server, "fiona")
    page.wait_for_url(f"{live_server.url}/")
    found: dict = {}

    # The queue, filtered to missing mapping rules: one case grouping the three invoices.
    page.goto(f"{live_server.url}/exceptions/")
    filters = page.get_by_test_id("case-filters")
    filters.get_by_label("Kind").select_option("mapping_missing")
    filters.get_by_role("button", name="Filter").click()
    rows = page.locator("tr[data-case-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("No mapping rule")
    rows.first.get_by_role("link", name="No invoice rule for US01 / support").click()

    # The case in finance words: what is missing, how many, how much, what if nobody acts.
    guide = page.get_by_test_id("case-guide")
    expect(guide.get_by_test_id("guide-what")).to_contain_text("No invoice rule for US01 / support")
    total = money(Decimal("2450.25"), "USD")
    expect(guide.get_by_test_id("guide-blocked")).to_contain_text(
        f"3 invoices blocked, worth {total}, dated May 2026"
    )
    expect(guide.get_by_test_id("guide-consequence")).to_contain_text(
        "never reach the ledger of US01, and May 2026 cannot close"
    )
    case_url = page.url
    no_serious_violations(page, found, GUIDE)
    shot(page, "1-case")

    # The rule form, prefilled from the case; the accounts are choices from the ERP's chart.
    guide.get_by_role("link", name="Create the rule").click()
    expect(page.get_by_test_id("rule-case")).to_contain_text("No invoice rule for US01 / support")
    form = page.get_by_test_id("rule-form")
    expect(form.locator("input[name=entity]")).to_have_value("US01")
    expect(form.locator("select[name=document_type]")).to_have_value("invoice")
    expect(form.locator("input[name=product_family]")).to_have_value("support")
    expect(form.locator("input[name=valid_from]")).to_have_value("2026-05-01")
    revenue = form.get_by_label("Revenue account")
    expect(
        revenue.locator("option", has_text=f"{REVENUE_SERVICES} — Services revenue")
    ).to_have_count(1)
    revenue.select_option(REVENUE_SERVICES)
    form.get_by_label("Receivable account").select_option(RECEIVABLE)
    no_serious_violations(page, found)

    # Preview on a blocked invoice before saving: the journal lines it would post.
    form.get_by_label("Blocked document").select_option(label="invoice INV-2026-012")
    form.get_by_role("button", name="Preview the journal lines").click()
    result = page.get_by_test_id("preview-result")
    expect(result).to_contain_text("What invoice INV-2026-012 would post to")
    expect(result).to_contain_text("this rule, not saved yet")
    expect(result).to_contain_text("balanced")
    expect(result.locator("tbody tr", has_text=RECEIVABLE)).to_contain_text("800.00")
    expect(result.locator("tbody tr", has_text=REVENUE_SERVICES)).to_contain_text("800.00")
    no_serious_violations(page, found)
    shot(page, "2-rule-preview")

    # Save: back on the case, which now offers to replay the blocked jobs.
    form.get_by_role("button", name="Save the rule").click()
    page.wait_for_url(case_url)
    expect(page.locator(".msg-success")).to_contain_text("Saved")
    guide = page.get_by_test_id("case-guide")
    expect(guide).to_contain_text("A rule maps them now.")
    guide.get_by_role("button", name="Replay the 3 blocked jobs").click()

    # The replay runs as one bulk action; its progress shows live on the case.
    page.wait_for_url(case_url)
    expect(page.get_by_test_id("bulk-state")).to_have_text("Running")
    expect(page.get_by_test_id("bulk-done")).to_have_text("0 of 3")
    expect(page.get_by_test_id("guide-replay")).to_have_count(0)
    no_serious_violations(page, found, GUIDE)
    shot(page, "3-replay-running")
    [action_id] = queued
    bulk.bulk_action_run(action_id=action_id)
    expect(page.get_by_test_id("bulk-state")).to_have_text("Completed")
    expect(page.get_by_test_id("bulk-done")).to_have_text("3 of 3")
    expect(page.get_by_test_id("bulk-counts")).to_contain_text("3 replayed")

    # The case resolved itself, the reason in its history.
    expect(page.get_by_test_id("case-state")).to_have_text("Resolved")
    expect(page.get_by_test_id("guide-done")).to_contain_text("Nothing is blocked any more")
    history = page.locator("section", has=page.get_by_role("heading", name="History"))
    expect(history.locator("tbody tr").first).to_contain_text("all blocked records cleared")
    no_serious_violations(page, found, GUIDE)
    shot(page, "4-case-resolved")

    # An invoice of the case is posted in the ERP.
    page.goto(f"{live_server.url}/billing/invoices/INV-2026-011/")
    expect(page.get_by_test_id("erp-status")).to_contain_text("Posted")
    shot(page, "5-invoice-posted")
    assert found == {}
