"""Money after the invoices: credit notes, payments (full, partial, across invoices), refunds,
write-offs."""

from datetime import date, timedelta
from decimal import Decimal

from billing.demo.data import PAYMENT_METHODS
from billing.demo.records import Customer, EventLog, Invoice, money_text, short_id
from config.money import quantize


class Settlements(EventLog):
    def build_settlements(self) -> None:
        """Credit notes, payments (full, partial, across invoices), refunds, write-offs."""
        payments: list[tuple[str, Customer, Decimal, date]] = []
        by_customer: dict[str, list[Invoice]] = {}
        for invoice in sorted(self.invoices, key=lambda i: (i.issue_date, i.invoice_id)):
            by_customer.setdefault(invoice.customer.customer_id, []).append(invoice)
        write_offs = 0
        across = 0
        for customer_id in sorted(by_customer):
            invoices = by_customer[customer_id]
            pooled: list[Invoice] = []
            for invoice in invoices:
                age = (self.anchor - invoice.issue_date).days
                roll = self.rng.random()
                if roll < 0.04 and invoice.total > 0:
                    self.credit_note(invoice)
                if age < 20 or invoice.open <= 0:
                    continue  # recent: not paid yet
                if write_offs < 2 and age > 150 and (roll > 0.985 or not write_offs):
                    self.write_off(invoice, age)
                    write_offs += 1
                    continue
                if across < 8 and len(pooled) < 2 and 0.90 < roll <= 0.985:
                    pooled.append(invoice)
                    if len(pooled) == 2:
                        across += 1
                        payments.append(self.pay_across(pooled))
                    continue
                if roll > 0.97:
                    continue  # overdue and unpaid
                partial = roll < 0.10
                amount = (
                    quantize(invoice.open / 2, invoice.customer.currency)
                    if partial
                    else (invoice.open)
                )
                paid_on = min(self.anchor, invoice.issue_date + timedelta(self.rng.randint(3, 40)))
                payments.append(self.pay(invoice, amount, paid_on))
        refundable = [p for p in payments if p[2] > 50]
        for payment_id, customer, amount, paid_on in self.rng.sample(
            refundable, min(10, len(refundable))
        ):
            refund_on = min(self.anchor, paid_on + timedelta(days=7))
            refund = quantize(amount * Decimal("0.1"), customer.currency)
            self.emit(
                "refund.issued",
                customer.entity,
                refund_on,
                {
                    "refund_id": f"REF-{payment_id.removeprefix('PAY-')}",
                    "payment_id": payment_id,
                    "amount": money_text(refund),
                    "currency": customer.currency,
                    "issued_at": f"{refund_on.isoformat()}T16:00:00Z",
                },
                event_id=short_id("rfd", payment_id),
            )

    def credit_note(self, invoice: Invoice) -> None:
        customer = invoice.customer
        day = invoice.issue_date + timedelta(days=2)
        # A tenth of the invoice back, net of tax; the credit carries its share of the tax.
        net = quantize(invoice.total / 10 / (1 + customer.tax_rate), customer.currency)
        line = self.line(customer, "1", "Service credit", "platform", Decimal(1), net)
        total = Decimal(line["amount"]) + Decimal(line["tax_amount"])
        if total <= 0 or total > invoice.open:
            return
        invoice.open -= total
        self.emit(
            "credit_note.issued",
            customer.entity,
            day,
            {
                "credit_note_id": f"CN-{invoice.invoice_id.removeprefix('INV-')}",
                "invoice_id": invoice.invoice_id,
                "issue_date": day.isoformat(),
                "currency": customer.currency,
                "lines": [line],
                "total": money_text(total),
                "reason": "service outage credit",
            },
            event_id=short_id("crn", invoice.invoice_id),
        )

    def pay(self, invoice: Invoice, amount: Decimal, day: date):
        customer = invoice.customer
        payment_id = f"PAY-{invoice.invoice_id.removeprefix('INV-')}"
        invoice.open -= amount
        self.emit(
            "payment.settled",
            customer.entity,
            day,
            {
                "payment_id": payment_id,
                "customer_id": customer.customer_id,
                "invoice_id": invoice.invoice_id,
                "amount": money_text(amount),
                "currency": customer.currency,
                "received_at": f"{day.isoformat()}T14:00:00Z",
                "method": self.rng.choice(PAYMENT_METHODS),
            },
            event_id=short_id("pay", payment_id),
        )
        return payment_id, customer, amount, day

    def pay_across(self, invoices: list[Invoice]):
        """One payment without an invoice id: Concord allocates it oldest due date first."""
        customer = invoices[0].customer
        amount = sum((invoice.open for invoice in invoices), Decimal(0))
        day = min(self.anchor, invoices[-1].issue_date + timedelta(days=10))
        payment_id = f"PAY-{customer.customer_id.removeprefix('CUS-')}-LUMP-{day:%Y%m}"
        for invoice in invoices:
            invoice.open = Decimal(0)
        self.emit(
            "payment.settled",
            customer.entity,
            day,
            {
                "payment_id": payment_id,
                "customer_id": customer.customer_id,
                "amount": money_text(amount),
                "currency": customer.currency,
                "received_at": f"{day.isoformat()}T14:00:00Z",
                "method": "bank_transfer",
            },
            event_id=short_id("pay", payment_id),
        )
        return payment_id, customer, amount, day

    def write_off(self, invoice: Invoice, age: int) -> None:
        day = invoice.issue_date + timedelta(days=min(age, 120))
        self.emit(
            "invoice.written_off",
            invoice.customer.entity,
            day,
            {
                "invoice_id": invoice.invoice_id,
                "amount": money_text(invoice.open),
                "currency": invoice.customer.currency,
                "reason": "customer insolvent; uncollectible",
            },
            event_id=short_id("wof", invoice.invoice_id),
        )
        invoice.open = Decimal(0)
