"""One FilterSet per billing model; the console lists and the API lists share them."""

import django_filters as filters

from billing.choices import (
    ErpStatus,
    FinanceEventState,
    InvoiceState,
    QuarantineReason,
    SubscriptionState,
)
from billing.models import CreditNote, Customer, FinanceEvent, Invoice, Payment, Subscription
from config.filter_widgets import date_range
from config.filters import DateTimeFilter


class FinanceEventFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=FinanceEventState.choices)
    type = filters.CharFilter(label="Event type")
    source = filters.CharFilter(label="Source")
    entity = filters.CharFilter(label="Entity")
    quarantine_reason = filters.ChoiceFilter(
        choices=QuarantineReason.choices, label="Quarantine reason"
    )
    correlation_id = filters.CharFilter(label="Correlation id")
    received_at_after = DateTimeFilter(
        field_name="received_at", lookup_expr="gte", label="Received from"
    )
    received_at_before = DateTimeFilter(
        field_name="received_at", lookup_expr="lte", label="Received until"
    )

    class Meta:
        model = FinanceEvent
        fields = ["state", "type", "source", "entity", "quarantine_reason", "correlation_id"]


class CustomerFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code", label="Entity")
    country = filters.CharFilter()
    currency = filters.CharFilter()
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Customer
        fields = ["entity", "country", "currency", "name"]


class SubscriptionFilterSet(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__customer_id", label="Customer")
    plan = filters.CharFilter(field_name="plan__plan_code", label="Plan")
    product_family = filters.CharFilter(field_name="plan__product_family", label="Product family")
    state = filters.MultipleChoiceFilter(choices=SubscriptionState.choices)
    partner = filters.CharFilter(field_name="partner_code", label="Partner")

    class Meta:
        model = Subscription
        fields = ["customer", "plan", "product_family", "state", "partner", "currency"]


class InvoiceFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code", label="Entity")
    customer = filters.CharFilter(field_name="customer__customer_id", label="Customer")
    subscription = filters.CharFilter(
        field_name="subscription__subscription_id", label="Subscription"
    )
    state = filters.MultipleChoiceFilter(choices=InvoiceState.choices, label="State")
    erp_status = filters.MultipleChoiceFilter(choices=ErpStatus.choices, label="ERP status")
    currency = filters.CharFilter(label="Currency")
    issue_date = filters.DateFromToRangeFilter(
        label="Issued", widget=date_range("Issued", type="date")
    )

    class Meta:
        model = Invoice
        fields = ["entity", "customer", "subscription", "state", "erp_status", "currency"]


class PaymentFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code", label="Entity")
    customer = filters.CharFilter(field_name="customer__customer_id", label="Customer")
    erp_status = filters.MultipleChoiceFilter(choices=ErpStatus.choices, label="ERP status")
    currency = filters.CharFilter()
    received_at_after = DateTimeFilter(
        field_name="received_at", lookup_expr="gte", label="Received from"
    )
    received_at_before = DateTimeFilter(
        field_name="received_at", lookup_expr="lte", label="Received until"
    )

    class Meta:
        model = Payment
        fields = ["entity", "customer", "erp_status", "currency", "method"]


class CreditNoteFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code", label="Entity")
    invoice = filters.CharFilter(field_name="invoice__invoice_id", label="Invoice")
    erp_status = filters.MultipleChoiceFilter(choices=ErpStatus.choices, label="ERP status")
    issue_date = filters.DateFromToRangeFilter(
        label="Issued", widget=date_range("Issued", type="date")
    )

    class Meta:
        model = CreditNote
        fields = ["entity", "invoice", "erp_status", "currency"]
