"""JSON parsing that never produces a float.

A JSON number with a fraction or exponent is parsed to `FractionalNumber` (a Decimal
subclass) so that validators can refuse it where a decimal string is required, and
money never passes through binary floating point.
"""

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class FractionalNumber(Decimal):
    """A number written in JSON with a fraction or exponent (e.g. 12.5, 1e3)."""


def loads(text: str | bytes):
    return json.loads(text, parse_float=FractionalNumber, parse_constant=_refuse_constant)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read()
            if parser_context.get("request") is not None:
                parser_context["request"].raw_body = raw
            return loads(raw.decode(encoding))
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"request body is not valid JSON: {error}") from error
