"""Writes of mapping rules: create, revise (a new version), deactivate.

A rule is never edited in place: a revision is a new row (version + 1) that supersedes the
old one, which is deactivated. Sync jobs keep their link to the version they were built
with, so a rule change never changes what was already posted.

Refused at save (MappingRuleError kinds, the message names the conflicting rule):
- valid_to before valid_from (RuleDatesError);
- a tie (RuleTieError): another active rule of the same specificity that some single event
  could match together with this one — for every match field the two values are equal or one
  of them is blank (a wildcard) — with overlapping dates;
- an account the ERP does not have (UnknownAccountError), checked in every active connection
  of the rule's entity (every active connection when the entity is blank). An ERP that does
  not answer does not block the save: the result carries a warning instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.history import stamp
from erp_sync.adapters.base import ErpError
from erp_sync.adapters.registry import adapter_for
from erp_sync.errors import (
    RuleDatesError,
    RuleInactiveError,
    RuleTieError,
    UnknownAccountError,
)
from erp_sync.models import Connection, MappingRule

logger = logging.getLogger(__name__)

MATCH_FIELDS = MappingRule.MATCH_FIELDS
ACCOUNT_FIELDS = ("revenue_account", "receivable_account", "tax_account")
OUTPUT_FIELDS = (
    "revenue_account",
    "receivable_account",
    "tax_code",
    "tax_account",
    "cost_center",
    "erp_item",
    "subsidiary",
)
EDITABLE_FIELDS = ("name", *MATCH_FIELDS, *OUTPUT_FIELDS, "valid_from", "valid_to")
_UPPER = ("entity", "country", "currency")


@dataclass(frozen=True)
class RuleSaveResult:
    """The saved rule and what could not be checked (e.g. the ERP did not answer)."""

    rule: MappingRule
    warnings: list[str] = field(default_factory=list)


def mapping_rule_create(*, data: dict[str, Any], actor) -> RuleSaveResult:
    """Create version 1 of a rule. Raises RuleDatesError, RuleTieError, UnknownAccountError."""
    rule = MappingRule(**_clean(data))
    rule.specificity = rule.compute_specificity()
    _check_dates(rule)
    warnings = _check_accounts(rule)
    with transaction.atomic():
        _lock_rule_writes()
        _check_tie(rule, exclude_pk=None)
        stamp(rule, actor=actor, reason="mapping rule created")
        rule.save()
    return RuleSaveResult(rule=rule, warnings=warnings)


def mapping_rule_revise(*, rule: MappingRule, data: dict[str, Any], actor) -> RuleSaveResult:
    """Make version n+1 of an active rule from its fields overridden by `data`.

    The old row is deactivated and stays linked to the jobs that used it. Raises
    RuleInactiveError (the rule was deactivated or already revised) and what create raises.
    """
    base = {name: getattr(rule, name) for name in EDITABLE_FIELDS}
    revised = MappingRule(**{**base, **_clean(data)})
    revised.specificity = revised.compute_specificity()
    _check_dates(revised)
    warnings = _check_accounts(revised)
    with transaction.atomic():
        _lock_rule_writes()
        old = MappingRule.objects.select_for_update().get(pk=rule.pk)
        if not old.is_active:
            successor = MappingRule.objects.filter(supersedes=old).first()
            hint = f": it was revised as {_describe(successor)}" if successor else ""
            raise RuleInactiveError(f"{_describe(old)} is no longer active{hint}")
        _check_tie(revised, exclude_pk=old.pk)
        old.is_active = False
        stamp(old, actor=actor, reason=f"superseded by version {old.version + 1}")
        old.save(update_fields=["is_active"])
        revised.version = old.version + 1
        revised.supersedes = old
        stamp(revised, actor=actor, reason=f"revision of {_describe(old)}")
        revised.save()
    rule.refresh_from_db()
    return RuleSaveResult(rule=revised, warnings=warnings)


def mapping_rule_deactivate(*, rule: MappingRule, actor, reason: str = "") -> MappingRule:
    """Stop a rule from matching anything. Idempotent (an inactive rule is returned as is)."""
    with transaction.atomic():
        locked = MappingRule.objects.select_for_update().get(pk=rule.pk)
        if not locked.is_active:
            return locked
        locked.is_active = False
        stamp(locked, actor=actor, reason=reason or "mapping rule deactivated")
        locked.save(update_fields=["is_active"])
    return locked


# ------------------------------------------------------------------------------------------


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, str):
            value = value.strip()
            if name in _UPPER:
                value = value.upper()
        if name == "valid_to" and value == "":
            value = None
        if name in ("valid_from", "valid_to") and isinstance(value, str):
            value = dt.date.fromisoformat(value) if value else None
        if value is None and name not in ("valid_from", "valid_to"):
            value = ""
        cleaned[name] = value
    return cleaned


def _describe(rule: MappingRule) -> str:
    return f'rule "{rule}" (id {rule.pk})'


def _check_dates(rule: MappingRule) -> None:
    if rule.valid_from is None:
        raise RuleDatesError("valid_from is required")
    if rule.valid_to is not None and rule.valid_to < rule.valid_from:
        raise RuleDatesError(
            f"valid_to {rule.valid_to.isoformat()} is before valid_from "
            f"{rule.valid_from.isoformat()}"
        )


# pg_advisory_xact_lock key of mapping-rule writes: the first 8 bytes of
# sha256("concord.erp_sync.mapping_rule_write"), as a signed bigint.
_RULE_WRITE_LOCK = -4_806_794_220_053_348_178


def _lock_rule_writes() -> None:
    """Hold the rule-write lock until the transaction ends.

    The tie check reads the other active rules and the save writes one: two saves side by
    side could each find no tie with the other and both be stored. Rule writes are rare
    admin actions, so they take turns. On SQLite a transaction begins IMMEDIATE (settings):
    it holds the database's write lock from its first statement.
    """
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_RULE_WRITE_LOCK])


def tie_candidates(rule: MappingRule, *, exclude_pk: int | None):
    """Active rules some single event could match together with `rule`, at equal specificity."""
    query = Q(is_active=True, specificity=rule.specificity)
    for name in MATCH_FIELDS:
        value = getattr(rule, name)
        if value:
            query &= Q(**{name: ""}) | Q(**{name: value})
    query &= Q(valid_to__isnull=True) | Q(valid_to__gte=rule.valid_from)
    if rule.valid_to is not None:
        query &= Q(valid_from__lte=rule.valid_to)
    candidates = MappingRule.objects.filter(query)
    if exclude_pk is not None:
        candidates = candidates.exclude(pk=exclude_pk)
    return candidates.order_by("id")


def _check_tie(rule: MappingRule, *, exclude_pk: int | None) -> None:
    other = tie_candidates(rule, exclude_pk=exclude_pk).first()
    if other is not None:
        raise RuleTieError(
            f"ties with {_describe(other)}: same specificity ({rule.specificity}), "
            "overlapping dates and match fields an event could satisfy both ways"
        )


def _check_accounts(rule: MappingRule) -> list[str]:
    """Refuse accounts an answering ERP does not have; warn about ERPs that do not answer."""
    codes = {getattr(rule, name) for name in ACCOUNT_FIELDS if getattr(rule, name)}
    if not codes:
        return []
    connections = Connection.objects.filter(is_active=True).select_related("entity")
    if rule.entity:
        connections = connections.filter(entity__code=rule.entity)
    warnings: list[str] = []
    for connection in connections:
        try:
            missing = adapter_for(connection).missing_accounts(codes)
        except ErpError as error:
            warnings.append(
                f"accounts not checked in {connection.name}: the ERP did not answer "
                f"({error.message})"
            )
            continue
        except Exception as error:
            logger.warning("account check failed on %s", connection.name, exc_info=True)
            warnings.append(f"accounts not checked in {connection.name}: {error}")
            continue
        if missing:
            raise UnknownAccountError(
                f"account(s) {', '.join(sorted(missing))} not in the chart of accounts of "
                f'connection "{connection.name}"',
                accounts=set(missing),
            )
    return warnings


# ------------------------------------------------------------------------------------------
# Preview: what an event would map to. Reads only; nothing is stored.


def mapping_preview(
    *, body: dict | None = None, source: str = "", event_id: str = ""
) -> dict[str, Any]:
    """Build the document of a canonical event `body` (or of the stored event source/id).

    Answers {"ok", "event", "document_type", "external_id", "parent_external_id", "rules"
    (which rule mapped what), "document" (JSON form), "balanced", "error" (code, message,
    match)}. A mapping that is missing is an answer (ok False), not an exception. Raises
    DocumentSourceError when the input is not an event (shape errors carry field paths).
    """
    from billing.models import FinanceEvent
    from billing.schema import EVENT_TYPES, EventSchemaError, validate_event
    from erp_sync.errors import DocumentSourceError

    if body is not None:
        if not isinstance(body, dict):
            raise DocumentSourceError("event must be a JSON object", code="invalid", field="event")
        event_type = body.get("type")
        if event_type in EVENT_TYPES:
            try:
                validate_event(body, path="event")
            except EventSchemaError as error:
                first = error.errors[0]
                raise DocumentSourceError(
                    first.message, code=first.code, field=first.field
                ) from None
        time = parse_datetime(str(body.get("time", ""))) or timezone.now()
        event = FinanceEvent(
            source=str(body.get("source", "")),
            event_id=str(body.get("id", "")),
            type=str(event_type or ""),
            entity=str(body.get("entity", "")),
            event_time=time,
            body=body,
        )
    else:
        event = FinanceEvent.objects.filter(source=source, event_id=event_id).first()
        if event is None:
            raise DocumentSourceError(
                f"no stored event {source}/{event_id}", code="not_found", field="id"
            )
    connection = (
        Connection.objects.filter(is_active=True, entity__code=event.entity).order_by("id").first()
    )
    return _preview_answer(event, connection)


def mapping_draft_preview(*, data: dict[str, Any], event, connection) -> dict[str, Any]:
    """What the stored `event` would map to on `connection` if the rule `data` (the fields of
    `mapping_rule_create`) were saved: the answer of `mapping_preview`, the draft among its
    rules (its id None). Reads only; nothing is stored. Raises RuleDatesError."""
    draft = MappingRule(**_clean(data))
    draft.specificity = draft.compute_specificity()
    _check_dates(draft)
    return _preview_answer(event, connection, draft=draft)


def _preview_answer(event, connection, *, draft: MappingRule | None = None) -> dict[str, Any]:
    from erp_sync.builders import build_document
    from erp_sync.documents import document_to_json, document_type_for
    from erp_sync.errors import ErpSyncError

    kind = document_type_for(event.type)
    answer: dict[str, Any] = {
        "ok": False,
        "event": {"source": event.source, "id": event.event_id, "type": event.type},
        "document_type": kind,
        "external_id": "",
        "parent_external_id": "",
        "rules": [],
        "document": None,
        "balanced": False,
        "error": None,
    }
    try:
        built = build_document(event=event, connection=connection, draft=draft)
    except ErpSyncError as error:
        answer["error"] = {
            "code": error.code,
            "message": error.message,
            "match": getattr(error, "match", None),
        }
        return answer
    document = built.document
    answer.update(
        ok=True,
        external_id=document.external_id,
        parent_external_id=document.parent_external_id,
        rules=[
            {
                "applies_to": label,
                "rule": {"id": rule.pk, "name": rule.name, "version": rule.version},
            }
            for label, rule in built.line_rules
        ],
        document=document_to_json(document),
        balanced=document.is_balanced(),
    )
    return answer
