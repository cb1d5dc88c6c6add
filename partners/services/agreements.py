"""Agreements and their rules: create, and edit by creating a new version.

Rules come in as plain dicts (console form, API body, tests)::

    {"code": "platform-20", "kind": "percent_of_net", "rate_percent": "20",
     "product_families": ["platform"], "countries": [],
     "tiers": [{"lower_amount": "0", "upper_amount": "10000", "rate_percent": "10"}, ...],
     "unit_amount": None, "threshold_amount": None, "cap_amount": None, "floor_amount": None}

Every refusal is an `AgreementInvalid` whose `field` is the path of the bad input
("rules[1].tiers[0].rate_percent") and whose message says what is wrong and where.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Q

from config.history import stamp
from config.money import is_currency
from partners.choices import AgreementState, CommissionBasis, RuleKind, SettlementPeriod, TierMode
from partners.errors import AgreementInvalid
from partners.models import Agreement, CommissionRule, CommissionTier, Partner

HUNDRED = Decimal(100)
_RULE_FIELDS = ("rate_percent", "unit_amount", "threshold_amount", "cap_amount", "floor_amount")
# Which amount fields each kind needs.
_REQUIRED = {
    RuleKind.PERCENT_OF_NET: ("rate_percent",),
    RuleKind.TIERED: (),
    RuleKind.PER_UNIT: ("unit_amount",),
    RuleKind.REBATE: ("rate_percent", "threshold_amount"),
    RuleKind.CAP: ("cap_amount",),
}


def _bad(field: str, message: str, code: str = "invalid") -> AgreementInvalid:
    return AgreementInvalid(f"{field}: {message}", code=code, field=field)


def _decimal(value, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        raise _bad(field, "must be a decimal string, not a float", "invalid_decimal")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise _bad(field, f"{value!r} is not a decimal number", "invalid_decimal") from None
    if not result.is_finite():
        raise _bad(field, f"{value!r} is not a decimal number", "invalid_decimal")
    return result


def _rate(value, field: str) -> Decimal | None:
    rate = _decimal(value, field)
    if rate is not None and not (0 <= rate <= HUNDRED):
        raise _bad(field, f"rate {rate}% must be between 0 and 100", "rate_out_of_range")
    return rate


def _non_negative(value, field: str) -> Decimal | None:
    amount = _decimal(value, field)
    if amount is not None and amount < 0:
        raise _bad(field, f"{amount} must not be negative", "negative_amount")
    return amount


def _strings(value, field: str) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _bad(field, "must be a list of non-empty codes", "invalid_list")
    return sorted(set(value))


def _tiers(raw, field: str) -> list[dict]:
    """Bands sorted as given; each must start where the previous one ended (no gap, no
    overlap), only the last may be open-ended."""
    if not isinstance(raw, list | tuple) or not raw:
        raise _bad(field, "a tiered rule needs at least one tier", "tiers_required")
    tiers = []
    for index, tier in enumerate(raw):
        where = f"{field}[{index}]"
        lower = _non_negative(tier.get("lower_amount"), f"{where}.lower_amount")
        upper = _non_negative(tier.get("upper_amount"), f"{where}.upper_amount")
        rate = _rate(tier.get("rate_percent"), f"{where}.rate_percent")
        if lower is None:
            raise _bad(f"{where}.lower_amount", "is required", "required")
        if rate is None:
            raise _bad(f"{where}.rate_percent", "is required", "required")
        if upper is not None and upper <= lower:
            raise _bad(
                f"{where}.upper_amount",
                f"upper bound {upper} must be above the lower bound {lower}",
                "tier_order",
            )
        if tiers:
            previous = tiers[-1]
            if previous["upper_amount"] is None or lower < previous["upper_amount"]:
                raise _bad(
                    f"{where}.lower_amount",
                    f"tier starting at {lower} overlaps or precedes tier {index - 1} "
                    f"(up to {previous['upper_amount'] or 'no limit'}); tiers must be in "
                    "ascending order without overlap",
                    "tier_overlap",
                )
            if lower > previous["upper_amount"]:
                raise _bad(
                    f"{where}.lower_amount",
                    f"gap between tier {index - 1} (up to {previous['upper_amount']}) and this "
                    f"tier starting at {lower}",
                    "tier_gap",
                )
        elif lower != 0:
            raise _bad(f"{where}.lower_amount", "the first tier must start at 0", "tier_gap")
        tiers.append({"lower_amount": lower, "upper_amount": upper, "rate_percent": rate})
    return tiers


def _rule(raw: dict, field: str) -> dict:
    if not isinstance(raw, dict):
        raise _bad(field, "must be an object", "invalid_type")
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 64:
        raise _bad(f"{field}.code", "a rule needs a code of 1 to 64 characters", "required")
    kind = raw.get("kind")
    if kind not in RuleKind.values:
        raise _bad(
            f"{field}.kind", f"{kind!r} is not one of {', '.join(RuleKind.values)}", "invalid"
        )
    rule = {"code": code.strip(), "kind": kind}
    rule["rate_percent"] = _rate(raw.get("rate_percent"), f"{field}.rate_percent")
    for name in _RULE_FIELDS[1:]:
        rule[name] = _non_negative(raw.get(name), f"{field}.{name}")
    for name in _REQUIRED[kind]:
        if rule[name] is None:
            raise _bad(f"{field}.{name}", f"a {kind} rule needs {name}", "required")
    if rule["floor_amount"] is not None and kind != RuleKind.CAP:
        raise _bad(f"{field}.floor_amount", "only a cap rule has a floor", "invalid")
    cap, floor = rule["cap_amount"], rule["floor_amount"]
    if cap is not None and floor is not None and cap < floor:
        raise _bad(
            f"{field}.cap_amount", f"cap {cap} is below the floor {floor}", "cap_below_floor"
        )
    rule["product_families"] = _strings(raw.get("product_families"), f"{field}.product_families")
    rule["countries"] = _strings(raw.get("countries"), f"{field}.countries")
    rule["tiers"] = _tiers(raw.get("tiers"), f"{field}.tiers") if kind == RuleKind.TIERED else []
    return rule


def validate_rules(rules) -> list[dict]:
    """Cleaned rules, or AgreementInvalid naming the first bad field."""
    if not isinstance(rules, list | tuple) or not rules:
        raise _bad("rules", "an agreement needs at least one commission rule", "rules_required")
    cleaned = [_rule(raw, f"rules[{index}]") for index, raw in enumerate(rules)]
    seen: set[str] = set()
    for index, rule in enumerate(cleaned):
        if rule["code"] in seen:
            raise _bad(f"rules[{index}].code", f"code {rule['code']!r} is used twice", "duplicate")
        seen.add(rule["code"])
    if sum(1 for rule in cleaned if rule["kind"] == RuleKind.CAP) > 1:
        raise _bad("rules", "an agreement has at most one cap rule", "duplicate_cap")
    return cleaned


def _terms(terms: dict) -> dict:
    start, end = terms.get("effective_from"), terms.get("effective_to")
    if not isinstance(start, dt.date):
        raise _bad("effective_from", "a start date is required", "required")
    if end is not None and end <= start:
        raise _bad("effective_to", f"end {end} must be after the start {start}", "end_before_start")
    if not is_currency(terms.get("currency")):
        raise _bad("currency", f"{terms.get('currency')!r} is not an ISO 4217 code", "invalid")
    for name, choices in (
        ("settlement_period", SettlementPeriod),
        ("basis", CommissionBasis),
        ("tier_mode", TierMode),
    ):
        if terms.get(name) not in choices.values:
            raise _bad(name, f"{terms.get(name)!r} is not one of {', '.join(choices.values)}")
    if not isinstance(terms.get("reference"), str) or not terms["reference"].strip():
        raise _bad("reference", "an agreement needs a reference", "required")
    return terms


def _check_no_overlap(partner: Partner, terms: dict, *, excluding: Agreement | None) -> None:
    """Refuse a second active agreement of `partner` on any day (caller holds its lock)."""
    start, end = terms["effective_from"], terms["effective_to"]
    clash = Agreement.objects.filter(partner=partner, state=AgreementState.ACTIVE).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=start)
    )
    if end is not None:
        clash = clash.filter(effective_from__lt=end)
    if excluding is not None:
        clash = clash.exclude(pk=excluding.pk)
    other = clash.order_by("effective_from").first()
    if other is not None:
        raise _bad(
            "effective_from",
            f"partner {partner.partner_id} already has active agreement {other} from "
            f"{other.effective_from} to {other.effective_to or 'open end'}, overlapping "
            f"{start} to {end or 'open end'}",
            "agreement_overlap",
        )


def _partner_locked(partner_id: str) -> Partner:
    partner = Partner.objects.select_for_update().filter(partner_id=partner_id).first()
    if partner is None:
        raise _bad("partner", f"no partner with id {partner_id!r}", "unknown_partner")
    return partner


def _store(agreement: Agreement, rules: list[dict], *, actor, reason: str) -> Agreement:
    stamp(agreement, actor=actor, reason=reason)
    agreement.save()
    for values in rules:
        tiers = values.pop("tiers")
        rule = CommissionRule(agreement=agreement, **values)
        stamp(rule, actor=actor, reason=reason)
        rule.save()
        for tier_values in tiers:
            tier = CommissionTier(rule=rule, **tier_values)
            stamp(tier, actor=actor, reason=reason)
            tier.save()
    return agreement


def agreement_create(*, partner_id: str, rules: list, actor, **terms) -> Agreement:
    """Create version 1 of an agreement with its rules, in one transaction.

    `terms`: reference, effective_from, effective_to (exclusive, optional), currency,
    settlement_period, basis, tier_mode (default whole_volume), override_on_children.
    Raises AgreementInvalid (unknown partner, overlapping agreement, bad rate/tier/cap...).
    """
    terms.setdefault("tier_mode", TierMode.WHOLE_VOLUME)
    terms.setdefault("effective_to", None)
    terms.setdefault("override_on_children", False)
    terms = _terms(terms)
    cleaned = validate_rules(rules)
    with transaction.atomic():
        partner = _partner_locked(partner_id)
        if Agreement.objects.filter(reference=terms["reference"]).exists():
            raise _bad("reference", f"agreement {terms['reference']!r} exists", "duplicate")
        _check_no_overlap(partner, terms, excluding=None)
        agreement = Agreement(partner=partner, version=1, **terms)
        return _store(agreement, cleaned, actor=actor, reason=f"agreement {terms['reference']} v1")


_TERM_NAMES = (
    "effective_from",
    "effective_to",
    "currency",
    "settlement_period",
    "basis",
    "tier_mode",
    "override_on_children",
)


def agreement_version_create(
    *, agreement: Agreement, actor, rules: list | None = None, **changes
) -> Agreement:
    """Edit an active agreement: version n+1 holds the changes; the version in use is never
    edited. Its terms and rules stay as they are:

    - `effective_from` later than the current version's start: the new terms apply from
      that day; the current version stays active for the days before it (its end is set to
      that day: the only field it changes).
    - otherwise (same start, or none given): the new version replaces it for its whole range
      (it is superseded).

    `rules` None keeps the current rules. Accruals already made keep the old version.
    Raises AgreementInvalid (a superseded or already followed version, a start before the
    current version's, bad terms or rules, overlap).
    """
    unknown = set(changes) - set(_TERM_NAMES)
    if unknown:
        name = sorted(unknown)[0]
        raise _bad(name, "cannot be changed on an agreement", "unknown_field")
    with transaction.atomic():
        _partner_locked(agreement.partner.partner_id)
        current = Agreement.objects.select_for_update().get(pk=agreement.pk)
        if current.state != AgreementState.ACTIVE:
            raise _bad(
                "agreement",
                f"{current} is superseded; edit its newest version",
                "agreement_superseded",
            )
        successor_of = Agreement.objects.filter(supersedes=current).first()
        if successor_of is not None:
            raise _bad(
                "agreement",
                f"{current} is followed by {successor_of} from {successor_of.effective_from}; "
                "edit the newest version",
                "agreement_superseded",
            )
        terms = {name: getattr(current, name) for name in _TERM_NAMES}
        terms.update(changes, reference=current.reference)
        terms = _terms(terms)
        start = terms["effective_from"]
        if start < current.effective_from:
            raise _bad(
                "effective_from",
                f"a new version of {current} cannot start on {start}, before the version it "
                f"follows ({current.effective_from})",
                "before_current_version",
            )
        if rules is None:
            rules = [_rule_as_dict(rule) for rule in current.rules.prefetch_related("tiers")]
        cleaned = validate_rules(rules)
        version = current.version + 1
        later = start > current.effective_from
        if later and current.effective_to is not None and start >= current.effective_to:
            raise _bad(
                "effective_from",
                f"{current} ends on {current.effective_to}; a new version must start before",
                "after_current_version",
            )
        _check_no_overlap(current.partner, terms, excluding=current)
        if later:  # the version in use keeps the days before `start`, terms and rules alike
            current.effective_to = start
            stamp(current, actor=actor, reason=f"ends on {start}: v{version} applies from then")
            current.save(update_fields=["effective_to"])
        else:
            current.supersede()
            stamp(current, actor=actor, reason=f"superseded by v{version}")
            current.save(update_fields=["state"])
        successor = Agreement(partner=current.partner, version=version, supersedes=current, **terms)
        return _store(
            successor, cleaned, actor=actor, reason=f"agreement {current.reference} v{version}"
        )


def _rule_as_dict(rule: CommissionRule) -> dict:
    values = {name: getattr(rule, name) for name in ("code", "kind", *_RULE_FIELDS)}
    values["product_families"] = list(rule.product_families)
    values["countries"] = list(rule.countries)
    values["tiers"] = [
        {
            "lower_amount": t.lower_amount,
            "upper_amount": t.upper_amount,
            "rate_percent": t.rate_percent,
        }
        for t in rule.tiers.all()
    ]
    return values
