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
