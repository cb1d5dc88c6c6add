"""Four-eyes in the console, as two channel managers see it: Carol submits a calculated
settlement and cannot approve it (the refusal is on the page), Dave approves it, and the PDF
statement he downloads reads back with the settlement's total."""

import io

import pytest
from pypdf import PdfReader

from tests.browser.conftest import sign_in
from tests.partners.test_statement_builders import calculated

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_settlement(page, settlement) -> None:
    page.locator("nav.nav a", has_text="Settlements").click()
    row = page.locator("[data-testid=settlement-table] tbody tr", has_text=settlement.partner.name)
    row.locator("td a").first.click()
    page.wait_for_selector("[data-testid=settlement-state]")


def test_submit_refused_self_approval_second_approver_and_pdf_total(
    page, browser, browser_user, live_server
):
    carol = browser_user("carol", "channel_manager")
    browser_user("dave", "channel_manager")
    settlement = calculated(carol, amount="1234.50")  # 20%: 246.90 USD
    sign_in(page, live_server, "carol")
    page.wait_for_url(f"{live_server.url}/")

    open_settlement(page, settlement)
    assert page.get_by_test_id("settlement-total").inner_text() == "246.90 USD"
    assert page.get_by_test_id("settlement-state").inner_text() == "Calculated"
    page.get_by_test_id("submit").click()
    page.wait_for_selector(".msg-success")
    assert page.get_by_test_id("settlement-state").inner_text() == "Submitted for approval"

    page.get_by_test_id("approve").click()
    refusal = page.locator(".msg-error")
    assert "cannot approve it (four-eyes)" in refusal.inner_text()
    assert page.get_by_test_id("settlement-state").inner_text() == "Submitted for approval"
    assert page.get_by_test_id("statement-links").count() == 0

    second = browser.new_context(viewport={"width": 1280, "height": 800})
    second.set_default_timeout(10_000)
    dave_page = second.new_page()
    sign_in(dave_page, live_server, "dave")
    dave_page.wait_for_url(f"{live_server.url}/")
    open_settlement(dave_page, settlement)
    dave_page.get_by_test_id("approve").click()
    dave_page.wait_for_selector(".msg-success")
    assert dave_page.get_by_test_id("settlement-state").inner_text() == "Approved"

    with dave_page.expect_download() as download_info:
        dave_page.get_by_test_id("statement-pdf").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        reader = PdfReader(io.BytesIO(pdf.read()))
        text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Partner statement" in text
    assert "Total 246.90 USD" in text
    assert settlement.partner.partner_id in text
    second.close()
