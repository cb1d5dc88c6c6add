"""The guided fix of a missing mapping rule (case kind `mapping_missing`).

The case is grouped by cause on an ERP connection: its cause key names the entity, document
type, product family (and the account, when a rule matched but lacks it); the blocked sync
jobs are its items. The guide says what is missing in finance words, how many documents and
how much money wait, what happens if nobody acts; it offers the rule form prefilled from the
failing match (with `?case=<pk>` kept through the flow), and once a rule maps the blocked
documents, the replay of exactly those jobs as one bulk action whose progress it shows.
Reads only: the buttons post to erp_sync's own views.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re

from django.urls import reverse

from erp_sync.builders import build_document
from erp_sync.choices import BulkActionState, DocumentType
from erp_sync.errors import ErpSyncError
from erp_sync.selectors import (
    case_bulk_action,
    case_first_blocked_job,
)
from exceptions.models import Case
from exceptions.remediation import CaseGuide
from exceptions.selectors import case_item_periods, case_item_totals

TEMPLATE = "erp_sync/guides/mapping_missing.html"
KIND = "mapping_missing"
ADD_PERMISSION = "erp_sync.add_mappingrule"
CHANGE_PERMISSION = "erp_sync.change_mappingrule"
REPLAY_PERMISSION = "erp_sync.replay_syncjob"
# What a document type is called in a sentence: (one, many).
DOCUMENT_WORDS = {
    DocumentType.INVOICE: ("invoice", "invoices"),
    DocumentType.CREDIT_NOTE: ("credit note", "credit notes"),
    DocumentType.PAYMENT: ("payment", "payments"),
    DocumentType.REFUND: ("refund", "refunds"),
    DocumentType.WRITE_OFF: ("write-off", "write-offs"),
    DocumentType.SETTLEMENT: ("partner settlement", "partner settlements"),
}
_RULE_ID = re.compile(r"\(id (\d+)\)")
# The fields of a match the rule form is prefilled with. The customer's country, region,
# currency and partner kind are left blank (any): a rule for the entity's document type and
# product family is what was missing, not one per customer.
PREFILLED = ("entity", "document_type", "product_family")


def missing_match(case: Case) -> dict:
    """What had no rule: the failing match of the case's last blocked job, its entity,
    document type, product family and account taken from the cause key (which groups the
    case, so is the same for every blocked job)."""
    match = dict((case.detail or {}).get("match") or {})
    parts = case.cause_key.split(":")
    if len(parts) == 5:
        _, entity, document_type, family, account = parts
        match.update(entity=entity, document_type=document_type, product_family=family)
        match["account"] = account
    return match


def document_words(document_type: str, count: int = 2) -> str:
    one, many = DOCUMENT_WORDS.get(document_type, (document_type.replace("_", " "),) * 2)
    return one if count == 1 else many


def missing_what(match: dict) -> str:
    """'No invoice rule for DE01 / support', or the account a matching rule lacks."""
    document = document_words(match.get("document_type", ""), 1)
    scope = f"{match.get('entity', '')} / {match.get('product_family') or 'any product'}"
    account = (match.get("account") or "").replace("_", " ")
    if account and match.get("rule"):
        return f"Rule {match['rule']} gives no {account} for {document}s of {scope}"
    if account:
        return f"No {document} rule gives a {account} for {scope}"
    return f"No {document} rule for {scope}"


def rule_to_revise(match: dict) -> int | None:
    """The id of the rule that matched but lacks an account, if that is what is missing."""
    found = _RULE_ID.search(match.get("rule") or "") if match.get("account") else None
    return int(found.group(1)) if found else None


def rule_initial(case: Case) -> dict:
    """The rule form's initial values for the case: the failing match's entity, document type
    and product family, valid from the first day of the oldest blocked month."""
    match = missing_match(case)
    initial = {name: match.get(name) or "" for name in PREFILLED}
    family = initial["product_family"]
    document = document_words(initial["document_type"], 1)
    initial["name"] = f"{initial['entity']} {document}s" + (f" — {family}" if family else "")
    periods = case_item_periods(case)
    on_date = match.get("on_date") or ""
    first = f"{periods[0]}-01" if periods else on_date[:10]
    with contextlib.suppress(ValueError):
        initial["valid_from"] = dt.date.fromisoformat(first)
    return initial


def month_words(periods: list[str]) -> list[str]:
    words = []
    for period in periods:
        try:
            words.append(dt.date.fromisoformat(f"{period}-01").strftime("%B %Y"))
        except ValueError:
            words.append(period)
    return words


def blocked_now(case: Case) -> tuple[bool, str]:
    """(whether the rules map a blocked document now, what still fails): the document of the
    oldest blocked job built again (nothing stored)."""
    sample = case_first_blocked_job(case)
    if sample is None:
        return False, ""
    try:
        build_document(event=sample.event, connection=sample.connection)
    except ErpSyncError as error:
        return False, error.message
    return True, ""


def guide(case: Case, subject, user) -> CaseGuide:
    """The context of TEMPLATE for a `mapping_missing` case on connection `subject`."""
    match = missing_match(case)
    count = case.item_count
    active = case.is_active and count > 0
    maps_now, still_failing = blocked_now(case) if active else (False, "")
    if still_failing == (case.detail or {}).get("error"):
        still_failing = ""  # the failure the case already names
    revise = rule_to_revise(match)
    create_url = revise_url = replay_url = ""
    if active and revise is None and user.has_perm(ADD_PERMISSION):
        create_url = f"{reverse('erp_sync:rule-create')}?case={case.pk}"
    if active and revise is not None and user.has_perm(CHANGE_PERMISSION):
        revise_url = f"{reverse('erp_sync:rule-edit', args=[revise])}?case={case.pk}"
    bulk = case_bulk_action(case)
    bulk_active = bulk is not None and bulk.state == BulkActionState.RUNNING
    # Not offered again while a replay of the case runs (its progress shows instead).
    if active and maps_now and not bulk_active and user.has_perm(REPLAY_PERMISSION):
        replay_url = reverse("erp_sync:case-jobs-replay", args=[case.pk])
    return CaseGuide(
        template=TEMPLATE,
        context={
            "what": missing_what(match),
            "connection": subject,
            "entity": match.get("entity", ""),
            "count": count,
            "documents": document_words(match.get("document_type", ""), count),
            "totals": case_item_totals(case),
            "months": month_words(case_item_periods(case)),
            "active": active,
            "maps_now": maps_now,
            "still_failing": still_failing,
            "create_url": create_url,
            "revise_url": revise_url,
            "replay_url": replay_url,
            "bulk": bulk,
            "bulk_active": bulk_active,
        },
    )
