"""finance_ops fixes a payment the billing platform sent with a mistyped invoice number: the
case page says what happened in finance words, shows the payment's fields, and takes the
correction; the case resolves, and both events show the link and the change.

The records come from the real ingestion (`event_ingest`), in the test's thread; the live
server reads the same database (transactional tests). Screenshots land in
tests/browser/screenshots/ (ignored)."""

from pathlib import Path

import pytest

from billing.services import event_ingest
from exceptions.selectors import cases_for_subject
from tests.billing.factories import CustomerFactory, LegalEntityFactory, event_body
from tests.browser.test_accessibility import AXE, BLOCKING, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).parent / "screenshots"


def guide_violations(page) -> list[dict]:
    """axe's serious and critical violations inside the case's guide only: the rest of the
    case page is the exceptions app's (its comment box has no label yet)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async () => {
            const r = await axe.run('[data-testid=case-guide]', {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in found if v["impact"] in BLOCKING]


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def mistyped(browser_user):
    """Invoice INV-1024 (1,250.00 USD) issued; its payment sent naming INV-1042."""
    loader = browser_user("loader")
    entity = LegalEntityFactory(code="US01", currency="USD", country="US")
    CustomerFactory(customer_id="cus_acme", name="Acme Robotics Inc.", entity=entity)
    line = {
        "line_id": "l1", "description": "Pro plan, May", "product_family": "platform",
        "quantity": "1", "unit_price": "1250.00", "amount": "1250.00", "tax_amount": "0.00",
    }  # fmt: skip
    invoice = event_body(
        "invoice.issued", invoice_id="INV-1024", customer_id="cus_acme", lines=[line],
        subtotal="1250.00", tax_total="0.00", total="1250.00",
    )  # fmt: skip
    assert event_ingest(body=invoice, actor=loader).event.state == "applied"
    payment = event_body(
        "payment.settled", payment_id="PAY-88", customer_id="cus_acme", invoice_id="INV-1042",
        amount="1250.00",
    )  # fmt: skip
    event = event_ingest(body=payment, actor=loader).event
    assert event.state == "quarantined"
    return {"event": event, "case": cases_for_subject(event).get()}


def test_ops_corrects_the_invoice_number_and_the_case_resolves(
    logged_in_page, live_server, mistyped
):
    original, case = mistyped["event"], mistyped["case"]
    page = logged_in_page("olivia", "finance_ops")
    page.locator("nav.nav a", has_text="Exceptions").click()
    page.locator("[data-testid=case-table] tbody tr", has_text=original.event_id).get_by_role(
        "link"
    ).first.click()

    guide = page.get_by_test_id("case-guide")
    assert guide.get_by_role("heading", name="What happened and how to fix it").is_visible()
    assert page.get_by_test_id("guide-explanation").inner_text() == (
        "The payment refers to invoice INV-1042, which Concord has not received."
    )
    fields = page.get_by_test_id("event-fields")
    facts = dict(
        zip(
            fields.locator("dt").all_inner_texts(),
            fields.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    assert facts["Type"] == "payment.settled"
    assert facts["Customer"] == "cus_acme"
    assert facts["Invoice"] == "INV-1042"
    assert facts["Amount"] == "1,250.00 USD"
    assert facts["Received at"].startswith("2026-05-20")
    consequence = page.get_by_test_id("guide-consequence").inner_text()
    assert "payment of 1,250.00 USD is not recorded" in consequence
    assert "waits for invoice INV-1042" in consequence
    assert guide_violations(page) == []
    shot(page, "quarantine-case-guide")

    form = page.get_by_test_id("correct-form")
    assert form.get_by_label("Invoice").input_value() == "INV-1042"
    form.get_by_label("Invoice").fill("INV-1024")
    form.get_by_label("Reason for the correction").fill(
        "Invoice number mistyped by the billing platform (ticket BP-311)"
    )
    form.get_by_test_id("correct-submit").click()
    page.wait_for_load_state()

    assert page.url.endswith(f"/exceptions/{case.pk}/")
    assert (
        f"Corrected as {original.event_id}~c1 and applied."
        in page.locator(".messages").inner_text()
    )
    assert page.get_by_test_id("case-state").inner_text() == "Resolved"
    history = page.locator("section.card", has=page.get_by_role("heading", name="History"))
    resolved = history.locator("tbody tr").first.inner_text()
    assert "olivia" in resolved and "corrected as" in resolved
    shot(page, "quarantine-case-resolved")

    # The new event: applied, a correction of the original, the change in its history.
    page.get_by_test_id("guide-event-link").click()
    assert page.get_by_test_id("event-state").inner_text() == "Applied"
    assert original.event_id in page.get_by_test_id("correction-of").inner_text()
    diff = page.get_by_test_id("correction-diff").locator("tbody tr")
    assert diff.all_inner_texts() == ["data.invoice_id\tINV-1042\tINV-1024"]
    assert "ticket BP-311" in page.get_by_test_id("correction-reason").inner_text()
    created = page.get_by_test_id("history").locator("tbody tr").last.inner_text()
    assert "data.invoice_id" in created and "INV-1024" in created and "olivia" in created
    assert page.locator("main li", has_text="payment: PAY-88").count() == 1
    assert axe_violations(page) == []
    shot(page, "quarantine-corrected-event")

    # The original: kept as received, superseded, linked to its correction.
    page.get_by_test_id("correction-of").get_by_role("link").click()
    assert page.get_by_test_id("event-state").inner_text() == "Superseded by a correction"
    assert f"{original.event_id}~c1" in page.get_by_test_id("corrected-by").inner_text()
    assert '"invoice_id": "INV-1042"' in page.get_by_test_id("event-body").inner_text()
    superseded = page.get_by_test_id("history").locator("tbody tr").first.inner_text()
    assert "olivia" in superseded and "INV-1042" in superseded and "INV-1024" in superseded
    assert "ticket BP-311" in superseded
    assert axe_violations(page) == []
    shot(page, "quarantine-original-event")


def test_a_correction_the_schema_refuses_shows_the_field_and_keeps_the_case_open(
    logged_in_page, live_server, mistyped
):
    case = mistyped["case"]
    page = logged_in_page("olivia", "finance_ops")
    page.goto(f"{live_server.url}/exceptions/{case.pk}/")
    form = page.get_by_test_id("correct-form")
    form.get_by_label("Amount").fill("1250.005")
    form.get_by_label("Reason for the correction").fill("amount")
    form.get_by_test_id("correct-submit").click()
    page.wait_for_load_state()

    error = page.get_by_test_id("error-data__amount").inner_text()
    assert "data.amount" in error
    assert page.get_by_test_id("correct-form").get_by_label("Amount").input_value() == "1250.005"
    assert axe_violations(page) == []  # billing's own correct page
    shot(page, "quarantine-correction-refused")
    page.goto(f"{live_server.url}/exceptions/{case.pk}/")
    assert page.get_by_test_id("case-state").inner_text() == "Open"
