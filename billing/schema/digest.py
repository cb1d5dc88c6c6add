"""`canonical_digest(body)`: the sha256 of the body serialised canonically, used to tell a
duplicate (source, id) from a conflicting one."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import orjson


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_digest(body: dict) -> str:
    """sha256 hex of `body` serialised canonically: equal JSON objects give equal digests.

    Keys are sorted, separators fixed, text kept as UTF-8 (unpaired surrogates passed through),
    and a Decimal (a `FractionalNumber` from the parser) is written as its text, so it keeps the
    form it was sent in ("12.50"). It is rendered as a JSON string, so the number 12.5 and the
    string "12.5" digest alike: in a valid event that can only happen in an ignored extension
    attribute, because every amount is a string.
    """
    try:
        # orjson writes the same text as the json.dumps below, a few times faster.
        data = orjson.dumps(body, default=_json_default, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson refuses an unpaired surrogate, an integer past 64 bits
        text = json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()
