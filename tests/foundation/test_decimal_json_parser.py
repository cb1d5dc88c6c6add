import io
from decimal import Decimal

import pytest
from rest_framework.exceptions import ParseError

from config.api.parsers import DecimalJSONParser, FractionalNumber


def parse(text: str):
    return DecimalJSONParser().parse(io.BytesIO(text.encode()), "application/json", {})


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_parse_with_non_finite_constant_is_refused(constant):
    with pytest.raises(ParseError, match="not valid JSON"):
        parse(f'{{"amount": {constant}}}')


def test_parse_keeps_fractions_as_fractional_number_not_float():
    body = parse('{"amount": 1250.10, "rate": 1e3, "count": 3, "text": "1250.10"}')

    assert type(body["amount"]) is FractionalNumber
    assert body["amount"] == Decimal("1250.10")
    assert str(body["amount"]) == "1250.10"
    assert type(body["rate"]) is FractionalNumber
    assert type(body["count"]) is int
    assert body["text"] == "1250.10"


def test_parse_of_invalid_json_raises_parse_error():
    with pytest.raises(ParseError):
        parse('{"amount": ')


def test_parse_stores_raw_body_on_the_request():
    class Request:
        pass

    request = Request()
    DecimalJSONParser().parse(io.BytesIO(b'{"a": 1}'), "application/json", {"request": request})

    assert request.raw_body == b'{"a": 1}'
