from datetime import date
from decimal import Decimal

import pytest

from tests.billing.factories import LegalEntityFactory


@pytest.fixture
def entity(db):
    return LegalEntityFactory(code="US01", currency="USD", country="US")


@pytest.fixture
def actor(make_user):
    return make_user("ops", "finance_ops")


@pytest.fixture
def world(entity):
    """Records the default event bodies refer to: cus_x, sub_x, inv_x (100 USD open), pay_x."""
    from tests.billing.factories import (
        CustomerFactory,
        InvoiceFactory,
        PaymentFactory,
        SubscriptionFactory,
    )

    customer = CustomerFactory(customer_id="cus_x", entity=entity)
    return {
        "entity": entity,
        "customer": customer,
        "subscription": SubscriptionFactory(subscription_id="sub_x", customer=customer),
        "invoice": InvoiceFactory(invoice_id="inv_x", customer=customer),
        "payment": PaymentFactory(payment_id="pay_x", customer=customer),
    }


@pytest.fixture
def world_two_invoices(world):
    """The billing `world`, books closed through January, a second open invoice of cus_x
    (due first, 60 USD), a EUR customer cus_y and a USD customer cus_z without invoices."""
    from tests.billing.factories import CustomerFactory, InvoiceFactory

    world["entity"].closed_through = date(2026, 1, 31)
    world["entity"].save()
    InvoiceFactory(
        invoice_id="inv_y",
        customer=world["customer"],
        due_date=date(2026, 5, 15),
        subtotal_amount=Decimal("60.00"),
        total_amount=Decimal("60.00"),
    )
    CustomerFactory(customer_id="cus_y", entity=world["entity"], currency="EUR")
    CustomerFactory(customer_id="cus_z", entity=world["entity"], currency="USD")
    return world
