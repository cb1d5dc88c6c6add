"""Subscriptions and what they bill: amendments, renewals, cancellations, usage, invoices."""

from datetime import date, timedelta
from decimal import Decimal

from billing.demo.data import FX, METERING_SOURCE, PARTNER_ROLES, PLAN_WEIGHTS, PLANS, USAGE_METER
from billing.demo.records import (
    EventLog,
    Subscription,
    add_months,
    money_text,
    short_id,
    start_day,
)
from config.money import quantize


class Subscriptions(EventLog):
    def build_subscriptions(self) -> None:
        plans = list(PLANS)
        for customer in self.customers:
            for k in range(1 + (self.rng.random() < 0.2)):
                plan_code = self.rng.choices(plans, weights=PLAN_WEIGHTS)[0]
                plan = PLANS[plan_code]
                family, interval, usd_price = plan.family, plan.interval, plan.usd_price
                low, high = plan.seats_low, plan.seats_high
                subscription = Subscription(
                    subscription_id=f"SUB-{customer.customer_id.removeprefix('CUS-')}-{k + 1}",
                    customer=customer,
                    plan_code=plan_code,
                    family=family,
                    interval=interval,
                    quantity=Decimal(self.rng.randint(low, high)),
                    unit_price=quantize(usd_price * FX[customer.currency], customer.currency),
                    start=start_day(self.anchor - timedelta(days=self.rng.randrange(0, 365))),
                )
                self.subscriptions.append(subscription)
                data = {
                    "subscription_id": subscription.subscription_id,
                    "customer_id": customer.customer_id,
                    "plan_code": plan_code,
                    "product_family": family,
                    "quantity": money_text(subscription.quantity),
                    "unit_price": money_text(subscription.unit_price),
                    "currency": customer.currency,
                    "interval": interval,
                    "start_date": subscription.start.isoformat(),
                }
                if self.rng.random() < 0.3:
                    partner_id = self.rng.choice(self.partners[customer.country])
                    data["partner_id"] = partner_id
                    data["partner_role"] = PARTNER_ROLES[partner_id.split("-")[1]]
                self.emit(
                    "subscription.created",
                    customer.entity,
                    subscription.start,
                    data,
                    event_id=short_id("sub", subscription.subscription_id),
                    correlation=f"quote-{subscription.subscription_id}",
                )
                self.lifecycle(subscription)

    def lifecycle(self, subscription: Subscription) -> None:
        """Amendments, renewals and cancellations, then the invoices of the subscription."""
        sub_id = subscription.subscription_id
        entity = subscription.customer.entity
        age = (self.anchor - subscription.start).days
        roll = self.rng.random()
        # Some monthly subscriptions end; at least one does, whatever the scale.
        if (
            subscription.interval == "month"
            and age > 120
            and (roll < 0.12 or not self.cancellations)
        ):
            self.cancellations += 1
            subscription.end = subscription.start + timedelta(days=self.rng.randrange(60, age))
            self.emit(
                "subscription.cancelled",
                entity,
                subscription.end,
                {
                    "subscription_id": sub_id,
                    "effective_date": subscription.end.isoformat(),
                    "reason": self.rng.choice(("budget cuts", "moved to competitor", "merged")),
                },
                event_id=short_id("cnl", sub_id),
            )
        elif subscription.interval == "year" and age > 300:
            term_end = add_months(subscription.start, 24)
            self.emit(
                "subscription.renewed",
                entity,
                subscription.start + timedelta(days=300),
                {"subscription_id": sub_id, "term_end": term_end.isoformat()},
                event_id=short_id("rnw", sub_id),
            )
        self.build_invoices(subscription)

    def build_invoices(self, subscription: Subscription) -> None:
        months = 12 if subscription.interval == "year" else 1
        amended_at = None
        if subscription.interval == "month":
            if self.rng.random() < 0.2:
                amended_at = self.rng.randint(2, 6)
            elif not self.amendments and (self.anchor - subscription.start).days > 90:
                amended_at = 2  # at least one amendment, whatever the scale
        k = 0
        while True:
            issue = add_months(subscription.start, k * months)
            if issue > self.anchor or (subscription.end and issue >= subscription.end):
                break
            if amended_at is not None and k == amended_at:
                self.amend(subscription, issue - timedelta(days=1))
            self.invoice(subscription, issue, k)
            k += 1
            if subscription.interval == "year":
                break

    def amend(self, subscription: Subscription, day: date) -> None:
        self.amendments += 1
        quantity = subscription.quantity + self.rng.choice((-2, -1, 1, 2, 5))
        subscription.quantity = max(Decimal(1), quantity)
        self.emit(
            "subscription.amended",
            subscription.customer.entity,
            day,
            {
                "subscription_id": subscription.subscription_id,
                "effective_date": day.isoformat(),
                "quantity": money_text(subscription.quantity),
            },
            event_id=short_id("amd", subscription.subscription_id),
        )

    def invoice(self, subscription: Subscription, issue: date, k: int) -> None:
        customer = subscription.customer
        invoice_id = f"INV-{subscription.subscription_id.removeprefix('SUB-')}-{k + 1:02d}"
        lines = [
            self.line(
                customer,
                "1",
                f"{subscription.plan_code} {issue:%b %Y}",
                subscription.family,
                subscription.quantity,
                subscription.unit_price,
            )
        ]
        if subscription.family == "analytics" and k > 0:
            usage = self.usage(subscription, add_months(issue, -1), issue - timedelta(days=1), k)
            lines.append(self.line(customer, "2", "API calls", "usage", *usage))
        self.emit_invoice(invoice_id, customer, issue, lines, subscription.subscription_id)

    def usage(self, subscription: Subscription, start: date, end: date, k: int):
        meter, usd_price = USAGE_METER
        quantity = Decimal(self.rng.randrange(20_000, 400_000))
        price = usd_price * FX[subscription.customer.currency]
        self.emit(
            "usage.recorded",
            subscription.customer.entity,
            end,
            {
                "usage_id": f"USE-{subscription.subscription_id.removeprefix('SUB-')}-{k:02d}",
                "subscription_id": subscription.subscription_id,
                "meter": meter,
                "quantity": money_text(quantity),
                "unit_price": money_text(price),
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
            },
            event_id=short_id("use", f"{subscription.subscription_id}-{k:02d}"),
            source=METERING_SOURCE,
        )
        return quantity, price
