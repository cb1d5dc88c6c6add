"""Shapes of billing records on the API. Amounts render as strings in the record's currency."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import (
    CreditNote,
    CreditNoteLine,
    Customer,
    FinanceEvent,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    Subscription,
)
from billing.selectors import corrected_by, correction_root
from config.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS, quantize


class MoneyMixin:
    """Renders `money_fields` quantised to the currency's minor unit ("12.50", not "12.5000")."""

    money_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.money_fields:
            data[name] = format(quantize(getattr(instance, name), instance.currency), "f")
        return data


class FinanceEventSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="event_id")

    class Meta:
        model = FinanceEvent
        fields = [
            "source",
            "id",
            "type",
            "entity",
            "state",
            "quarantine_reason",
            "correlation_id",
            "event_time",
            "received_at",
            "applied_at",
            "dispatched_at",
            "apply_attempts",
            "body_digest",
        ]
        read_only_fields = fields


class EventRefSerializer(serializers.Serializer):
    source = serializers.CharField()
    id = serializers.CharField(source="event_id")


class FinanceEventDetailSerializer(FinanceEventSerializer):
    cases = serializers.SerializerMethodField()
    records = serializers.SerializerMethodField()
    corrects = EventRefSerializer(
        read_only=True, allow_null=True, help_text="the event this one corrects"
    )
    corrected_by = serializers.SerializerMethodField()

    class Meta(FinanceEventSerializer.Meta):
        fields = [
            *FinanceEventSerializer.Meta.fields,
            "quarantine_detail",
            "specversion",
            "body",
            "result",
            "cases",
            "records",
            "corrects",
            "corrected_by",
            "correction",
        ]
        read_only_fields = fields

    @extend_schema_field(EventRefSerializer(allow_null=True))
    def get_corrected_by(self, event) -> dict | None:
        copy = corrected_by(event)
        return None if copy is None else {"source": copy.source, "id": copy.event_id}

    def get_cases(self, event) -> list[dict]:
        from exceptions.selectors import cases_for_subject

        return [
            {
                "id": case.pk,
                "kind": case.kind,
                "severity": case.severity,
                "state": case.state,
                "title": case.title,
                "occurrences": case.occurrences,
            }
            for case in cases_for_subject(correction_root(event))
        ]

    def get_records(self, event) -> dict:
        return (event.result or {}).get("records") or {}


class EventCorrectionSerializer(serializers.Serializer):
    """A correction of a quarantined event: the corrected parts and why (the event schema
    checks them, answering 400 with field paths)."""

    reason = serializers.CharField(max_length=300, help_text="why the event is corrected")
    data = serializers.JSONField(help_text="the whole corrected `data` object of the event")
    entity = serializers.CharField(required=False, help_text="the corrected legal entity")
    time = serializers.CharField(required=False, help_text="the corrected event time")


class CustomerSerializer(serializers.ModelSerializer):
    entity = serializers.CharField(source="entity.code")

    class Meta:
        model = Customer
        fields = ["customer_id", "entity", "name", "country", "currency", "region", "tax_id"]
        read_only_fields = fields


class SubscriptionSerializer(serializers.ModelSerializer):
    customer = serializers.CharField(source="customer.customer_id")
    plan_code = serializers.CharField(source="plan.plan_code")
    product_family = serializers.CharField(source="plan.product_family")

    class Meta:
        model = Subscription
        fields = [
            "subscription_id",
            "customer",
            "plan_code",
            "product_family",
            "quantity",
            "unit_price",
            "currency",
            "interval",
            "start_date",
            "term_end",
            "ended_on",
            "cancel_reason",
            "state",
            "partner_code",
            "partner_role",
        ]
        read_only_fields = fields


class LineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "line_id",
            "description",
            "product_family",
            "quantity",
            "unit_price",
            "amount",
            "tax_code",
            "tax_amount",
        ]
        read_only_fields = fields


class CreditNoteLineSerializer(LineSerializer):
    class Meta(LineSerializer.Meta):
        model = CreditNoteLine


_INVOICE_FIELDS = [
    "invoice_id",
    "entity",
    "customer",
    "subscription",
    "issue_date",
    "due_date",
    "currency",
    "subtotal_amount",
    "tax_amount",
    "total_amount",
    "paid_amount",
    "credited_amount",
    "written_off_amount",
    "open_amount",
    "state",
    "erp_status",
    "erp_document_number",
    "erp_document_id",
]


class InvoiceSerializer(MoneyMixin, serializers.ModelSerializer):
    money_fields = (
        "subtotal_amount",
        "tax_amount",
        "total_amount",
        "paid_amount",
        "credited_amount",
        "written_off_amount",
        "open_amount",
    )
    entity = serializers.CharField(source="entity.code")
    customer = serializers.CharField(source="customer.customer_id")
    subscription = serializers.CharField(source="subscription.subscription_id", default=None)
    open_amount = serializers.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES
    )

    class Meta:
        model = Invoice
        fields = _INVOICE_FIELDS
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = LineSerializer(many=True)
    payments = serializers.SerializerMethodField()
    credit_notes = serializers.SerializerMethodField()

    class Meta(InvoiceSerializer.Meta):
        fields = [*_INVOICE_FIELDS, "lines", "payments", "credit_notes"]
        read_only_fields = fields

    def get_payments(self, invoice) -> list[dict]:
        return [
            {
                "payment_id": allocation.payment.payment_id,
                "amount": format(quantize(allocation.amount, invoice.currency), "f"),
            }
            for allocation in invoice.allocations.all()
        ]

    def get_credit_notes(self, invoice) -> list[dict]:
        return [
            {
                "credit_note_id": note.credit_note_id,
                "total_amount": format(quantize(note.total_amount, note.currency), "f"),
                "erp_status": note.erp_status,
            }
            for note in invoice.credit_notes.all()
        ]


class AllocationSerializer(serializers.ModelSerializer):
    invoice = serializers.CharField(source="invoice.invoice_id")

    class Meta:
        model = PaymentAllocation
        fields = ["invoice", "amount"]
        read_only_fields = fields


class PaymentSerializer(MoneyMixin, serializers.ModelSerializer):
    money_fields = ("amount", "allocated_amount", "unallocated_amount", "refunded_amount")
    entity = serializers.CharField(source="entity.code")
    customer = serializers.CharField(source="customer.customer_id")
    unallocated_amount = serializers.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES
    )
    allocations = AllocationSerializer(many=True)

    class Meta:
        model = Payment
        fields = [
            "payment_id",
            "entity",
            "customer",
            "amount",
            "currency",
            "received_at",
            "method",
            "allocated_amount",
            "unallocated_amount",
            "refunded_amount",
            "allocations",
            "erp_status",
            "erp_document_number",
            "erp_document_id",
        ]
        read_only_fields = fields


class CreditNoteSerializer(MoneyMixin, serializers.ModelSerializer):
    money_fields = ("subtotal_amount", "tax_amount", "total_amount")
    entity = serializers.CharField(source="entity.code")
    invoice = serializers.CharField(source="invoice.invoice_id")
    lines = CreditNoteLineSerializer(many=True)

    class Meta:
        model = CreditNote
        fields = [
            "credit_note_id",
            "entity",
            "invoice",
            "issue_date",
            "currency",
            "subtotal_amount",
            "tax_amount",
            "total_amount",
            "reason",
            "lines",
            "erp_status",
            "erp_document_number",
            "erp_document_id",
        ]
        read_only_fields = fields
