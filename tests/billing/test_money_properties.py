"""Properties of config.money (quantize) and of invoice totals as billing.schema checks
them: generated invoices whose totals are computed from their lines validate, and moving any
figure by one minor unit is refused with the code that names it."""

import copy
from decimal import Context, Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing.schema import EventSchemaError, validate_event
from config import money

CURRENCIES = ["JPY", "USD", "EUR", "KWD", "BHD", "CLF"]  # minor units 0, 2, 2, 3, 3, 4
EXACT = Context(prec=100)


def unit_of(currency: str) -> Decimal:
    return Decimal(1).scaleb(-money.minor_units(currency))


def decimals(max_integer_digits: int, places: int, min_value=None) -> st.SearchStrategy:
    bound = Decimal(10) ** max_integer_digits - Decimal(1).scaleb(-places)
    return st.decimals(
        min_value=-bound if min_value is None else min_value,
        max_value=bound,
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )


@st.composite
def quantised_amounts(
    draw, currency: str, max_integer_digits: int = 12, min_units: int | None = None
):
    minor = money.minor_units(currency)
    limit = 10 ** (max_integer_digits + minor) - 1
    units = draw(st.integers(min_value=-limit if min_units is None else min_units, max_value=limit))
    return Decimal(units).scaleb(-minor)


# --- quantize -------------------------------------------------------------------------------------


@given(currency=st.sampled_from(CURRENCIES), amount=decimals(14, 8))
def test_quantize_has_exactly_the_minor_units_and_is_within_half_a_unit(currency, amount):
    result = money.quantize(amount, currency)

    assert result.as_tuple().exponent == -money.minor_units(currency)
    assert abs(result - amount) <= unit_of(currency) / 2
    assert money.is_quantized(result, currency)


@given(currency=st.sampled_from(CURRENCIES), amount=decimals(14, 8))
def test_quantize_is_idempotent(currency, amount):
    once = money.quantize(amount, currency)

    assert money.quantize(once, currency) == once


@given(currency=st.sampled_from(CURRENCIES), amount=decimals(14, 8))
def test_quantize_rounds_half_away_from_zero_symmetrically(currency, amount):
    assert money.quantize(-amount, currency) == -money.quantize(amount, currency)


# --- invoice totals -------------------------------------------------------------------------------


def fixed(value: Decimal) -> str:
    return format(value, "f")


@st.composite
def invoices(draw, event_type: str = "invoice.issued"):
    """A valid invoice.issued or credit_note.issued whose figures are computed from its lines."""
    currency = draw(st.sampled_from(CURRENCIES))
    count = draw(st.integers(1, 12))
    raw = [
        (
            draw(decimals(6, draw(st.integers(0, 4)), min_value=Decimal(0))),
            draw(decimals(7, draw(st.integers(0, 8)), min_value=Decimal(0))),
            Decimal(draw(st.sampled_from(["0", "0.07", "0.19", "0.2"]))),
            index > 0 and draw(st.booleans()),  # a discount line
        )
        for index in range(count)
    ]

    def lines_of(allow_discounts: bool) -> list[dict]:
        lines = []
        for index, (quantity, price, rate, discount) in enumerate(raw):
            unit_price = -price if discount and allow_discounts else price
            amount = money.quantize(quantity * unit_price, currency)
            lines.append(
                {
                    "line_id": f"L{index}",
                    "description": f"line {index}",
                    "product_family": "saas",
                    "quantity": fixed(quantity),
                    "unit_price": fixed(unit_price),
                    "amount": fixed(amount),
                    "tax_amount": fixed(money.quantize(amount * rate, currency)),
                }
            )
        return lines

    lines = lines_of(allow_discounts=True)
    subtotal = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
    tax_total = sum((Decimal(line["tax_amount"]) for line in lines), Decimal(0))
    if min(subtotal, tax_total) < 0:
        # Invoice figures are never negative (a net credit is a credit note).
        lines = lines_of(allow_discounts=False)
        subtotal = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        tax_total = sum((Decimal(line["tax_amount"]) for line in lines), Decimal(0))
    total = subtotal + tax_total
    if event_type == "invoice.issued":
        data = {
            "invoice_id": "inv_1",
            "customer_id": "cus_1",
            "issue_date": "2026-05-14",
            "due_date": "2026-06-13",
            "currency": currency,
            "lines": lines,
            "subtotal": fixed(subtotal),
            "tax_total": fixed(tax_total),
            "total": fixed(total),
        }
    else:
        assume(total > 0)  # a credit note credits something
        data = {
            "credit_note_id": "cn_1",
            "invoice_id": "inv_1",
            "issue_date": "2026-05-14",
            "currency": currency,
            "lines": lines,
            "total": fixed(total),
            "reason": "returned",
        }
    return {
        "specversion": "1.0",
        "id": "evt_1",
        "source": "billing-platform",
        "type": event_type,
        "time": "2026-05-14T10:00:00Z",
        "entity": "US01",
        "data": data,
    }


def error_codes(body: dict) -> list[tuple[str, str]]:
    try:
        validate_event(body)
    except EventSchemaError as error:
        return [(e.field, e.code) for e in error.errors]
    return []


def moved_by_one_unit(text: str, currency: str, direction: int) -> str:
    value = Decimal(text) + direction * unit_of(currency)
    if value < 0:  # stay on the valid side of the sign rule: only the mismatch may fail
        value = Decimal(text) + unit_of(currency)
    return fixed(value)


@settings(max_examples=150)
@given(body=invoices())
def test_invoice_with_totals_computed_from_lines_validates(body):
    data = validate_event(body).data

    assert data["total"] == data["subtotal"] + data["tax_total"]
    assert data["subtotal"] == sum(line["amount"] for line in data["lines"])


@settings(max_examples=150)
@given(
    body=invoices(),
    figure=st.sampled_from(
        [
            ("subtotal", "subtotal_mismatch"),
            ("tax_total", "tax_total_mismatch"),
            ("total", "total_mismatch"),
        ]
    ),
    direction=st.sampled_from([1, -1]),
)
def test_invoice_figure_off_by_one_minor_unit_fails_with_its_code(body, figure, direction):
    name, code = figure
    data = body["data"]
    data[name] = moved_by_one_unit(data[name], data["currency"], direction)

    assert error_codes(body) == [(f"data.{name}", code)]


@settings(max_examples=100)
@given(body=invoices(), data=st.data(), direction=st.sampled_from([1, -1]))
def test_invoice_line_amount_off_by_one_minor_unit_is_line_amount_mismatch(body, data, direction):
    lines = body["data"]["lines"]
    index = data.draw(st.integers(0, len(lines) - 1))
    line = lines[index]
    line["amount"] = fixed(Decimal(line["amount"]) + direction * unit_of(body["data"]["currency"]))

    assert error_codes(body) == [(f"data.lines[{index}].amount", "line_amount_mismatch")]


@settings(max_examples=100)
@given(body=invoices("credit_note.issued"), direction=st.sampled_from([1, -1]))
def test_credit_note_total_off_by_one_minor_unit_is_total_mismatch(body, direction):
    assert error_codes(body) == []
    # One unit less than a one-unit credit is zero, which is refused as not positive.
    assume(direction > 0 or Decimal(body["data"]["total"]) > unit_of(body["data"]["currency"]))
    moved = copy.deepcopy(body)
    moved["data"]["total"] = moved_by_one_unit(
        body["data"]["total"], body["data"]["currency"], direction
    )

    assert error_codes(moved) == [("data.total", "total_mismatch")]
