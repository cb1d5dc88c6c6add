"""finance_ops at work in the console: the events and invoices as stored, a quarantined
event's case, and a replay after the fix — each checked on the page, as a person sees it.

The records come from the real ingestion (`event_ingest`), in the test's thread; the live
server reads the same database (transactional tests)."""

import pytest

from billing.services import event_ingest
from tests.billing.factories import CustomerFactory, LegalEntityFactory, event_body

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def books(browser_user):
    """An issued invoice (100.00 USD, 40.00 paid) and a payment quarantined for its customer."""
    loader = browser_user("loader")
    entity = LegalEntityFactory(code="US01", currency="USD", country="US")
    CustomerFactory(customer_id="cus_acme", name="Acme Robotics Inc.", entity=entity)
    ingest = {
        "invoice": event_body("invoice.issued", invoice_id="INV-7001", customer_id="cus_acme"),
        "paid": event_body(
            "payment.settled", payment_id="PAY-1", customer_id="cus_acme",
            invoice_id="INV-7001", amount="40.00",
        ),
        "early": event_body(
            "payment.settled", payment_id="PAY-EARLY", customer_id="cus_globex",
            amount="25.00",
        ),
    }  # fmt: skip
    events = {key: event_ingest(body=body, actor=loader).event for key, body in ingest.items()}
    assert events["early"].state == "quarantined"
    return {"loader": loader, "entity": entity, "events": events}


def row_of(page, table: str, text: str):
    return page.locator(f"[data-testid={table}] tbody tr", has_text=text)


def test_events_page_lists_the_stored_events_with_their_state(logged_in_page, books):
    page = logged_in_page("olivia", "finance_ops")
    page.locator("nav.nav a", has_text="Events").click()

    assert page.locator("h1").inner_text() == "Events"
    early = books["events"]["early"]
    invoice = row_of(page, "event-table", f"billing-platform/{books['events']['invoice'].event_id}")
    assert invoice.locator("td").nth(1).inner_text() == "invoice.issued"
    assert invoice.locator(".badge").inner_text() == "Applied"
    quarantined = row_of(page, "event-table", f"billing-platform/{early.event_id}")
    assert quarantined.locator("td").nth(1).inner_text() == "payment.settled"
    assert quarantined.locator(".badge").inner_text() == "Quarantined"
    assert quarantined.locator("td").nth(5).inner_text() == "unknown_customer"
    assert page.locator("[data-testid=event-table] tbody tr").count() == 3


def test_invoice_page_shows_the_partial_payment_and_what_is_open(logged_in_page, books):
    page = logged_in_page("olivia", "finance_ops")
    page.locator("nav.nav a", has_text="Invoices").click()

    row = row_of(page, "invoice-table", "INV-7001")
    assert row.locator("td").nth(2).inner_text() == "Acme Robotics Inc."
    assert row.locator("td").nth(5).inner_text() == "100.00 USD"
    assert row.locator("td").nth(6).inner_text() == "60.00 USD"
    assert row.locator("td").nth(7).inner_text() == "Partially paid"

    row.get_by_role("link", name="INV-7001").click()
    assert page.locator("h1").inner_text() == "Invoice INV-7001"
    assert page.get_by_test_id("open-amount").inner_text() == "60.00 USD"
    assert page.locator("main li", has_text="PAY-1").inner_text() == "PAY-1: 40.00 USD"


def test_quarantined_payment_replayed_after_the_customer_arrives_is_applied(
    logged_in_page, live_server, books
):
    early = books["events"]["early"]
    page = logged_in_page("olivia", "finance_ops")
    page.goto(f"{live_server.url}/billing/events/{early.pk}/")

    assert page.get_by_test_id("event-state").inner_text() == "Quarantined"
    assert page.get_by_test_id("quarantine-reason").inner_text().startswith("unknown_customer")
    open_cases = page.get_by_test_id("open-cases")
    case_link = open_cases.locator("li", has_text="Unknown customer").get_by_role("link")
    assert case_link.count() == 1

    # The fix: the billing platform sends the missing customer; then a person replays.
    customer = event_body("customer.upserted", customer_id="cus_globex", name="Globex Ltd")
    assert event_ingest(body=customer, actor=books["loader"]).event.state == "applied"
    page.get_by_test_id("replay").click()
    page.wait_for_load_state()

    assert page.get_by_test_id("event-state").inner_text() == "Applied"
    assert page.get_by_test_id("replay").count() == 0
    assert page.locator("main li", has_text="payment: PAY-EARLY").count() == 1


def test_case_of_a_quarantined_event_acknowledged_shows_its_new_state(
    logged_in_page, live_server, books
):
    page = logged_in_page("olivia", "finance_ops")
    page.locator("nav.nav a", has_text="Exceptions").click()

    row = row_of(page, "case-table", "Unknown customer")
    assert row.count() == 1
    assert row.locator(".badge").first.inner_text() == "Open"
    row.get_by_role("link").first.click()
    assert page.locator("h1").inner_text().startswith("Case #")

    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    page.locator("nav.nav a", has_text="Exceptions").click()

    assert row_of(page, "case-table", "Unknown customer").locator(".badge").first.inner_text() == (
        "Acknowledged"
    )
