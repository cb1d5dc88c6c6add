"""Under the Content Security Policy the console's vendored htmx still works (Chromium)."""

import pytest

from tests.erp_sync.factories import ConnectionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_htmx_swaps_a_partial_with_no_csp_violation(logged_in_page, live_server):
    page = logged_in_page("ida", "integration_admin")
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security" in m.text else 0)
    connection = ConnectionFactory(name="sandbox-us")

    page.goto(f"{live_server.url}/erp/connections/{connection.pk}/")
    assert page.evaluate("typeof window.htmx") == "object"
    page.get_by_test_id("health-button").click()

    health = page.get_by_test_id("health")
    health.locator(".badge").wait_for()
    assert health.inner_text().startswith("ok")
    assert violations == []


def test_an_inline_script_is_blocked_by_the_policy(logged_in_page, live_server):
    """The policy is enforced, not just sent: a script we did not ship does not run."""
    page = logged_in_page("ann", "auditor")
    page.goto(f"{live_server.url}/")

    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = true'; document.body.appendChild(s); }"
    )

    assert page.evaluate("window.injected === undefined")
