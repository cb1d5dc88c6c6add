"""A channel manager edits an agreement in the console: a refused rate is shown on its
field, then a new version from a date is saved, and the page she lands on shows version 2
with its rule while version 1 keeps its terms until that day."""

import datetime as dt

import pytest

from tests.browser.conftest import sign_in
from tests.partners import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_agreement_version_from_a_date_as_the_channel_manager_sees_it(
    page, browser_user, live_server
):
    carol = browser_user("carol", "channel_manager")
    f.entity()
    seller = f.partner()
    v1 = f.agreement(of=seller, rules=[f.rule("platform-20", rate_percent="20")])
    assert carol.has_perm("partners.add_agreement")
    sign_in(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/partners/agreements/{v1.pk}/")
    page.get_by_test_id("new-version").click()
    page.fill("input[name=effective_from]", "2026-05-01")
    page.fill("input[name=rules-0-code]", "platform-15")
    page.fill("input[name=rules-0-rate_percent]", "150")
    page.get_by_test_id("save-version").click()
    error = page.get_by_test_id("error-rule-0-rate_percent")
    assert "rate 150% must be between 0 and 100" in error.inner_text()

    page.fill("input[name=rules-0-rate_percent]", "15")
    page.get_by_test_id("save-version").click()
    page.wait_for_selector(".msg-success")

    assert "Saved" in page.locator(".msg-success").inner_text()
    assert "apply from 2026-05-01" in page.locator(".msg-success").inner_text()
    assert "v2" in page.locator("h1").inner_text()
    rule = page.get_by_test_id("rule-table").locator("tbody tr").first
    assert "platform-15" in rule.inner_text() and "15" in rule.inner_text()
    versions = page.get_by_test_id("versions").inner_text()
    assert "v2 2026-05-01 – open (Active)" in versions
    assert "v1 2026-01-01 – 2026-05-01 (Active)" in versions
    v1.refresh_from_db()
    assert v1.effective_to == dt.date(2026, 5, 1)
    assert [r.code for r in v1.rules.all()] == ["platform-20"]
