import os

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_is_styled_from_static_files(logged_in_page, live_server, tmp_path):
    page = logged_in_page("olivia", "finance_ops")

    stylesheet = page.locator("link[rel=stylesheet]").first.get_attribute("href")
    assert page.request.get(f"{live_server.url}{stylesheet}").status == 200
    htmx = page.locator("script[src*=htmx]").first.get_attribute("src")
    assert page.request.get(f"{live_server.url}{htmx}").status == 200
    # The stylesheet applied: the top bar is laid out as a flex row, not default block flow.
    assert page.locator("header.topbar").evaluate("e => getComputedStyle(e).display") == "flex"

    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 5_000
    if os.environ.get("CONCORD_SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["CONCORD_SCREENSHOT_DIR"], "dashboard.png"))
