"""The problems a person must look at: well-formed events the books cannot take."""

from datetime import date, timedelta
from decimal import Decimal

from billing.demo.data import FX, METERING_SOURCE, USAGE_METER
from billing.demo.records import Customer, EventLog, Subscription, add_months, money_text
from config.money import quantize


class Problems(EventLog):
    def problem_events(self, closed_through: date) -> list[dict]:
        """Well-formed events the books cannot take: each is quarantined with an open case."""
        self.events = []
        today = self.anchor
        us = next(c for c in self.customers if c.entity == "US01" and c.tax_rate)
        de = next(c for c in self.customers if c.entity == "DE01")
        us_invoice = next(i for i in self.invoices if i.customer.entity == "US01")
        cancelled = next((s for s in self.subscriptions if s.end is not None), None)
        line = self.line(us, "1", "Consulting day", "services", Decimal(2), Decimal("950.00"))
        self.emit_invoice(
            "INV-GHOST-0001",
            Customer("CUS-US01-999", "US01", "USD", "US", us.tax_code, us.tax_rate),
            today,
            [line],
            event_id="prb-1",
        )
        self.emit(
            "usage.recorded",
            "US01",
            today,
            {
                "usage_id": "USE-GHOST-0001",
                "subscription_id": "SUB-DOES-NOT-EXIST",
                "meter": "api_calls",
                "quantity": "125000",
                "unit_price": "0.0015",
                "period_start": add_months(today, -1).isoformat(),
                "period_end": (today - timedelta(days=1)).isoformat(),
            },
            event_id="prb-2",
            source=METERING_SOURCE,
        )
        if cancelled is not None:  # (a small --scale may cancel nothing)
            self.usage_after_cancel(cancelled)
        self.emit(
            "payment.settled",
            "US01",
            today,
            {
                "payment_id": "PAY-WRONG-CURRENCY-1",
                "customer_id": us_invoice.customer.customer_id,
                "invoice_id": us_invoice.invoice_id,
                "amount": money_text(quantize(us_invoice.total * FX["EUR"], "EUR")),
                "currency": "EUR",
                "received_at": f"{today.isoformat()}T14:00:00Z",
                "method": "sepa_debit",
            },
            event_id="prb-4",
        )
        late_day = closed_through - timedelta(days=10)
        late_line = self.line(de, "1", "Onboarding package", "services", Decimal(1), Decimal(1500))
        self.emit_invoice("INV-DE01-LATE-0001", de, late_day, [late_line], event_id="prb-5")
        over = self.line(us, "1", "Goodwill credit", "platform", Decimal(1), Decimal("99999.00"))
        self.emit(
            "credit_note.issued",
            "US01",
            today,
            {
                "credit_note_id": "CN-TOO-LARGE-1",
                "invoice_id": us_invoice.invoice_id,
                "issue_date": today.isoformat(),
                "currency": "USD",
                "lines": [over],
                "total": money_text(Decimal(over["amount"]) + Decimal(over["tax_amount"])),
                "reason": "goodwill",
            },
            event_id="prb-6",
        )
        return self.ordered_bodies()

    def usage_after_cancel(self, cancelled: Subscription) -> None:
        today = self.anchor
        self.emit(
            "usage.recorded",
            cancelled.customer.entity,
            today,
            {
                "usage_id": f"USE-{cancelled.subscription_id.removeprefix('SUB-')}-LATE",
                "subscription_id": cancelled.subscription_id,
                "meter": "api_calls",
                "quantity": "5000",
                "unit_price": money_text(USAGE_METER[1] * FX[cancelled.customer.currency]),
                "period_start": add_months(today, -1).isoformat(),
                "period_end": (today - timedelta(days=1)).isoformat(),
            },
            event_id="prb-3",
            source=METERING_SOURCE,
        )
