"""Cross-field rules: ours, in plain code, run on the cleaned values after the declarations.

- A line's ``amount`` == quantize(quantity x unit_price) (computed exactly, then
  ROUND_HALF_UP to the currency's minor unit).
- ``subtotal`` == sum of line amounts, ``tax_total`` == sum of line tax amounts, ``total`` ==
  both sums added (credit note: sum of amount + tax_amount). Each figure is checked against
  the lines on its own, so one wrong figure gives exactly one error.
- Period end / due date on or after the start / issue date.
- A line id is used once per document (`duplicate_line_id`, on the later line).

A rule runs when the fields it reads are valid, whatever else is wrong (`Rule.needs`); sums
are therefore only checked once every line is valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal

from billing.schema.amounts import UNITS
from billing.schema.errors import FieldError
from config import money

# Exact products and sums of up to 16+8 digit operands: no rounding before the final quantize.
_EXACT = Context(prec=80)

Check = Callable[[dict, str, list, "int | None"], None]


@dataclass(frozen=True)
class Rule:
    """`check(cleaned, prefix, errors, minor)` appends errors; runs when `needs` are valid."""

    needs: tuple[str, ...]
    check: Check


def _line_amount(line: dict, prefix: str, errors: list, minor: int | None) -> None:
    if minor is None:
        return
    exact = _EXACT.multiply(line["quantity"], line["unit_price"])
    expected = exact.quantize(UNITS[minor], rounding=money.ROUNDING, context=_EXACT)
    if line["amount"] != expected:
        errors.append(
            FieldError(
                prefix + "amount",
                "line_amount_mismatch",
                f"{prefix}amount {line['amount']} does not equal quantity x unit_price "
                f"rounded to the currency ({expected})",
            )
        )


LINE_AMOUNT = Rule(("quantity", "unit_price", "amount"), _line_amount)


def sum_amounts(lines: list[dict]) -> Decimal:
    return sum((line["amount"] for line in lines), Decimal(0))


def sum_taxes(lines: list[dict]) -> Decimal:
    return sum((line["tax_amount"] for line in lines), Decimal(0))


def sum_gross(lines: list[dict]) -> Decimal:
    return sum((line["amount"] + line["tax_amount"] for line in lines), Decimal(0))


def equals_lines(name: str, code: str, compute: Callable[[list[dict]], Decimal], how: str):
    """data[name] equals compute(lines) exactly (every line amount is quantised)."""

    def check(data: dict, prefix: str, errors: list, minor) -> None:
        computed = compute(data["lines"])
        if data[name] != computed:
            errors.append(
                FieldError(
                    prefix + name,
                    code,
                    f"{prefix}{name} {data[name]} does not equal {how} ({computed})",
                )
            )

    return Rule(("lines", name), check)


def ordered(first: str, second: str, code: str) -> Rule:
    """data[second] is on or after data[first]."""

    def check(data: dict, prefix: str, errors: list, minor) -> None:
        if data[second] < data[first]:
            errors.append(
                FieldError(
                    prefix + second,
                    code,
                    f"{prefix}{second} {data[second]} is before {first} {data[first]}; "
                    "it must be on or after it",
                )
            )

    return Rule((first, second), check)


def duplicate_line_id(line_id: str, prefix: str) -> FieldError:
    """The error for a line whose line_id an earlier line of the same document has."""
    return FieldError(
        prefix + ".line_id",
        "duplicate_line_id",
        f"{prefix}.line_id {line_id[:40]!r} is used by an earlier line",
    )


def run(rules: tuple[Rule, ...], cleaned: dict, prefix: str, errors: list, minor) -> None:
    """Run every rule over valid cleaned values (the fast path: every field is valid)."""
    for rule in rules:
        rule.check(cleaned, prefix, errors, minor)
