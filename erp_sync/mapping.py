"""Mapping-rule resolution: which active rule maps a document (or line) on a date.

Among the active rules valid on `on_date` whose every non-blank match field equals the
context, the one with the most non-blank match fields (highest specificity) wins. Saving
refuses ties (erp_sync.services.rules), so the winner is unique; should two ever tie anyway
(a race between two saves), the newest version, then the newest row, wins — deterministically.

What the account fields hold per document type:
- invoice, credit_note: revenue_account = revenue, receivable_account = receivable,
  tax_account = the tax payable account of tax_code;
- payment, refund: revenue_account = the bank / cash account, receivable_account = receivable;
- write_off: revenue_account = the bad-debt expense account, receivable_account = receivable;
- settlement: revenue_account = the commission expense account, receivable_account = the
  partner payable account.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q

from erp_sync.models import MappingRule


def matching_rules(
    *,
    entity: str,
    document_type: str,
    product_family: str = "",
    country: str = "",
    region: str = "",
    currency: str = "",
    partner_kind: str = "",
    on_date: dt.date,
):
    """Every active rule that matches the context on `on_date`, best first."""
    context = {
        "entity": entity,
        "document_type": document_type,
        "product_family": product_family,
        "country": country,
        "region": region,
        "currency": currency,
        "partner_kind": partner_kind,
    }
    query = Q(is_active=True, valid_from__lte=on_date) & (
        Q(valid_to__isnull=True) | Q(valid_to__gte=on_date)
    )
    for name, value in context.items():
        # A blank rule field is a wildcard; a blank context value only matches blank fields.
        query &= (Q(**{name: ""}) | Q(**{name: value})) if value else Q(**{name: ""})
    return MappingRule.objects.filter(query).order_by("-specificity", "-version", "-id")


def resolve_rule(
    *, on_date: dt.date, draft: MappingRule | None = None, **context: str
) -> MappingRule | None:
    """The most specific active rule for the context on `on_date` (the keywords of
    `matching_rules`), or None. Read-only.

    `draft` is an unsaved rule taken as if it were saved (the preview of a rule being
    written): it wins when it matches and is at least as specific as the stored winner (a
    tie would be refused at save, so the preview shows the draft's mapping).
    """
    found = matching_rules(on_date=on_date, **context).first()
    draft_wins = draft is not None and (found is None or draft.specificity >= found.specificity)
    if draft_wins and rule_matches(draft, on_date=on_date, **context):
        return draft
    return found


def rule_matches(rule: MappingRule, *, on_date: dt.date, **context: str) -> bool:
    """Whether `rule` (saved or not) maps the context on `on_date`: the same test as
    `matching_rules`, in Python."""
    if not rule.is_active or rule.valid_from is None or rule.valid_from > on_date:
        return False
    if rule.valid_to is not None and rule.valid_to < on_date:
        return False
    for name in MappingRule.MATCH_FIELDS:
        wanted = getattr(rule, name) or ""
        if wanted and wanted != (context.get(name) or ""):
            return False
    return True
