"""The schema check of canonical finance events (billing.schema): cleaning, every error code
with its field path, collecting all errors, batch path prefixes and the canonical digest."""

import copy
import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.schema import (
    EVENT_TYPES,
    MASTER_DATA_TYPES,
    Envelope,
    EventSchemaError,
    FieldError,
    canonical_digest,
    validate_event,
)
from config.api.parsers import FractionalNumber, loads

ENVELOPE = {
    "specversion": "1.0",
    "id": "evt_81f3",
    "source": "billing-platform",
    "time": "2026-05-14T10:00:00Z",
    "entity": "US01",
    "correlationid": "quote-789",
}

LINE = {
    "line_id": "L1",
    "description": "Platform seats, May",
    "product_family": "saas",
    "quantity": "3",
    "unit_price": "416.666",
    "amount": "1250.00",
    "tax_code": "US-CA",
    "tax_amount": "100.00",
}

VALID_DATA = {
    "customer.upserted": {
        "customer_id": "cus_1",
        "name": "Acme Corp",
        "country": "US",
        "currency": "USD",
        "region": "west",
        "tax_id": "12-3456789",
    },
    "partner.upserted": {
        "partner_id": "par_1",
        "name": "Channel Co",
        "kind": "reseller",
        "parent_partner_id": "par_0",
        "country": "DE",
        "currency": "EUR",
    },
    "subscription.created": {
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "plan_code": "pro-annual",
        "product_family": "saas",
        "quantity": "10",
        "unit_price": "99.50",
        "currency": "USD",
        "interval": "year",
        "start_date": "2026-05-01",
        "partner_id": "par_1",
        "partner_role": "referral",
    },
    "subscription.amended": {
        "subscription_id": "sub_1",
        "effective_date": "2026-06-01",
        "plan_code": "enterprise",
        "quantity": "12",
        "unit_price": "89.00",
    },
    "subscription.renewed": {"subscription_id": "sub_1", "term_end": "2027-04-30"},
    "subscription.cancelled": {
        "subscription_id": "sub_1",
        "effective_date": "2026-09-30",
        "reason": "budget",
    },
    "usage.recorded": {
        "usage_id": "use_1",
        "subscription_id": "sub_1",
        "meter": "api_calls",
        "quantity": "1200.5",
        "unit_price": "0.0025",
        "period_start": "2026-05-01",
        "period_end": "2026-05-31",
    },
    "invoice.issued": {
        "invoice_id": "inv_1",
        "customer_id": "cus_1",
        "subscription_id": "sub_1",
        "issue_date": "2026-05-14",
        "due_date": "2026-06-13",
        "currency": "USD",
        "lines": [
            LINE,
            {
                "line_id": "L2",
                "description": "Loyalty discount",
                "product_family": "saas",
                "quantity": "1",
                "unit_price": "-50",
                "amount": "-50.00",
                "tax_amount": "-4.00",
            },
        ],
        "subtotal": "1200.00",
        "tax_total": "96.00",
        "total": "1296.00",
    },
    "credit_note.issued": {
        "credit_note_id": "cn_1",
        "invoice_id": "inv_1",
        "issue_date": "2026-05-20",
        "currency": "USD",
        "lines": [LINE],
        "total": "1350.00",
        "reason": "seats returned",
    },
    "payment.settled": {
        "payment_id": "pay_1",
        "customer_id": "cus_1",
        "invoice_id": "inv_1",
        "amount": "1296.00",
        "currency": "USD",
        "received_at": "2026-05-20T09:30:00+02:00",
        "method": "card",
    },
    "refund.issued": {
        "refund_id": "ref_1",
        "payment_id": "pay_1",
        "amount": "100.00",
        "currency": "USD",
        "issued_at": "2026-05-21T12:00:00Z",
    },
    "invoice.written_off": {
        "invoice_id": "inv_1",
        "amount": "1296.00",
        "currency": "USD",
        "reason": "customer insolvent",
    },
    "settlement.approved": {
        "settlement_id": "stl_1",
        "partner_id": "ptn_1",
        "period_start": "2026-05-01",
        "period_end": "2026-05-31",
        "currency": "USD",
        "total": "230.00",
        "lines": [
            {"line_id": "1", "kind": "accrual", "source_ref": "inv_1/L1", "amount": "250.00"},
            {"line_id": "2", "kind": "clawback", "source_ref": "cn_1/L1", "amount": "-20.00"},
        ],
    },
    "payout.settled": {
        "payout_id": "po_1",
        "settlement_id": "stl_1",
        "partner_id": "ptn_1",
        "amount": "230.00",
        "currency": "USD",
        "paid_at": "2026-06-05T09:00:00Z",
        "reference": "BANK-1",
    },
}
# Concord's own events are accepted from Concord only.
SOURCES = {"settlement.approved": "concord"}


def event(event_type: str = "usage.recorded", **data_changes) -> dict:
    """A valid event of `event_type`; data_changes set (or with None, delete) data fields."""
    body = {**copy.deepcopy(ENVELOPE), "type": event_type}
    body["source"] = SOURCES.get(event_type, body["source"])
    data = copy.deepcopy(VALID_DATA[event_type])
    for name, value in data_changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    body["data"] = data
    return body


def errors_of(body: object, **kwargs) -> list[FieldError]:
    with pytest.raises(EventSchemaError) as caught:
        validate_event(body, **kwargs)
    return caught.value.errors


def codes_of(body: object, **kwargs) -> list[tuple[str, str]]:
    return [(error.field, error.code) for error in errors_of(body, **kwargs)]


def invoice_with_line(**line_changes) -> dict:
    line = {**LINE, **line_changes}
    return event(
        "invoice.issued", lines=[line], subtotal="1250.00", tax_total="100.00", total="1350.00"
    )


# --- valid events ------------------------------------------------------------------------------


def test_event_types_cover_every_canonical_type():
    assert frozenset(VALID_DATA) == EVENT_TYPES
    assert len(EVENT_TYPES) == 14
    assert {"customer.upserted", "partner.upserted"} == MASTER_DATA_TYPES


@pytest.mark.parametrize("event_type", sorted(VALID_DATA))
def test_validate_valid_event_of_each_type_returns_envelope_with_every_field(event_type):
    envelope = validate_event(event(event_type))

    assert isinstance(envelope, Envelope)
    assert envelope.type == event_type
    assert envelope.id == "evt_81f3"
    assert envelope.source == SOURCES.get(event_type, "billing-platform")
    assert envelope.entity == "US01"
    assert envelope.correlationid == "quote-789"
    assert envelope.time == datetime(2026, 5, 14, 10, 0, tzinfo=UTC)
    assert set(envelope.data) == set(VALID_DATA[event_type])


def test_validate_settlement_approved_from_another_source_is_refused():
    body = event("settlement.approved")
    body["source"] = "billing-platform"

    assert codes_of(body) == [("source", "invalid_choice")]


def test_validate_settlement_approved_total_not_sum_of_lines_is_refused():
    assert codes_of(event("settlement.approved", total="250.00")) == [
        ("data.total", "total_mismatch")
    ]


def test_validate_settlement_approved_without_lines_and_zero_total_is_valid():
    envelope = validate_event(event("settlement.approved", lines=[], total="0"))

    assert envelope.data["total"] == 0


def test_validate_usage_returns_decimals_and_dates():
    data = validate_event(event("usage.recorded")).data

    assert data["quantity"] == Decimal("1200.5") and isinstance(data["quantity"], Decimal)
    assert data["unit_price"] == Decimal("0.0025")
    assert data["period_start"] == date(2026, 5, 1)
    assert data["period_end"] == date(2026, 5, 31)


def test_validate_invoice_returns_cleaned_lines_and_totals():
    data = validate_event(event("invoice.issued")).data

    assert data["issue_date"] == date(2026, 5, 14)
    assert data["subtotal"] == Decimal("1200.00")
    assert data["total"] == Decimal("1296.00")
    first, second = data["lines"]
    assert first["amount"] == Decimal("1250.00")
    assert first["unit_price"] == Decimal("416.666")
    assert second["amount"] == Decimal("-50.00")
    assert second["tax_code"] is None


def test_validate_payment_converts_received_at_to_utc():
    data = validate_event(event("payment.settled")).data

    assert data["received_at"] == datetime(2026, 5, 20, 7, 30, tzinfo=UTC)
    assert data["received_at"].utcoffset().total_seconds() == 0
    assert data["amount"] == Decimal("1296.00")


def test_validate_envelope_time_with_offset_is_converted_to_utc():
    body = {**event(), "time": "2026-05-14T12:00:00.250+02:00"}

    envelope = validate_event(body)

    assert envelope.time == datetime(2026, 5, 14, 10, 0, 0, 250000, tzinfo=UTC)
    assert envelope.time.tzinfo is UTC


def test_validate_money_amount_is_quantised_to_the_currency():
    body = event("payment.settled", amount="1296")

    assert str(validate_event(body).data["amount"]) == "1296.00"


def test_validate_absent_or_null_optional_fields_are_none():
    body = event("customer.upserted", region=None, tax_id=None)
    body["data"]["tax_id"] = None

    data = validate_event(body).data

    assert data["region"] is None
    assert data["tax_id"] is None


def test_validate_absent_correlationid_is_empty_string():
    body = event()
    del body["correlationid"]

    assert validate_event(body).correlationid == ""


def test_validate_unknown_envelope_attributes_are_ignored():
    body = {**event(), "subject": "sub_1", "datacontenttype": "application/json", "x": [1]}

    assert validate_event(body).data["usage_id"] == "use_1"


def test_validate_parsed_json_text_end_to_end():
    text = (
        '{"specversion":"1.0","id":"e1","source":"s","type":"refund.issued",'
        '"time":"2026-05-21T12:00:00Z","entity":"EU02","data":{"refund_id":"r1",'
        '"payment_id":"p1","amount":"12.50","currency":"EUR","issued_at":"2026-05-21T12:00:00Z"}}'
    )

    assert validate_event(loads(text)).data["amount"] == Decimal("12.50")


# --- body and envelope ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [[], "event", 3, None])
def test_validate_non_object_body_gives_one_error_on_empty_field(body):
    errors = errors_of(body)

    assert [(e.field, e.code) for e in errors] == [("", "invalid_type")]
    assert "must be a JSON object" in errors[0].message


def test_validate_non_object_body_in_batch_gives_error_on_item_path():
    assert codes_of([1], path="events[7]") == [("events[7]", "invalid_type")]


@pytest.mark.parametrize(
    ("attribute", "value", "code"),
    [
        ("specversion", "0.3", "unsupported_version"),
        ("specversion", 1.0, "unsupported_version"),
        ("id", "", "blank"),
        ("id", "x" * 201, "too_long"),
        ("id", 81, "invalid_type"),
        ("source", "", "blank"),
        ("source", "s" * 201, "too_long"),
        ("type", "invoice.paid", "unknown_type"),
        ("type", ["usage.recorded"], "invalid_type"),
        ("time", "2026-05-14T10:00:00", "invalid_datetime"),
        ("time", "2026-05-14", "invalid_datetime"),
        ("time", "14/05/2026 10:00Z", "invalid_datetime"),
        ("time", "2026-05-14T25:00:00Z", "invalid_datetime"),
        ("entity", "us01", "invalid_entity"),
        ("entity", "E" * 17, "invalid_entity"),
        ("entity", "US-01", "invalid_entity"),
        ("entity", "", "invalid_entity"),
        ("correlationid", "c" * 129, "too_long"),
        ("correlationid", 5, "invalid_type"),
        ("data", [], "invalid_type"),
        ("data", "{}", "invalid_type"),
    ],
)
def test_validate_bad_envelope_attribute_gives_its_code(attribute, value, code):
    body = {**event(), attribute: value}

    assert codes_of(body) == [(attribute, code)]


@pytest.mark.parametrize("attribute", ["specversion", "id", "source", "type", "time", "entity"])
def test_validate_missing_envelope_attribute_is_required(attribute):
    body = event()
    del body[attribute]

    errors = errors_of(body)

    assert [(e.field, e.code, e.message) for e in errors] == [
        (attribute, "required", "this field is required")
    ]


def test_validate_missing_data_is_required():
    body = event()
    del body["data"]

    assert codes_of(body) == [("data", "required")]


def test_validate_envelope_limits_are_inclusive():
    body = {**event(), "id": "x" * 200, "source": "s" * 200, "entity": "E" * 16}
    body["correlationid"] = "c" * 128

    assert validate_event(body).entity == "E" * 16


def test_validate_unknown_type_names_the_type_and_skips_data():
    body = {**event(), "type": "usage.recrded"}

    errors = errors_of(body)

    assert [(e.field, e.code) for e in errors] == [("type", "unknown_type")]
    assert "'usage.recrded' is not a known event type" in errors[0].message


# --- data fields ---------------------------------------------------------------------------------


def test_validate_missing_required_data_field_is_required():
    errors = errors_of(event("usage.recorded", meter=None))

    assert [(e.field, e.code, e.message) for e in errors] == [
        ("data.meter", "required", "this field is required")
    ]


def test_validate_null_required_data_field_is_required():
    body = event("usage.recorded")
    body["data"]["meter"] = None

    assert codes_of(body) == [("data.meter", "required")]


def test_validate_wrong_type_names_the_expected_type():
    errors = errors_of(event("customer.upserted", name=123))

    assert [(e.field, e.code) for e in errors] == [("data.name", "invalid_type")]
    assert errors[0].message == "data.name must be a string, not a JSON number"


def test_validate_unknown_data_field_is_refused():
    body = event("payment.settled", amount=None)
    body["data"]["amout"] = "1296.00"

    assert codes_of(body) == [("data.amount", "required"), ("data.amout", "unknown_field")]


def test_validate_text_with_nul_character_is_refused():
    assert codes_of(event("customer.upserted", name="Acme\x00")) == [
        ("data.name", "invalid_character")
    ]


def test_validate_text_with_unpaired_surrogate_is_refused():
    assert codes_of(event("customer.upserted", name="Acme \ud800")) == [
        ("data.name", "invalid_character")
    ]


def test_validate_blank_identifier_is_refused():
    assert codes_of(event("usage.recorded", usage_id="")) == [("data.usage_id", "blank")]


# --- amounts -------------------------------------------------------------------------------------


def test_validate_fractional_json_number_amount_is_refused_with_message():
    errors = errors_of(event("payment.settled", amount=FractionalNumber("1296.00")))

    assert [(e.field, e.code) for e in errors] == [("data.amount", "number_not_string")]
    assert errors[0].message == (
        'data.amount must be a decimal string such as "1250.00", not a JSON number'
    )


def test_validate_integer_json_number_amount_is_refused():
    assert codes_of(event("payment.settled", amount=1296)) == [("data.amount", "number_not_string")]


def test_validate_number_from_parsed_json_is_refused():
    body = loads(
        '{"specversion":"1.0","id":"e1","source":"s","type":"invoice.written_off",'
        '"time":"2026-05-21T12:00:00Z","entity":"US01",'
        '"data":{"invoice_id":"i1","amount":12.5,"currency":"USD","reason":"r"}}'
    )

    assert codes_of(body) == [("data.amount", "number_not_string")]


def test_validate_boolean_amount_is_invalid_type():
    assert codes_of(event("payment.settled", amount=True)) == [("data.amount", "invalid_type")]


@pytest.mark.parametrize(
    "text",
    ["NaN", "Infinity", "-Infinity", "1e3", "1E+3", "+5.00", "1.", ".5", " 1.00", "1,00", ""],
)
def test_validate_malformed_decimal_string_is_invalid_decimal(text):
    assert codes_of(event("payment.settled", amount=text)) == [("data.amount", "invalid_decimal")]


def test_validate_amount_with_too_many_integer_digits_is_too_large():
    assert codes_of(event("payment.settled", amount="1" * 17)) == [("data.amount", "too_large")]
    assert codes_of(event("payment.settled", amount="1" * 19 + ".00")) == [
        ("data.amount", "too_large")
    ]


def test_validate_amount_with_sixteen_integer_digits_passes():
    amount = validate_event(event("payment.settled", amount="9" * 16 + ".99")).data["amount"]

    assert amount == Decimal("9" * 16 + ".99")


@pytest.mark.parametrize(
    ("currency", "amount", "passes"),
    [
        ("USD", "10.01", True),
        ("USD", "10.5", True),
        ("USD", "10.500", True),
        ("USD", "10.005", False),
        ("JPY", "1000", True),
        ("JPY", "1000.5", False),
        ("KWD", "1.005", True),
        ("KWD", "1.0005", False),
    ],
)
def test_validate_amount_precision_follows_currency_minor_unit(currency, amount, passes):
    body = event("refund.issued", amount=amount, currency=currency)

    if passes:
        assert validate_event(body).data["amount"] == Decimal(amount)
    else:
        errors = errors_of(body)
        assert [(e.field, e.code) for e in errors] == [("data.amount", "too_precise")]
        assert "minor unit" in errors[0].message


def test_validate_unit_price_and_quantity_may_carry_eight_decimals():
    data = validate_event(
        event("usage.recorded", quantity="0.12345678", unit_price="0.00000001")
    ).data

    assert data["quantity"] == Decimal("0.12345678")
    assert data["unit_price"] == Decimal("0.00000001")


def test_validate_unit_price_with_nine_decimals_is_too_precise():
    assert codes_of(event("usage.recorded", unit_price="0.000000001")) == [
        ("data.unit_price", "too_precise")
    ]


@pytest.mark.parametrize(
    ("event_type", "field", "value", "code"),
    [
        ("payment.settled", "amount", "0.00", "must_be_positive"),
        ("payment.settled", "amount", "-1.00", "must_be_positive"),
        ("refund.issued", "amount", "0", "must_be_positive"),
        ("invoice.written_off", "amount", "-5.00", "must_be_positive"),
        ("subscription.created", "quantity", "0", "must_be_positive"),
        ("subscription.amended", "quantity", "-1", "must_be_positive"),
        ("subscription.created", "unit_price", "-1", "must_not_be_negative"),
        ("usage.recorded", "quantity", "-0.5", "must_not_be_negative"),
        ("usage.recorded", "unit_price", "-0.01", "must_not_be_negative"),
    ],
)
def test_validate_amount_with_wrong_sign_is_refused(event_type, field, value, code):
    assert codes_of(event(event_type, **{field: value})) == [(f"data.{field}", code)]


def test_validate_usage_quantity_zero_passes():
    assert validate_event(event("usage.recorded", quantity="0")).data["quantity"] == 0


def test_validate_negative_invoice_total_is_refused():
    body = event("invoice.issued", total="-1.00")

    assert ("data.total", "must_not_be_negative") in codes_of(body)


def test_validate_zero_credit_note_total_is_refused():
    assert ("data.total", "must_be_positive") in codes_of(event("credit_note.issued", total="0"))


# --- currencies, countries, enums, dates ----------------------------------------------------------


@pytest.mark.parametrize("currency", ["usd", "ZZZ", "XXX", "US", "DOLLAR"])
def test_validate_unknown_currency_is_refused(currency):
    assert codes_of(event("customer.upserted", currency=currency)) == [
        ("data.currency", "unknown_currency")
    ]


def test_validate_numeric_currency_is_invalid_type():
    assert codes_of(event("customer.upserted", currency=840)) == [("data.currency", "invalid_type")]


@pytest.mark.parametrize("country", ["us", "USA", "U", "1A"])
def test_validate_bad_country_is_refused(country):
    assert codes_of(event("customer.upserted", country=country)) == [
        ("data.country", "invalid_country")
    ]


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [("partner.upserted", "kind", "vendor"), ("subscription.created", "interval", "week")],
)
def test_validate_value_outside_enum_is_invalid_choice(event_type, field, value):
    errors = errors_of(event(event_type, **{field: value}))

    assert [(e.field, e.code) for e in errors] == [(f"data.{field}", "invalid_choice")]
    assert "must be one of" in errors[0].message


@pytest.mark.parametrize("kind", ["referral", "reseller", "distributor"])
def test_validate_each_partner_kind_passes(kind):
    assert validate_event(event("partner.upserted", kind=kind)).data["kind"] == kind


def test_validate_partner_role_longer_than_32_is_too_long():
    assert codes_of(event("subscription.created", partner_role="r" * 33)) == [
        ("data.partner_role", "too_long")
    ]


@pytest.mark.parametrize("text", ["2026-02-30", "2026/05/14", "20260514", "14-05-2026", "2026-5-1"])
def test_validate_bad_date_is_invalid_date(text):
    assert codes_of(event("subscription.renewed", term_end=text)) == [
        ("data.term_end", "invalid_date")
    ]


@pytest.mark.parametrize("text", ["2026-05-20T09:30:00", "2026-05-20", "2026-05-20T09:30Z"])
def test_validate_bad_datetime_is_invalid_datetime(text):
    assert codes_of(event("payment.settled", received_at=text)) == [
        ("data.received_at", "invalid_datetime")
    ]


def test_validate_usage_period_end_before_start_is_refused():
    body = event("usage.recorded", period_start="2026-05-31", period_end="2026-05-01")

    assert codes_of(body) == [("data.period_end", "end_before_start")]


def test_validate_usage_period_of_one_day_passes():
    body = event("usage.recorded", period_start="2026-05-01", period_end="2026-05-01")

    assert validate_event(body).data["period_end"] == date(2026, 5, 1)


def test_validate_invoice_due_before_issue_is_refused():
    body = event("invoice.issued", due_date="2026-05-13")

    assert codes_of(body) == [("data.due_date", "due_before_issue")]


# --- lines and totals ----------------------------------------------------------------------------


def test_validate_empty_lines_is_refused():
    assert codes_of(event("credit_note.issued", lines=[])) == [("data.lines", "empty")]


def test_validate_lines_not_a_list_is_invalid_type():
    assert codes_of(event("credit_note.issued", lines={"0": LINE})) == [
        ("data.lines", "invalid_type")
    ]


def test_validate_more_than_1000_lines_is_too_many():
    lines = [{**LINE, "line_id": f"L{i}"} for i in range(1001)]

    assert codes_of(event("credit_note.issued", lines=lines)) == [("data.lines", "too_many")]


def test_validate_line_that_is_not_an_object_is_invalid_type():
    body = event("credit_note.issued", lines=[LINE, "L2"])

    assert codes_of(body) == [("data.lines[1]", "invalid_type")]


def test_validate_line_missing_field_names_the_line():
    line = {k: v for k, v in LINE.items() if k != "description"}
    body = event("credit_note.issued", lines=[LINE, {**line, "line_id": "L2"}], total="2700.00")

    assert codes_of(body) == [("data.lines[1].description", "required")]


def test_validate_unknown_field_in_line_is_refused():
    body = invoice_with_line(discount="5")

    assert codes_of(body) == [("data.lines[0].discount", "unknown_field")]


def test_validate_line_amount_not_quantity_times_price_is_mismatch():
    errors = errors_of(invoice_with_line(amount="1249.99"))

    assert [(e.field, e.code) for e in errors] == [("data.lines[0].amount", "line_amount_mismatch")]
    assert "1250.00" in errors[0].message


def test_validate_line_amount_rounds_half_up_to_the_currency():
    # 3 x 0.005 = 0.015 -> 0.02 (ROUND_HALF_UP), never 0.01.
    line = {**LINE, "quantity": "3", "unit_price": "0.005", "amount": "0.02", "tax_amount": "0"}
    body = event("invoice.issued", lines=[line], subtotal="0.02", tax_total="0.00", total="0.02")

    assert validate_event(body).data["lines"][0]["amount"] == Decimal("0.02")
    line["amount"] = "0.01"
    assert codes_of(body) == [("data.lines[0].amount", "line_amount_mismatch")]


def test_validate_line_amount_of_huge_quantity_times_price_is_exact():
    # 16+8 digit operands: the product needs more than the default 28 digits of precision.
    line = {
        **LINE,
        "quantity": "1234567890.12345678",
        "unit_price": "0.00000001",
        "amount": "12.35",
        "tax_amount": "0.00",
    }
    body = event("invoice.issued", lines=[line], subtotal="12.35", tax_total="0.00", total="12.35")
    assert validate_event(body).data["subtotal"] == Decimal("12.35")

    line.update(quantity="9" * 16 + ".99999999", unit_price="9" * 16 + ".99999999")
    assert codes_of(body) == [("data.lines[0].amount", "line_amount_mismatch")]


def test_validate_line_amount_too_precise_for_currency_is_refused():
    line = {**LINE, "quantity": "1", "unit_price": "1250.4", "amount": "1250.4"}
    line["tax_amount"] = "100.5"
    body = event("invoice.issued", currency="JPY", lines=[line], subtotal="1250", tax_total="100")
    body["data"]["total"] = "1350"

    assert codes_of(body) == [
        ("data.lines[0].amount", "too_precise"),
        ("data.lines[0].tax_amount", "too_precise"),
    ]


def test_validate_trailing_zeros_below_the_minor_unit_are_cleaned_away():
    body = event("invoice.issued", currency="JPY", lines=[LINE], subtotal="1250", tax_total="100")
    body["data"]["total"] = "1350.000"

    data = validate_event(body).data

    assert str(data["lines"][0]["amount"]) == "1250"
    assert str(data["total"]) == "1350"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("subtotal", "1200.01", "subtotal_mismatch"),
        ("tax_total", "95.99", "tax_total_mismatch"),
        ("total", "1296.01", "total_mismatch"),
    ],
)
def test_validate_invoice_figure_not_matching_lines_is_one_mismatch(field, value, code):
    errors = errors_of(event("invoice.issued", **{field: value}))

    assert [(e.field, e.code) for e in errors] == [(f"data.{field}", code)]


def test_validate_invoice_total_is_checked_against_lines_not_declared_figures():
    # subtotal and tax_total are both wrong but add up to the declared total: still two errors.
    body = event("invoice.issued", subtotal="1201.00", tax_total="95.00")

    assert codes_of(body) == [
        ("data.subtotal", "subtotal_mismatch"),
        ("data.tax_total", "tax_total_mismatch"),
    ]


def test_validate_credit_note_total_not_matching_lines_is_mismatch():
    assert codes_of(event("credit_note.issued", total="1250.00")) == [
        ("data.total", "total_mismatch")
    ]


def test_validate_duplicate_line_id_is_refused_on_the_later_line():
    lines = [LINE, {**LINE, "description": "again"}]
    body = event("credit_note.issued", lines=lines, total="2700.00")

    assert codes_of(body) == [("data.lines[1].line_id", "duplicate_line_id")]


def test_validate_totals_are_not_checked_while_a_line_is_invalid():
    body = invoice_with_line(quantity=FractionalNumber("3"))
    body["data"]["subtotal"] = "1.00"

    assert codes_of(body) == [("data.lines[0].quantity", "number_not_string")]


# --- collecting errors and batch paths ------------------------------------------------------------


def test_validate_collects_every_error_in_field_order():
    body = event("invoice.issued", due_date="2026-05-01", currency="usd", subtotal=1200)
    body["data"]["lines"][0]["amount"] = FractionalNumber("1250.00")
    body["data"]["lines"][1]["line_id"] = "L1"
    body["entity"] = "us01"
    del body["source"]

    assert codes_of(body) == [
        ("source", "required"),
        ("entity", "invalid_entity"),
        ("data.currency", "unknown_currency"),
        ("data.lines[0].amount", "number_not_string"),
        ("data.lines[1].line_id", "duplicate_line_id"),
        ("data.subtotal", "number_not_string"),
        ("data.due_date", "due_before_issue"),
    ]


def test_validate_batch_path_prefixes_every_field():
    body = event("invoice.issued", total="1.00")
    body["data"]["lines"][0]["amount"] = "x"
    body["id"] = ""

    errors = errors_of(body, path="events[3]")

    assert [(e.field, e.code) for e in errors] == [
        ("events[3].id", "blank"),
        ("events[3].data.lines[0].amount", "invalid_decimal"),
    ]
    assert errors[1].message.startswith("events[3].data.lines[0].amount must be")


def test_validate_batch_path_prefixes_required_fields():
    assert codes_of(event("usage.recorded", meter=None), path="events[0]") == [
        ("events[0].data.meter", "required")
    ]


def test_event_schema_error_message_lists_every_error():
    body = {**event(), "entity": "x", "time": "now"}

    with pytest.raises(EventSchemaError) as caught:
        validate_event(body)

    assert "time:" in str(caught.value) and "entity:" in str(caught.value)


def test_validate_does_not_mutate_the_body():
    body = event("invoice.issued")
    before = copy.deepcopy(body)

    validate_event(body)

    assert body == before


# --- digest --------------------------------------------------------------------------------------


def test_canonical_digest_ignores_key_order_and_whitespace():
    first = loads('{"b": 1, "a": {"y": "2", "x": [1, 2]}, "c": 12.50}')
    second = loads('{\n  "c" : 12.50, "a": {"x": [1,2], "y":"2"},\t"b":1}')

    assert canonical_digest(first) == canonical_digest(second)


def test_canonical_digest_of_known_body_is_sha256_of_canonical_text():
    body = loads('{"b": "é", "a": 12.50, "c": [true, null]}')
    expected = hashlib.sha256('{"a":"12.50","b":"é","c":[true,null]}'.encode()).hexdigest()

    assert canonical_digest(body) == expected


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.decimals(allow_nan=False, allow_infinity=False).map(FractionalNumber)
    | st.text(),  # any code point: controls, quotes, backslashes, U+2028, lone surrogates
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(body=st.dictionaries(st.text(max_size=8), _json_values, max_size=5))
def test_canonical_digest_is_sha256_of_the_sorted_compact_json_text(body):
    """The fast serialiser writes exactly the reference text: stored digests stay valid."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    expected = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    assert canonical_digest(body) == expected


def test_canonical_digest_differs_when_a_value_differs():
    body = event("invoice.issued")
    changed = copy.deepcopy(body)
    changed["data"]["total"] = "1296.01"

    assert canonical_digest(body) != canonical_digest(changed)


def test_canonical_digest_differs_between_list_orders():
    assert canonical_digest({"a": [1, 2]}) != canonical_digest({"a": [2, 1]})


def test_canonical_digest_accepts_unpaired_surrogates():
    digest = canonical_digest(loads('{"name": "\\ud800"}'))

    assert len(digest) == 64


# --- purity --------------------------------------------------------------------------------------


def test_schema_module_imports_without_django_settings_or_models():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys, billing.schema; "
        "assert 'django.db.models' not in sys.modules, 'imports django models'"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)}

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("event_type", "field", "limit"),
    [
        ("customer.upserted", "name", 300),
        ("customer.upserted", "region", 64),
        ("partner.upserted", "partner_id", 200),
        ("subscription.created", "plan_code", 100),
        ("subscription.cancelled", "reason", 300),
        ("usage.recorded", "meter", 100),
        ("payment.settled", "method", 64),
        ("invoice.written_off", "reason", 300),
    ],
)
def test_validate_text_longer_than_its_column_is_too_long(event_type, field, limit):
    assert validate_event(event(event_type, **{field: "x" * limit})).data[field] == "x" * limit
    assert codes_of(event(event_type, **{field: "x" * (limit + 1)})) == [
        (f"data.{field}", "too_long")
    ]


def test_validate_line_description_longer_than_500_is_too_long():
    assert codes_of(invoice_with_line(description="d" * 501)) == [
        ("data.lines[0].description", "too_long")
    ]
