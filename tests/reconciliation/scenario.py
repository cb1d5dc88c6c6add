"""The seeded scenario: May 2026 of entity US01, with every break kind injected in the sandbox.

`build()` returns the connection and the break keys the engine must find, no more, no less.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from billing.models import Invoice
from tests.reconciliation.factories import (
    ConnectionFactory,
    CustomerFactory,
    D,
    LegalEntityFactory,
    erp_document,
    erp_post,
    line,
    make_credit_note,
    make_invoice,
    make_payment,
)


@dataclass
class Scenario:
    connection: object
    expected: set[str] = field(default_factory=set)
    missing_invoice: Invoice | None = None
    recurring: list[Invoice] = field(default_factory=list)
    summary_invoices: list[Invoice] = field(default_factory=list)


def _invoice(entity, name: str, amount: str = "100.00", tax: str = "8.00", **kwargs) -> Invoice:
    customer = CustomerFactory(entity=entity, customer_id=f"cus_{name}")
    return make_invoice(
        entity=entity,
        customer=customer,
        invoice_id=f"INV-{name}",
        lines=[line(amount, tax=tax, tax_code="US-ST")],
        **kwargs,
    )


def build() -> Scenario:
    entity = LegalEntityFactory(code="US01")
    connection = ConnectionFactory(entity=entity)
    s = Scenario(connection=connection)
    # Agree exactly: an invoice, its credit note and a payment.
    ok = _invoice(entity, "ok")
    erp_post(connection, ok)
    erp_post(connection, make_credit_note(invoice=ok))
    partly_paid = _invoice(entity, "paid-ok")
    erp_post(connection, partly_paid)
    erp_post(connection, make_payment(invoice=partly_paid, amount="20.00"))
    # A rounding difference inside the USD tolerance (0.01): no break.
    erp_post(connection, _invoice(entity, "round-in"), total_amount=D("108.01"))
    # Just outside it (0.02): an amount mismatch.
    erp_post(connection, _invoice(entity, "round-out"), total_amount=D("108.02"))
    s.expected.add("amount_mismatch|invoice:INV-round-out")
    # Never reached the ERP.
    s.missing_invoice = _invoice(entity, "missing")
    s.expected.add("missing_in_erp|invoice:INV-missing")
    # In the ERP only.
    extra = erp_document(
        connection=connection, external_id="manual:77", kind="invoice", entity="US01",
        currency="USD", total_amount=D("75.00"), document_date=dt.date(2026, 5, 9),
        party_code="cus_stranger",
    )  # fmt: skip
    s.expected.add(f"missing_in_billing|erp:manual:77|{extra.number}")
    # Posted in another currency; tax different; posted twice; paid in billing, open in ERP.
    erp_post(connection, _invoice(entity, "currency"), currency="EUR")
    s.expected.add("currency_mismatch|invoice:INV-currency")
    erp_post(connection, _invoice(entity, "tax"), tax_amount=D("9.00"))
    s.expected.add("tax_mismatch|invoice:INV-tax")
    twice = _invoice(entity, "twice")
    erp_post(connection, twice)
    again = erp_post(connection, twice, external_id="manual:twice-again", record_number=False)
    s.expected.add(f"duplicate_in_erp|erp:manual:twice-again|{again.number}")
    settled = _invoice(entity, "settled")
    settled.record_payment(amount=settled.total_amount)
    settled.save()
    erp_post(connection, settled, state="posted")
    s.expected.add("status_mismatch|invoice:INV-settled")
    # Re-keyed in the ERP (another external id) but billing recorded its number: matched.
    erp_post(connection, _invoice(entity, "rekeyed"), external_id="manual:rekeyed")
    # One ERP summary entry for three invoices of one customer (sum 600.00 + 0.01 residue).
    summary_customer = CustomerFactory(entity=entity, customer_id="cus_summary")
    for index, amount in enumerate(("100.00", "200.00", "300.00")):
        s.summary_invoices.append(
            make_invoice(
                entity=entity,
                customer=summary_customer,
                invoice_id=f"INV-sum-{index}",
                lines=[line(amount)],
                issue_date=dt.date(2026, 5, 10 + index),
            )
        )
    erp_document(
        connection=connection, external_id="summary:cus_summary:2026-05", kind="summary",
        entity="US01", currency="USD", total_amount=D("600.01"),
        document_date=dt.date(2026, 5, 31), party_code="cus_summary",
    )  # fmt: skip
    # A recurring same-amount pair keyed by hand in the ERP: suggested, never matched.
    recurring_customer = CustomerFactory(entity=entity, customer_id="cus_recurring")
    for day in (3, 17):
        invoice = make_invoice(
            entity=entity, customer=recurring_customer, invoice_id=f"INV-rec-{day}",
            lines=[line("50.00")], issue_date=dt.date(2026, 5, day),
        )  # fmt: skip
        s.recurring.append(invoice)
        manual = erp_post(connection, invoice, external_id=f"manual:rec-{day}", record_number=False)
        s.expected.add(f"missing_in_erp|invoice:INV-rec-{day}")
        s.expected.add(f"missing_in_billing|erp:manual:rec-{day}|{manual.number}")
    return s
