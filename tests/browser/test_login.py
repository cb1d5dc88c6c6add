import pytest

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_with_wrong_then_right_password_lands_on_dashboard(page, live_server, browser_user):
    browser_user("olivia", "finance_ops")

    sign_in(page, live_server, "olivia", "not-the-password")

    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    assert page.get_by_role("alert").is_visible()
    assert "correct username and password" in page.get_by_role("alert").inner_text()

    sign_in(page, live_server, "olivia")
    page.wait_for_url(f"{live_server.url}/")

    assert page.locator("[data-testid=current-user]").inner_text() == "olivia"
    assert "Welcome, olivia" in page.locator("h1").inner_text()
    assert "finance_ops" in page.locator("main").inner_text()


def test_anonymous_visit_to_home_redirects_to_login(page, live_server):
    page.goto(f"{live_server.url}/")

    assert page.url == f"{live_server.url}/accounts/login/?next=/"
    assert page.locator("input[name=password]").is_visible()


def test_sign_out_returns_to_login_and_home_needs_login_again(logged_in_page, live_server):
    page = logged_in_page("sam", "auditor")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")

    page.goto(f"{live_server.url}/")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    assert page.locator("[data-testid=current-user]").count() == 0
