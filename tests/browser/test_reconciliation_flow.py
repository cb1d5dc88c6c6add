"""Reconciliation in the console, as finance ops sees it: Fiona starts a run of May 2026 for
US01, watches its progress while the worker lists the ERP and matches, opens the break of an
invoice whose posting died (missing in the ERP), replays the missing posting from the break,
starts the run again and sees the break resolved, and its case resolved with it.

The run's worker is the test itself: starting a run from the console queues it (the page
polls its progress), and the test executes the queued run as the Celery task would, pausing
after each step it commits until the page shows that step. Postings run inline (eager
Celery) once the replay commits.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from reconciliation.models import Break, ReconciliationRun
from reconciliation.services import runs
from tests.browser.conftest import sign_in
from tests.reconciliation import replay_data
from tests.reconciliation.replay_data import eager_celery  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]
# One screenshot per step of the flow (tests/browser/screenshots/ is git-ignored).
SCREENSHOTS = Path(
    os.environ.get("CONCORD_SCREENSHOT_DIR") or Path(__file__).parent / "screenshots"
)


@pytest.fixture
def queued(monkeypatch):
    """Runs started from the console stay queued for the test to execute (the worker)."""
    started: list[int] = []
    monkeypatch.setattr(runs, "run_enqueue", started.append)
    return started


def execute_watched(page, monkeypatch, run_id: int, actor) -> tuple[ReconciliationRun, list[str]]:
    """Execute the queued run as its task would; after each progress step commits, wait until
    the page (polling) shows it. Returns the run and the steps as the page showed them."""
    progress = runs._progress
    seen: list[str] = []

    def shown(run_id: int, *, step: str, done: int = 0, total: int = 0, **counts) -> None:
        progress(run_id, step=step, done=done, total=total, **counts)
        text = f"{step} ({done} of {total})" if total else f"{step} ({done} rows so far)"
        expect(page.get_by_test_id("run-progress")).to_contain_text(text)
        seen.append(text)

    monkeypatch.setattr(runs, "_progress", shown)
    run = runs.run_execute(run_id=run_id, actor=actor)
    monkeypatch.setattr(runs, "_progress", progress)
    return run, seen


def start_run(page, live_server) -> None:
    page.locator("nav.nav a", has_text="Reconciliation runs").click()
    form = page.get_by_test_id("run-start")
    form.locator("select[name=entity]").select_option("US01")
    form.locator("input[name=period]").fill("2026-05")
    form.get_by_role("button", name="Start run").click()
    expect(page.locator(".msg-success")).to_contain_text("queued")


def test_start_watch_open_break_replay_rerun_and_see_it_resolved(
    page, live_server, browser_user, queued, monkeypatch
):
    month = replay_data.build()
    fiona = browser_user("fiona", "finance_ops")
    sign_in(page, live_server, "fiona")
    page.wait_for_url(f"{live_server.url}/")

    # Start a run from the console: it is queued and the page polls its progress.
    start_run(page, live_server)
    (run_id,) = queued
    assert page.url == f"{live_server.url}/reconciliation/runs/{run_id}/"
    expect(page.get_by_test_id("run-state")).to_have_text("Queued")
    assert page.get_by_test_id("run-links").count() == 0

    # The worker runs it; the page shows each step as it happens, then the result.
    run, seen = execute_watched(page, monkeypatch, run_id, fiona)
    assert run.state == "completed"
    # The ERP lists the one invoice that posted; billing holds two.
    assert seen == ["listing (1 rows so far)", "matching (0 of 3)"]
    expect(page.get_by_test_id("run-state")).to_have_text("Completed")  # reloaded itself
    result = page.get_by_test_id("run-progress")
    expect(result).to_contain_text("1 matched, 0 suggested, 1 breaks")
    expect(result).to_contain_text("1 ERP rows, 2 billing rows")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "reconciliation-run-completed.png"), full_page=True)

    # Open the break: the invoice that never reached the ERP, with its open case.
    page.get_by_test_id("run-links").get_by_role("link", name="Breaks (1)").click()
    row = page.locator("tr[data-break-id]", has_text="INV-lost")
    expect(row).to_contain_text("Missing in the ERP")
    row.get_by_role("link", name="Missing in the ERP").click()
    expect(page.locator("h1")).to_have_text("Missing in the ERP: INV-lost")
    expect(page.get_by_test_id("break-state")).to_have_text("Open")
    expect(page.get_by_test_id("case-state")).to_have_text("Open")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("invoice INV-lost: 258.00 USD")
    expect(facts).to_contain_text("-258.00 USD")  # ERP minus billing

    # Replay the missing posting from the break.
    page.get_by_test_id("replay-posting").click()
    expect(page.locator(".msg-success")).to_contain_text("Posting replayed:")
    expect(page.locator(".msg-success")).to_contain_text("replayed with a rebuilt document")
    expect(page.get_by_test_id("break-state")).to_have_text("Open")  # until a run says so
    history = page.locator("section.card", has_text="History")
    expect(history.locator("tbody tr").first).to_contain_text("fiona")
    expect(history.locator("tbody tr").first).to_contain_text("posting replayed")
    assert month.job.state == "posted"
    page.screenshot(path=str(SCREENSHOTS / "reconciliation-break-replayed.png"), full_page=True)

    # Re-run from the console; the break is gone from this run and resolved with its case.
    start_run(page, live_server)
    second_id = queued[-1]
    second, _ = execute_watched(page, monkeypatch, second_id, fiona)
    expect(page.get_by_test_id("run-state")).to_have_text("Completed")
    expect(page.get_by_test_id("run-progress")).to_contain_text("2 matched, 0 suggested, 0 breaks")
    page.get_by_test_id("run-links").get_by_role("link", name="Breaks (0)").click()
    assert page.locator("tr[data-break-id]").count() == 0

    page.locator("nav.nav a", has_text="Reconciliation runs").click()
    page.get_by_role("link", name="All breaks").click()
    page.locator("tr[data-break-id]", has_text="INV-lost").get_by_role("link").first.click()
    expect(page.get_by_test_id("break-state")).to_have_text("Resolved")
    expect(page.get_by_test_id("case-state")).to_have_text("Resolved")
    expect(page.locator("dl.facts")).to_contain_text(f"resolved by run #{second.pk}")
    assert Break.objects.get(key="missing_in_erp|invoice:INV-lost").state == "resolved"
    page.screenshot(path=str(SCREENSHOTS / "reconciliation-break-resolved.png"), full_page=True)
