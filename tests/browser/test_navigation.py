import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Entries every signed-in person sees whatever their roles; the rest belong to a domain.
UNGATED = {"Dashboard", "API docs"}


def nav_links(page) -> dict[str, str]:
    links = page.locator("nav.nav a")
    return {
        links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href")
        for i in range(links.count())
    }


def test_finance_ops_sees_only_nav_entries_that_answer_200(logged_in_page, live_server):
    page = logged_in_page("olivia", "finance_ops")

    links = nav_links(page)

    assert "Dashboard" in links
    assert set(links) - UNGATED, "finance_ops should see at least one domain entry"
    for label, href in links.items():
        response = page.request.get(f"{live_server.url}{href}")
        assert response.status == 200, f"{label} ({href}) answered {response.status}"


def test_finance_ops_sees_exceptions_and_events_once_those_pages_exist(logged_in_page, live_server):
    from django.urls import NoReverseMatch, reverse

    page = logged_in_page("olivia", "finance_ops")
    links = nav_links(page)

    for label, url_name in (
        ("Exceptions", "exceptions:case-list"),
        ("Events", "billing:event-list"),
    ):
        try:
            expected = reverse(url_name)
        except NoReverseMatch:
            assert label not in links  # the page is not built yet: no dead link either
            continue
        assert links.get(label) == expected


def test_person_without_role_sees_no_domain_entries(logged_in_page):
    page = logged_in_page("nobody")

    assert set(nav_links(page)) <= UNGATED
    assert "ask an administrator for a role" in page.locator("main").inner_text()


def test_partner_user_does_not_see_internal_entries(logged_in_page):
    page = logged_in_page("pat", "partner", partner_code="P-RES-001")

    links = set(nav_links(page))

    assert "Exceptions" not in links
    assert "Events" not in links
    assert links - UNGATED <= {"Partners"}
