"""The dashboard a signed-in person lands on: greeting, roles, the way to each page, styled."""

import os

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_greets_the_person_and_lists_their_pages_styled(logged_in_page, live_server):
    page = logged_in_page("olivia", "finance_ops", first_name="Olivia", last_name="Ops")

    assert page.locator("h1").inner_text() == "Welcome, Olivia Ops"
    assert page.locator("main .badge").all_inner_texts() == ["finance_ops"]
    # One card per page of the navigation except the dashboard itself, same order.
    nav = page.locator("nav.nav a").all_inner_texts()
    cards = page.locator("ul.cards a").all_inner_texts()
    assert cards == [label for label in nav if label != "Dashboard"]
    assert {"Exceptions", "Events", "Invoices"} <= set(cards)
    # The stylesheet was served and applied: the top bar is a flex row, not block flow.
    assert page.locator("header.topbar").evaluate("e => getComputedStyle(e).display") == "flex"
    if os.environ.get("CONCORD_SCREENSHOT_DIR"):  # for people, not an assertion
        page.screenshot(path=os.path.join(os.environ["CONCORD_SCREENSHOT_DIR"], "dashboard.png"))
