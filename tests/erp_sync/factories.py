"""Factories of erp_sync tests (shared: the job-engine tests add SyncJob factories below).

Billing records are created directly (not through ingest) so the tests of erp_sync do not
depend on the billing handlers. The `make_*` helpers create a stored FinanceEvent together
with the billing record it made, consistent with each other (same ids, amounts, dates),
which is what the builders read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import factory
from django.utils import timezone

from billing.models import (
    CreditNote,
    CreditNoteLine,
    Customer,
    FinanceEvent,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Payment,
    PaymentAllocation,
    Plan,
    Refund,
    Subscription,
    WriteOff,
)
from billing.schema import validate_event
from billing.schema.settlements import CONCORD_SOURCE
from erp_sync.choices import AdapterKind, DocumentType
from erp_sync.models import Connection, MappingRule, SandboxAccount, SandboxPeriod
from partners.models import Partner

# The sandbox chart every ConnectionFactory connection gets, and the accounts the default
# rules (`default_rules`) map to.
RECEIVABLE = "1100"
BANK = "1000"
TAX_PAYABLE = "2200"
PARTNER_PAYABLE = "2100"
REVENUE_SAAS = "4000"
REVENUE_SERVICES = "4100"
BAD_DEBT = "6800"
COMMISSION_EXPENSE = "6100"
DEFAULT_CHART = {
    RECEIVABLE: "Accounts receivable",
    BANK: "Bank",
    TAX_PAYABLE: "Sales tax payable",
    PARTNER_PAYABLE: "Partner commissions payable",
    REVENUE_SAAS: "SaaS revenue",
    REVENUE_SERVICES: "Services revenue",
    BAD_DEBT: "Bad debt expense",
    COMMISSION_EXPENSE: "Partner commission expense",
}
D = Decimal


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"E{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Entity {o.code}")
    currency = "USD"
    country = "US"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    customer_id = factory.Sequence(lambda n: f"cus_{n}")
    entity = factory.SubFactory(LegalEntityFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    country = "US"
    currency = "USD"
    region = ""


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ["plan_code"]

    plan_code = factory.Sequence(lambda n: f"plan_{n}")
    product_family = "saas"


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    partner_id = factory.Sequence(lambda n: f"ptn_{n}")
    name = factory.Sequence(lambda n: f"Partner {n}")
    kind = "reseller"
    country = "US"
    currency = "USD"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    subscription_id = factory.Sequence(lambda n: f"sub_{n}")
    customer = factory.SubFactory(CustomerFactory)
    plan = factory.SubFactory(PlanFactory)
    quantity = D("1")
    unit_price = D("100")
    currency = "USD"
    interval = "month"
    start_date = dt.date(2026, 1, 1)


class FinanceEventFactory(factory.django.DjangoModelFactory):
    """A stored, applied event. Pass `data=` (and `type=`); the body is built from them."""

    class Meta:
        model = FinanceEvent
        exclude = ["data"]

    source = "billing-platform"
    event_id = factory.Sequence(lambda n: f"evt_{n}")
    type = "invoice.issued"
    event_time = factory.LazyFunction(timezone.now)
    entity = "US01"
    data = factory.LazyFunction(dict)
    body = factory.LazyAttribute(
        lambda o: {
            "specversion": "1.0",
            "id": o.event_id,
            "source": o.source,
            "type": o.type,
            "time": o.event_time.isoformat(),
            "entity": o.entity,
            "data": o.data,
        }
    )
    body_digest = factory.LazyAttribute(lambda o: _digest(o.body))
    state = "applied"
    applied_at = factory.LazyFunction(timezone.now)


class ConnectionFactory(factory.django.DjangoModelFactory):
    """A sandbox connection whose chart holds DEFAULT_CHART (pass `chart=[...]` to change)."""

    class Meta:
        model = Connection
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"sandbox-{n}")
    entity = factory.SubFactory(LegalEntityFactory)
    adapter_kind = AdapterKind.SANDBOX
    settings = factory.LazyFunction(dict)
    # Tryton takes one poster at a time (a check constraint): the model default is 4.
    max_concurrency = factory.LazyAttribute(
        lambda o: 1 if o.adapter_kind == AdapterKind.TRYTON else 4
    )

    @factory.post_generation
    def chart(self, create, extracted, **kwargs):
        if not create or self.adapter_kind != AdapterKind.SANDBOX:
            return
        codes = DEFAULT_CHART if extracted is None else {code: code for code in extracted}
        sandbox_accounts(self, codes)


def sandbox_accounts(connection: Connection, codes) -> None:
    """Add accounts (a dict code → name, or an iterable of codes) to a sandbox chart."""
    names = codes if isinstance(codes, dict) else {code: code for code in codes}
    for code, name in names.items():
        SandboxAccount.objects.get_or_create(
            connection=connection, code=code, defaults={"name": name}
        )


def sandbox_close_month(connection: Connection, day: dt.date) -> None:
    SandboxPeriod.objects.get_or_create(connection=connection, month=day.replace(day=1))


class MappingRuleFactory(factory.django.DjangoModelFactory):
    """A rule saved directly (no tie or account checks); specificity is computed."""

    class Meta:
        model = MappingRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    entity = "US01"
    document_type = DocumentType.INVOICE
    revenue_account = REVENUE_SAAS
    receivable_account = RECEIVABLE
    tax_account = TAX_PAYABLE
    valid_from = dt.date(2020, 1, 1)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        rule = model_class(*args, **kwargs)
        rule.specificity = rule.compute_specificity()
        rule.save()
        return rule


def default_rules(entity: str = "US01") -> dict[str, MappingRule]:
    """One rule per document type for `entity`, mapped to the DEFAULT_CHART accounts.

    For payment and refund rules `revenue_account` is the bank account; for write-offs the
    bad-debt expense account; for settlements the commission expense account (payable in
    `receivable_account`).
    """
    made = {}
    for doc_type, revenue, receivable in (
        (DocumentType.INVOICE, REVENUE_SAAS, RECEIVABLE),
        (DocumentType.CREDIT_NOTE, REVENUE_SAAS, RECEIVABLE),
        (DocumentType.PAYMENT, BANK, RECEIVABLE),
        (DocumentType.REFUND, BANK, RECEIVABLE),
        (DocumentType.WRITE_OFF, BAD_DEBT, RECEIVABLE),
        (DocumentType.SETTLEMENT, COMMISSION_EXPENSE, PARTNER_PAYABLE),
    ):
        made[doc_type] = MappingRuleFactory(
            name=f"{entity} {doc_type}",
            entity=entity,
            document_type=doc_type,
            revenue_account=revenue,
            receivable_account=receivable,
        )
    return made


# ------------------------------------------------------------------------------------------
# Events with the billing records they made


def line(
    amount: str,
    *,
    tax: str = "0.00",
    family: str = "saas",
    tax_code: str = "",
    line_id: str | None = None,
) -> dict:
    """An event line of quantity 1 (amount = unit price)."""
    data = {
        "line_id": line_id or f"l{abs(hash((amount, tax, family))) % 10**8}",
        "description": f"{family} line",
        "product_family": family,
        "quantity": "1",
        "unit_price": amount,
        "amount": amount,
        "tax_amount": tax,
    }
    if tax_code:
        data["tax_code"] = tax_code
    return data


def _number_lines(lines: list[dict]) -> list[dict]:
    return [{**item, "line_id": f"L{index + 1}"} for index, item in enumerate(lines)]


def make_invoice(
    *,
    entity: LegalEntity | None = None,
    customer: Customer | None = None,
    subscription: Subscription | None = None,
    lines: list[dict] | None = None,
    currency: str = "USD",
    issue_date: dt.date = dt.date(2026, 5, 14),
    invoice_id: str | None = None,
) -> Invoice:
    """An invoice.issued event and the Invoice (with lines) it created."""
    entity = entity or LegalEntityFactory(code="US01")
    customer = customer or CustomerFactory(entity=entity, currency=currency)
    lines = _number_lines(lines or [line("100.00", tax="8.00", tax_code="US-ST")])
    invoice_id = invoice_id or f"inv_{Invoice.objects.count() + 1}_{customer.customer_id}"
    subtotal = sum((D(item["amount"]) for item in lines), D(0))
    tax_total = sum((D(item["tax_amount"]) for item in lines), D(0))
    data = {
        "invoice_id": invoice_id,
        "customer_id": customer.customer_id,
        "issue_date": issue_date.isoformat(),
        "due_date": (issue_date + dt.timedelta(days=30)).isoformat(),
        "currency": currency,
        "lines": lines,
        "subtotal": str(subtotal),
        "tax_total": str(tax_total),
        "total": str(subtotal + tax_total),
    }
    if subscription is not None:
        data["subscription_id"] = subscription.subscription_id
    event = FinanceEventFactory(type="invoice.issued", entity=entity.code, data=data)
    invoice = Invoice.objects.create(
        invoice_id=invoice_id,
        entity=entity,
        customer=customer,
        subscription=subscription,
        issue_date=issue_date,
        due_date=issue_date + dt.timedelta(days=30),
        currency=currency,
        subtotal_amount=subtotal,
        tax_amount=tax_total,
        total_amount=subtotal + tax_total,
        event=event,
    )
    for item in lines:
        InvoiceLine.objects.create(
            invoice=invoice,
            line_id=item["line_id"],
            description=item["description"],
            product_family=item["product_family"],
            quantity=D(item["quantity"]),
            unit_price=D(item["unit_price"]),
            amount=D(item["amount"]),
            tax_code=item.get("tax_code", ""),
            tax_amount=D(item["tax_amount"]),
        )
    return invoice


def make_credit_note(
    *, invoice: Invoice, lines: list[dict] | None = None, issue_date: dt.date | None = None
) -> CreditNote:
    lines = _number_lines(lines or [line("50.00", tax="4.00", tax_code="US-ST")])
    issue_date = issue_date or invoice.issue_date + dt.timedelta(days=3)
    subtotal = sum((D(item["amount"]) for item in lines), D(0))
    tax_total = sum((D(item["tax_amount"]) for item in lines), D(0))
    credit_note_id = f"cn_{CreditNote.objects.count() + 1}_{invoice.invoice_id}"
    data = {
        "credit_note_id": credit_note_id,
        "invoice_id": invoice.invoice_id,
        "issue_date": issue_date.isoformat(),
        "currency": invoice.currency,
        "lines": lines,
        "total": str(subtotal + tax_total),
        "reason": "goodwill",
    }
    event = FinanceEventFactory(type="credit_note.issued", entity=invoice.entity.code, data=data)
    note = CreditNote.objects.create(
        credit_note_id=credit_note_id,
        invoice=invoice,
        entity=invoice.entity,
        issue_date=issue_date,
        currency=invoice.currency,
        subtotal_amount=subtotal,
        tax_amount=tax_total,
        total_amount=subtotal + tax_total,
        reason="goodwill",
        event=event,
    )
    for item in lines:
        CreditNoteLine.objects.create(
            credit_note=note,
            line_id=item["line_id"],
            description=item["description"],
            product_family=item["product_family"],
            quantity=D(item["quantity"]),
            unit_price=D(item["unit_price"]),
            amount=D(item["amount"]),
            tax_code=item.get("tax_code", ""),
            tax_amount=D(item["tax_amount"]),
        )
    return note


def make_payment(
    *,
    invoice: Invoice,
    amount: str | None = None,
    received_at: dt.datetime | None = None,
) -> Payment:
    amount_value = D(amount) if amount is not None else invoice.total_amount
    received_at = received_at or dt.datetime.combine(
        invoice.issue_date + dt.timedelta(days=5), dt.time(12), tzinfo=dt.UTC
    )
    payment_id = f"pay_{Payment.objects.count() + 1}_{invoice.invoice_id}"
    data = {
        "payment_id": payment_id,
        "customer_id": invoice.customer.customer_id,
        "invoice_id": invoice.invoice_id,
        "amount": str(amount_value),
        "currency": invoice.currency,
        "received_at": received_at.isoformat(),
        "method": "card",
    }
    event = FinanceEventFactory(type="payment.settled", entity=invoice.entity.code, data=data)
    payment = Payment.objects.create(
        payment_id=payment_id,
        entity=invoice.entity,
        customer=invoice.customer,
        amount=amount_value,
        currency=invoice.currency,
        received_at=received_at,
        method="card",
        allocated_amount=amount_value,
        event=event,
    )
    PaymentAllocation.objects.create(payment=payment, invoice=invoice, amount=amount_value)
    return payment


def make_refund(*, payment: Payment, amount: str | None = None) -> Refund:
    amount_value = D(amount) if amount is not None else payment.amount
    issued_at = payment.received_at + dt.timedelta(days=2)
    refund_id = f"rf_{Refund.objects.count() + 1}_{payment.payment_id}"
    data = {
        "refund_id": refund_id,
        "payment_id": payment.payment_id,
        "amount": str(amount_value),
        "currency": payment.currency,
        "issued_at": issued_at.isoformat(),
    }
    event = FinanceEventFactory(type="refund.issued", entity=payment.entity.code, data=data)
    return Refund.objects.create(
        refund_id=refund_id,
        payment=payment,
        amount=amount_value,
        currency=payment.currency,
        issued_at=issued_at,
        event=event,
    )


def make_write_off(*, invoice: Invoice, amount: str | None = None) -> WriteOff:
    amount_value = D(amount) if amount is not None else invoice.open_amount
    data = {
        "invoice_id": invoice.invoice_id,
        "amount": str(amount_value),
        "currency": invoice.currency,
        "reason": "uncollectible",
    }
    event = FinanceEventFactory(
        type="invoice.written_off",
        entity=invoice.entity.code,
        data=data,
        event_time=dt.datetime.combine(
            invoice.issue_date + dt.timedelta(days=90), dt.time(9), tzinfo=dt.UTC
        ),
    )
    return WriteOff.objects.create(
        invoice=invoice,
        amount=amount_value,
        currency=invoice.currency,
        reason="uncollectible",
        event=event,
    )


def make_settlement_event(
    *,
    partner: Partner,
    entity: str = "US01",
    amount: str = "250.00",
    currency: str = "USD",
    lines: list[dict] | None = None,
) -> FinanceEvent:
    """A stored, applied `settlement.approved` in the shape billing's schema declares
    (billing.schema.settlements: source concord, the statement lines, total = their sum),
    validated by that same declaration before it is stored: a factory that drifts from the
    schema fails here rather than feeding erp_sync an event production never sends."""
    number = FinanceEvent.objects.count() + 1
    if lines is None:
        lines = [
            {"line_id": "1", "kind": "accrual", "source_ref": "INV-1 line 1", "amount": amount}
        ]
    data = {
        "settlement_id": f"stl_{number}",
        "partner_id": partner.partner_id,
        "period_start": "2026-04-01",
        "period_end": "2026-04-30",
        "currency": currency,
        "total": amount,
        "lines": lines,
    }
    event = FinanceEventFactory.build(
        source=CONCORD_SOURCE,
        type="settlement.approved",
        entity=entity,
        event_id=f"stl_{number}-approved",
        data=data,
    )
    validate_event(event.body)  # raises EventSchemaError, naming each field at fault
    event.save()
    return event
