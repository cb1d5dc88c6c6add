"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API.

Playwright never downloads a browser here. The sync API runs an asyncio loop in the test
thread, so Django's async-safety check is switched off for browser tests; the live server
runs in its own thread and serves static files (django.contrib.staticfiles is installed).
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-battery"
REQUIRE_ALL = os.environ.get("CONCORD_REQUIRE_ALL") == "1"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_ALL:
            pytest.fail(reason)
        pytest.skip(reason)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    yield new_page
    context.close()


@pytest.fixture
def browser_user(transactional_db, django_user_model):
    """Create a person with the given roles (and fields) and the test password."""

    def make(username: str, *roles: str, **fields):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD, **fields)
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


def sign_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Fill in the login form and submit it (does not wait for where it lands)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


@pytest.fixture
def logged_in_page(page, live_server, browser_user):
    """`logged_in_page("ops", "finance_ops")` → the page, signed in and on the dashboard."""

    def login(username: str, *roles: str, **fields):
        browser_user(username, *roles, **fields)
        sign_in(page, live_server, username)
        page.wait_for_url(f"{live_server.url}/")
        return page

    return login
