"""Checks and helpers every handler shares: entity, closed period, currency, scope."""

from datetime import date, datetime

from billing.awaiting import AWAITED_BY_REASON
from billing.choices import QuarantineReason
from billing.errors import QuarantineError
from billing.models import Customer, FinanceEvent, LegalEntity
from billing.schema import Envelope


def history_reason(event: FinanceEvent) -> str:
    """The history reason of every change an event makes."""
    return f"event {event.type} {event.source}/{event.event_id}"


def period_of(day: date | None) -> str:
    return day.strftime("%Y-%m") if day else ""


def entity_get(code: str, *, scope: dict | None = None) -> LegalEntity:
    """The legal entity `code`; unknown → quarantine unknown_entity."""
    try:
        return LegalEntity.objects.get(code=code)
    except LegalEntity.DoesNotExist:
        raise unknown_entity(code, scope=scope) from None


def unknown_entity(code: str, *, scope: dict | None = None) -> QuarantineError:
    """No legal entity has `code`: quarantine unknown_entity."""
    return QuarantineError(
        QuarantineReason.UNKNOWN_ENTITY,
        f"no legal entity with code {code!r}",
        {**(scope or {}), "entity": code},
    )


def customer_with_entity(customer_id: str, **annotations) -> Customer | None:
    """The customer `customer_id` with its legal entity loaded and `annotations` (e.g. an
    Exists of the record id the event creates), in one query; None when unknown."""
    return (
        Customer.objects.select_related("entity")
        .annotate(**annotations)
        .filter(customer_id=customer_id)
        .first()
    )


def entity_of(envelope: Envelope, customer: Customer | None) -> LegalEntity | None:
    """The envelope's legal entity, without a query when it is the customer's own (nearly
    always); None when no entity has that code (the handler's check quarantines it)."""
    if customer is not None and customer.entity.code == envelope.entity:
        return customer.entity
    return LegalEntity.objects.filter(code=envelope.entity).first()


def written_date(body: dict, name: str) -> date:
    """The calendar date of `data.<name>` as the source wrote it, in its own offset: the date
    the ERP document carries (erp_sync's builders date it so). The schema has parsed it
    already, into UTC, which can be the day before or after (23:59 in New York on 29
    February is 1 March in UTC)."""
    return datetime.fromisoformat(body["data"][name]).date()


def check_open_period(entity: LegalEntity, posting_date: date, *, scope: dict) -> None:
    """A posting dated on or before the entity's closed_through date is quarantined."""
    if entity.closed_through is not None and posting_date <= entity.closed_through:
        raise QuarantineError(
            QuarantineReason.CLOSED_PERIOD,
            f"posting date {posting_date.isoformat()} is in a closed period: {entity.code} "
            f"is closed through {entity.closed_through.isoformat()}",
            {**scope, "period": period_of(posting_date)},
        )


def check_currency(sent: str, expected: str, *, what: str, scope: dict) -> None:
    if sent != expected:
        raise QuarantineError(
            QuarantineReason.CURRENCY_MISMATCH,
            f"the event is in {sent} but {what} is in {expected}",
            scope,
        )


def duplicate_record(kind: str, record_id: str, *, scope: dict) -> QuarantineError:
    return QuarantineError(
        QuarantineReason.DUPLICATE_RECORD,
        f"{kind} {record_id!r} already exists (created by another event)",
        scope,
    )


def unknown(reason: str, kind: str, record_id: str, *, scope: dict) -> QuarantineError:
    """The record (`kind`, `record_id`) is not in billing. For a customer, subscription,
    invoice or payment the event waits for it (`awaits`): it may simply come later."""
    awaits = (kind, record_id) if reason in AWAITED_BY_REASON else None
    return QuarantineError(reason, f"no {kind} with id {record_id!r}", scope, awaits=awaits)
