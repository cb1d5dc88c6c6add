"""What each person finds in the navigation, and that every entry opens its page."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Entries every signed-in person sees whatever their roles; the rest belong to a domain.
UNGATED = {"Dashboard", "API docs"}
# The page heading each entry leads to, where it is not the entry's label.
HEADINGS = {"Connections": "ERP connections"}


def nav_links(page) -> dict[str, str]:
    links = page.locator("nav.nav a")
    return {
        links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href")
        for i in range(links.count())
    }


def test_finance_ops_nav_entries_each_open_the_page_they_name(logged_in_page, live_server):
    page = logged_in_page("olivia", "finance_ops")
    links = nav_links(page)
    assert {"Exceptions", "Events", "Invoices", "Sync jobs"} <= set(links)

    for label in sorted(set(links) - UNGATED):
        page.locator("nav.nav a", has_text=label).click()
        page.wait_for_url(f"{live_server.url}{links[label]}")

        assert page.locator("h1").inner_text() == HEADINGS.get(label, label)
        assert page.locator("nav.nav a[aria-current=page]").inner_text() == label


def test_person_without_role_sees_no_domain_entries(logged_in_page):
    page = logged_in_page("nobody")

    assert set(nav_links(page)) == UNGATED
    assert "ask an administrator for a role" in page.locator("main").inner_text()


def test_partner_user_sees_no_internal_entries_and_is_refused_the_events(
    logged_in_page, live_server
):
    page = logged_in_page("pat", "partner", partner_code="P-RES-001")

    links = set(nav_links(page))
    assert {"Dashboard", "API docs"} <= links
    assert links - UNGATED == {"Settlements", "Accruals"}  # its own partner's, nothing else

    response = page.goto(f"{live_server.url}/billing/events/")
    assert response.status == 403
    assert page.locator("[data-testid=event-table]").count() == 0
