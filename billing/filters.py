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
from config.filters import DateTimeFilter


class FinanceEventFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=FinanceEventState.choices)
    type = filters.CharFilter()
    source = filters.CharFilter()
    entity = filters.CharFilter()
    quarantine_reason = filters.ChoiceFilter(choices=QuarantineReason.choices)
    correlation_id = filters.CharFilter()
    received_at_after = DateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_at_before = DateTimeFilter(field_name="received_at", lookup_expr="lte")

    class Meta:
        model = FinanceEvent
        fields = ["state", "type", "source", "entity", "quarantine_reason", "correlation_id"]


class CustomerFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code")
    country = filters.CharFilter()
    currency = filters.CharFilter()
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Customer
        fields = ["entity", "country", "currency", "name"]


class SubscriptionFilterSet(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__customer_id")
    plan = filters.CharFilter(field_name="plan__plan_code")
    product_family = filters.CharFilter(field_name="plan__product_family")
    state = filters.MultipleChoiceFilter(choices=SubscriptionState.choices)
    partner = filters.CharFilter(field_name="partner_code")

    class Meta:
        model = Subscription
        fields = ["customer", "plan", "product_family", "state", "partner", "currency"]


class InvoiceFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code")
    customer = filters.CharFilter(field_name="customer__customer_id")
    subscription = filters.CharFilter(field_name="subscription__subscription_id")
    state = filters.MultipleChoiceFilter(choices=InvoiceState.choices)
    erp_status = filters.MultipleChoiceFilter(choices=ErpStatus.choices)
    currency = filters.CharFilter()
    issue_date = filters.DateFromToRangeFilter()

    class Meta:
        model = Invoice
        fields = ["entity", "customer", "subscription", "state", "erp_status", "currency"]


class PaymentFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code")
    customer = filters.CharFilter(field_name="customer__customer_id")
    erp_status = filters.MultipleChoiceFilter(choices=ErpStatus.choices)
    currency = filters.CharFilter()
    received_at_after = DateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_at_before = DateTimeFilter(field_name="received_at", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["entity", "customer", "erp_status", "currency", "method"]


class CreditNoteFilterSet(filters.FilterSet):
    entity = filters.CharFilter(field_name="entity__code")
    invoice = filters.CharFilter(field_name="invoice__invoice_id")
    erp_status = filters.MultipleChoiceFilter(choices=ErpStatus.choices)
    issue_date = filters.DateFromToRangeFilter()

    class Meta:
        model = CreditNote
        fields = ["entity", "invoice", "erp_status", "currency"]
