import datetime as dt
from decimal import Decimal as D

import pytest

from billing.schema import EventSchemaError, validate_event
from erp_sync.adapters.base import Posting
from erp_sync.builders import build_document
from erp_sync.documents import document_from_json, document_to_json, external_id_for
from erp_sync.errors import DocumentSourceError, MappingMissingError
from tests.erp_sync.factories import (
    BAD_DEBT,
    BANK,
    COMMISSION_EXPENSE,
    PARTNER_PAYABLE,
    RECEIVABLE,
    REVENUE_SAAS,
    REVENUE_SERVICES,
    TAX_PAYABLE,
    ConnectionFactory,
    CustomerFactory,
    LegalEntityFactory,
    MappingRuleFactory,
    PartnerFactory,
    SubscriptionFactory,
    default_rules,
    line,
    make_credit_note,
    make_invoice,
    make_payment,
    make_refund,
    make_settlement_event,
    make_write_off,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    entity = LegalEntityFactory(code="US01")
    connection = ConnectionFactory(entity=entity)
    rules = default_rules("US01")
    services = MappingRuleFactory(
        name="US01 services revenue", product_family="services", revenue_account=REVENUE_SERVICES
    )
    return {"entity": entity, "connection": connection, "rules": rules, "services": services}


def build(event, setup, **kwargs):
    return build_document(event=event, connection=setup["connection"], **kwargs)


def postings(doc):
    return [(p.account, p.debit, p.credit) for p in doc.postings]


def test_build_invoice_maps_each_line_and_balances(setup):
    invoice = make_invoice(
        entity=setup["entity"],
        lines=[
            line("100.00", tax="8.25", tax_code="US-ST"),
            line("40.00", tax="3.30", family="services", tax_code="US-ST"),
        ],
    )

    built = build(invoice.event, setup)

    doc = built.document
    assert doc.kind == "invoice" and doc.currency == "USD" and doc.entity == "US01"
    assert doc.total == D("151.55") and doc.tax_total == D("11.55")
    assert doc.receivable_account == RECEIVABLE
    assert [line.account for line in doc.lines] == [REVENUE_SAAS, REVENUE_SERVICES]
    assert postings(doc) == [
        (RECEIVABLE, D("151.55"), D(0)),
        (REVENUE_SAAS, D(0), D("100.00")),
        (REVENUE_SERVICES, D(0), D("40.00")),
        (TAX_PAYABLE, D(0), D("11.55")),
    ]
    assert doc.is_balanced()
    assert doc.external_id == external_id_for(event=invoice.event, connection=None)
    assert doc.party.code == invoice.customer.customer_id and doc.reference == invoice.invoice_id
    assert doc.document_date == invoice.issue_date
    assert {r.pk for r in built.rules} == {setup["rules"]["invoice"].pk, setup["services"].pk}


def test_build_invoice_negative_discount_line_posts_as_debit(setup):
    invoice = make_invoice(entity=setup["entity"], lines=[line("100.00"), line("-10.00")])

    doc = build(invoice.event, setup).document

    assert postings(doc) == [
        (RECEIVABLE, D("90.00"), D(0)),
        (REVENUE_SAAS, D(0), D("100.00")),
        (REVENUE_SAAS, D("10.00"), D(0)),
    ]


def test_build_invoice_partner_kind_rule_is_preferred(setup):
    partner = PartnerFactory(kind="reseller")
    customer = CustomerFactory(entity=setup["entity"])
    subscription = SubscriptionFactory(customer=customer, partner_code=partner.partner_id)
    resold = MappingRuleFactory(
        name="resold saas", product_family="saas", partner_kind="reseller", revenue_account=BANK
    )
    invoice = make_invoice(entity=setup["entity"], customer=customer, subscription=subscription)

    built = build(invoice.event, setup)

    assert built.document.lines[0].account == BANK
    assert resold in built.rules


def test_build_credit_note_mirrors_invoice(setup):
    invoice = make_invoice(entity=setup["entity"])
    note = make_credit_note(invoice=invoice, lines=[line("50.00", tax="4.13", tax_code="US-ST")])

    doc = build(note.event, setup).document

    assert doc.kind == "credit_note" and doc.total == D("54.13")
    assert postings(doc) == [
        (RECEIVABLE, D(0), D("54.13")),
        (REVENUE_SAAS, D("50.00"), D(0)),
        (TAX_PAYABLE, D("4.13"), D(0)),
    ]
    assert doc.parent_external_id == external_id_for(event=invoice.event)


def test_build_payment_debits_bank_credits_receivable(setup):
    invoice = make_invoice(entity=setup["entity"])
    payment = make_payment(invoice=invoice, amount="108.00")

    doc = build(payment.event, setup).document

    assert doc.kind == "payment" and doc.total == D("108.00")
    assert postings(doc) == [(BANK, D("108.00"), D(0)), (RECEIVABLE, D(0), D("108.00"))]
    assert doc.parent_external_id == external_id_for(event=invoice.event)
    assert doc.document_date == payment.received_at.date()


def test_build_refund_mirrors_payment_with_payment_as_parent(setup):
    payment = make_payment(invoice=make_invoice(entity=setup["entity"]))
    refund = make_refund(payment=payment, amount="20.00")

    doc = build(refund.event, setup).document

    assert postings(doc) == [(RECEIVABLE, D("20.00"), D(0)), (BANK, D(0), D("20.00"))]
    assert doc.parent_external_id == external_id_for(event=payment.event)


def test_build_write_off_debits_bad_debt(setup):
    invoice = make_invoice(entity=setup["entity"])
    write_off = make_write_off(invoice=invoice, amount="108.00")

    doc = build(write_off.event, setup).document

    assert postings(doc) == [(BAD_DEBT, D("108.00"), D(0)), (RECEIVABLE, D(0), D("108.00"))]
    assert doc.parent_external_id == external_id_for(event=invoice.event)


def test_build_settlement_debits_commission_credits_payable(setup):
    event = make_settlement_event(partner=PartnerFactory(), amount="250.00")

    doc = build(event, setup).document

    assert doc.kind == "settlement" and doc.receivable_account == PARTNER_PAYABLE
    assert postings(doc) == [
        (COMMISSION_EXPENSE, D("250.00"), D(0)),
        (PARTNER_PAYABLE, D(0), D("250.00")),
    ]
    # The declared event carries no approval day: the vendor bill is dated at the period end.
    assert doc.document_date == dt.date(2026, 4, 30)


def test_settlement_event_factory_is_validated_by_the_declared_schema():
    partner = PartnerFactory()
    lines = [{"line_id": "1", "kind": "accrual", "source_ref": "INV-1 line 1", "amount": "9.00"}]

    event = make_settlement_event(partner=partner, amount="250.00")
    assert validate_event(event.body).data["lines"][0]["amount"] == D("250.00")
    assert event.source == "concord" and "approved_on" not in event.data
    with pytest.raises(EventSchemaError) as refused:  # total != the sum of the lines
        make_settlement_event(partner=partner, amount="250.00", lines=lines)
    assert "data.total" in {e.field for e in refused.value.errors}


def test_build_jpy_amounts_are_quantised_to_yen(setup):
    MappingRuleFactory(name="yen", currency="JPY")
    invoice = make_invoice(
        entity=setup["entity"], currency="JPY", lines=[line("1000", tax="100", tax_code="JP")]
    )

    doc = build(invoice.event, setup).document

    assert doc.total == D("1100") and doc.total.as_tuple().exponent == 0


def test_build_posting_date_moves_document_and_keeps_original(setup):
    invoice = make_invoice(entity=setup["entity"], issue_date=dt.date(2026, 4, 30))

    doc = build(invoice.event, setup, posting_date=dt.date(2026, 5, 1)).document

    assert doc.document_date == dt.date(2026, 5, 1)
    assert doc.extra["original_date"] == "2026-04-30"


def test_build_no_rule_for_line_raises_mapping_missing_with_match(setup):
    invoice = make_invoice(entity=setup["entity"], lines=[line("10.00", family="hardware")])
    setup["rules"]["invoice"].delete()

    with pytest.raises(MappingMissingError) as missing:
        build(invoice.event, setup)

    assert missing.value.code == "mapping_missing"
    match = missing.value.match
    assert (match["entity"], match["document_type"], match["product_family"]) == (
        "US01",
        "invoice",
        "hardware",
    )
    assert match["country"] == "US" and match["currency"] == "USD"
    assert "hardware" in missing.value.message


def test_build_rule_without_tax_account_raises_mapping_missing(setup):
    rule = setup["rules"]["invoice"]
    rule.tax_account = ""
    rule.save()
    invoice = make_invoice(entity=setup["entity"])

    with pytest.raises(MappingMissingError) as missing:
        build(invoice.event, setup)

    assert missing.value.match["account"] == "tax_account"
    assert f"(id {rule.pk})" in missing.value.message


def test_build_payment_without_rule_raises_mapping_missing(setup):
    setup["rules"]["payment"].delete()
    payment = make_payment(invoice=make_invoice(entity=setup["entity"]))

    with pytest.raises(MappingMissingError) as missing:
        build(payment.event, setup)

    assert missing.value.match["document_type"] == "payment"


def test_build_event_type_without_document_refused(setup):
    invoice = make_invoice(entity=setup["entity"])
    invoice.event.type = "customer.upserted"

    with pytest.raises(DocumentSourceError) as refused:
        build(invoice.event, setup)

    assert refused.value.code == "not_postable"


def test_document_json_round_trip_is_exact(setup):
    invoice = make_invoice(entity=setup["entity"])
    doc = build(invoice.event, setup, posting_date=dt.date(2026, 6, 1)).document

    data = document_to_json(doc)

    assert data["total"] == "108.00" and data["document_date"] == "2026-06-01"
    assert document_from_json(data) == doc
    assert isinstance(document_from_json(data).postings[0], Posting)
