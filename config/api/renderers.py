"""JSON rendering with Decimals as strings (never floats)."""

from decimal import Decimal

from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class DecimalEncoder(JSONEncoder):
    def default(self, obj):
        if isinstance(obj, Decimal):
            return format(obj, "f")
        return super().default(obj)


class DecimalJSONRenderer(JSONRenderer):
    encoder_class = DecimalEncoder
