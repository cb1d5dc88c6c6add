"""Correct and replay a quarantined event: a person fixes what the source sent wrong.

Events are immutable in the log, so a correction is a NEW event: the corrected copy, stored
with a derived id (`<ingested id>~c<n>`), linked to the event it replaces (`corrects`) and
carrying the correction (reason and every changed field path with its old and new value).
The event it replaces is kept as it was received and moves to `superseded`. The copy is
checked by the same schema as the ingest and applied in the same transaction; the chain's
exception cases (opened on the ingested event, `correction_root`) resolve when it applies,
or stay open with the new reason when it is quarantined too.
"""

from django.db import transaction

from billing.choices import FinanceEventState
from billing.errors import BillingError
from billing.models import FinanceEvent
from billing.schema import EventSchemaError, FieldError, canonical_digest, validate_event
from billing.selectors import corrected_by, correction_depth, correction_root
from billing.services.awaiting import event_await_clear
from billing.services.events import actor_or_none, event_apply, event_build
from config.correlation import get_correlation_id
from config.history import stamp
from exceptions.models import ACTIVE_STATES
from exceptions.selectors import cases_for_subject
from exceptions.services import case_comment_add, cases_resolve_for_subject

# What a correction may change; the source, id, type and version say which event it is.
CORRECTABLE = ("entity", "time", "data")
MAX_CHANGES_SHOWN = 5


def corrected_event_id(event: FinanceEvent) -> str:
    """The id of the copy correcting `event`: the ingested event's id + "~c<n>", n the step
    in the chain of corrections. The same for every attempt to correct `event`, so a double
    submit meets the (source, id) key and the first copy instead of making a second."""
    return f"{correction_root(event).event_id}~c{correction_depth(event) + 1}"


def _flatten(value, path: str, out: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", out)
    else:
        out[path] = value


def correction_changes(old_body: dict, new_body: dict) -> list[dict]:
    """Every correctable field path whose value differs: [{"field", "old", "new"}], in the
    order of the old body (fields only in the new one last); a missing value is None. Pure."""
    old: dict = {}
    new: dict = {}
    for part in CORRECTABLE:
        _flatten(old_body.get(part), part, old)
        _flatten(new_body.get(part), part, new)
    paths = list(old) + [path for path in new if path not in old]
    return [
        {"field": path, "old": old.get(path), "new": new.get(path)}
        for path in paths
        if old.get(path) != new.get(path)
    ]


def changes_text(changes: list[dict]) -> str:
    """The changes in one line: "data.invoice_id: INV-1042 → INV-1024; ..." (the first few)."""
    shown = [
        f"{c['field']}: {'—' if c['old'] is None else c['old']} → "
        f"{'—' if c['new'] is None else c['new']}"
        for c in changes[:MAX_CHANGES_SHOWN]
    ]
    more = len(changes) - MAX_CHANGES_SHOWN
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _corrected_body(event: FinanceEvent, payload) -> dict:
    """The original body with the payload's correctable parts and the derived id. Raises
    EventSchemaError naming a part that may not be corrected."""
    if not isinstance(payload, dict):
        raise EventSchemaError(
            [FieldError("", "invalid_type", "the correction must be an object of event fields")]
        )
    refused = [key for key in payload if key not in CORRECTABLE]
    if refused:
        raise EventSchemaError(
            [
                FieldError(
                    key,
                    "not_correctable",
                    f"{key} cannot be corrected (only {', '.join(CORRECTABLE)}): it says "
                    "which event this is",
                )
                for key in refused
            ]
        )
    return {**event.body, **payload, "id": corrected_event_id(event)}


def _required_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(
            "a reason is required to correct an event",
            code="reason_required",
            field="reason",
            status=400,
        )
    return reason


def _store_copy(event: FinanceEvent, *, envelope, body, digest, changes, reason, actor):
    copy = event_build(envelope=envelope, body=body, digest=digest, actor=actor)
    copy.corrects_id = event.pk
    copy.correction = {"reason": reason, "changes": changes}
    copy.correlation_id = event.correlation_id or get_correlation_id() or ""
    # The reason first: a history reason is cut at 100 characters.
    stamp(copy, actor=actor, reason=f"correction of {event.event_id}: {reason}")
    copy.save(force_insert=True)
    return copy


def _supersede(event: FinanceEvent, copy: FinanceEvent, *, reason: str, actor) -> None:
    event.supersede()
    event.result = {
        **event.result,
        "state": event.state,
        "corrected_by": {"source": copy.source, "id": copy.event_id},
    }
    stamp(event, actor=actor, reason=f"corrected as {copy.event_id}: {reason}")
    event.save(update_fields=["state", "result"])
    event_await_clear(event=event)


def event_correct(*, event: FinanceEvent, payload: dict, actor, reason: str) -> FinanceEvent:
    """Replace quarantined `event` with a corrected copy and apply the copy; return the copy.

    `payload` holds the corrected parts of the event: `data` (the whole corrected data
    object), and optionally `entity` and `time`; what it leaves out is kept. The corrected
    body is checked by the ingest's schema. In one transaction: the copy is stored with id
    `corrected_event_id(event)`, linked to `event` (`corrects`) with the correction (reason,
    changed field paths with old and new values), `event` moves quarantined → superseded
    with its body unchanged, and the copy is applied. Applied: the chain's cases resolve
    with the reason and the changes; quarantined again: the case stays open (bumped with
    the new reason; a case of the old reason resolves when the reason changed) and gets a
    comment saying what was corrected, by whom and why.

    Idempotent: the same correction again returns the copy made the first time, writing
    nothing. Raises EventSchemaError (field paths; nothing written) for a corrected body
    the schema refuses or a part that may not be corrected; BillingError reason_required,
    nothing_changed (400), already_corrected (409, another correction exists),
    not_correctable (409, the event is not quarantined), id_taken (409).
    """
    reason = _required_reason(reason)
    with transaction.atomic():
        event = FinanceEvent.objects.select_for_update().get(pk=event.pk)
        body = _corrected_body(event, payload)
        envelope = validate_event(body)
        digest = canonical_digest(body)
        if event.state == FinanceEventState.SUPERSEDED:
            existing = corrected_by(event)
            if existing is not None and existing.body_digest == digest:
                return existing
            raise BillingError(
                f"event {event} was already corrected as {existing.event_id if existing else '?'}"
                "; correct that event instead",
                code="already_corrected",
            )
        if event.state != FinanceEventState.QUARANTINED:
            raise BillingError(
                f"event {event} is {event.state}; only a quarantined event can be corrected",
                code="not_correctable",
            )
        changes = correction_changes(event.body, body)
        if not changes:
            raise BillingError(
                "the correction changes nothing: replay the event instead",
                code="nothing_changed",
                field="data",
                status=400,
            )
        if FinanceEvent.objects.filter(source=event.source, event_id=body["id"]).exists():
            raise BillingError(
                f"an event {event.source}/{body['id']} already exists", code="id_taken"
            )
        previous_reason = event.quarantine_reason
        copy = _store_copy(
            event, envelope=envelope, body=body, digest=digest, changes=changes,
            reason=reason, actor=actor,
        )  # fmt: skip
        _supersede(event, copy, reason=reason, actor=actor)
        summary = f"corrected as {copy.event_id}: {reason} ({changes_text(changes)})"
        failure = event_apply(event=copy, envelope=envelope, actor=actor)
        root = correction_root(copy)
        if failure is None:
            cases_resolve_for_subject(subject=root, actor=actor_or_none(actor), reason=summary)
        else:
            _still_quarantined(root, copy, previous_reason, failure, summary, actor)
    return copy


def _still_quarantined(root, copy, previous_reason: str, failure, summary: str, actor) -> None:
    """The copy was quarantined too: its case (on the root) is open with the new reason."""
    if previous_reason and previous_reason != failure.reason:
        cases_resolve_for_subject(
            subject=root,
            actor=actor_or_none(actor),
            reason=f"{summary}; no longer fails for {previous_reason}",
            kinds=[previous_reason],
        )
    case = cases_for_subject(root).filter(kind=failure.reason, state__in=ACTIVE_STATES).first()
    if case is not None and actor_or_none(actor) is not None:
        case_comment_add(
            case=case,
            actor=actor,
            body=f"{summary}. The correction was quarantined too: {failure.detail}",
        )
