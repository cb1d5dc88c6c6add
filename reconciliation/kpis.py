"""The finance KPIs of one legal entity and period, read from the layers below.

One function per figure, each a few aggregate queries; `kpis()` gathers them for the API,
the dashboard panel and the Prometheus collector. Money is Decimal per currency, never
summed across currencies; shares are Decimal fractions (0..1, four places) or None when
there is nothing to divide by; durations are seconds.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import (
    Avg,
    Count,
    DecimalField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)
from django.db.models.functions import Abs
from django.utils import timezone

from billing.choices import ErpStatus, QuarantineReason
from billing.models import (
    CreditNote,
    DuplicateDeliveryCount,
    FinanceEvent,
    Invoice,
    LegalEntity,
    Payment,
)
from config import money as money_rules
from config.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from erp_sync.choices import AttemptOutcome
from erp_sync.models import SyncAttempt, SyncJob
from exceptions.models import ACTIVE_STATES, Case, CaseSeverity, CaseState
from partners.models import Settlement
from reconciliation.choices import PAIRED_STATUSES, BreakState, RunScope
from reconciliation.close import close_checklist, latest_completed_run
from reconciliation.models import BillingSnapshotRow, Break, Match
from reconciliation.periods import Period

SHARE_PLACES = Decimal("0.0001")
MONEY = DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES)
# Exception backlog age buckets: (name, at least this old).
AGE_BUCKETS = (
    ("over_30d", dt.timedelta(days=30)),
    ("7_30d", dt.timedelta(days=7)),
    ("1_7d", dt.timedelta(days=1)),
    ("under_1d", dt.timedelta(0)),
)
# Attempts the ERP answered: accepted (posted, found) or refused (retry, dead); held ones
# never reached it.
ERP_ACCEPTED = (AttemptOutcome.POSTED, AttemptOutcome.FOUND_EXISTING)
ERP_REFUSED = (AttemptOutcome.RETRY, AttemptOutcome.DEAD)


def money(amount, currency: str) -> Decimal:
    """An amount in `currency`'s minor units (SQLite sums come back as floats' decimals)."""
    amount = Decimal(str(amount or 0))
    return money_rules.quantize(amount, currency) if money_rules.is_currency(currency) else amount


def share(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(SHARE_PLACES, rounding=ROUND_HALF_EVEN)


def percentile(sorted_values: list[float], p: int) -> float | None:
    """The nearest-rank p-th percentile of ascending values (None for none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _seconds(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds(), 3)


def invoice_figures(entity: LegalEntity, period: Period, run) -> dict:
    """Invoice completeness (issued vs posted) and accuracy (posted, matched by the latest
    completed run, never a break of the period, never credited) of invoices issued in the
    period; one query."""
    invoices = Invoice.objects.filter(entity=entity, **period.days("issue_date"))
    broke = Break.objects.filter(
        entity=entity,
        period_start=period.start,
        period_end=period.end,
        scope=RunScope.DOCUMENTS,
        billing_kind="invoice",
        billing_number=OuterRef("invoice_id"),
    )
    paired = Match.objects.filter(
        run=run,
        status__in=PAIRED_STATUSES,
        billing_row__kind="invoice",
        billing_row__record_id=OuterRef("pk"),
    )
    counts = invoices.annotate(
        broke=Exists(broke),
        paired=Exists(paired),
        corrected=Exists(CreditNote.objects.filter(invoice=OuterRef("pk"))),
    ).aggregate(
        issued=Count("pk"),
        posted=Count("pk", filter=Q(erp_status=ErpStatus.POSTED)),
        accurate=Count(
            "pk",
            filter=Q(erp_status=ErpStatus.POSTED, paired=True, broke=False, corrected=False),
        ),
    )
    return {
        "invoice_completeness": {
            "issued": counts["issued"],
            "posted": counts["posted"],
            "share": share(counts["posted"], counts["issued"]),
        },
        "invoice_accuracy": {
            "invoices": counts["issued"],
            "accurate": counts["accurate"] if run is not None else None,
            "share": share(counts["accurate"], counts["issued"]) if run is not None else None,
        },
    }


def posting_latency(entity: LegalEntity, period: Period) -> dict:
    """Event received → ERP acknowledged (the job's posted_at), for jobs posted in the
    period: p50 and p95 in seconds (nearest rank), and how many."""
    durations = sorted(
        (posted - received).total_seconds()
        for received, posted in SyncJob.objects.filter(
            connection__entity=entity, posted_at__isnull=False, **period.instants("posted_at")
        )
        .values_list("event__received_at", "posted_at")
        .iterator(chunk_size=5000)
    )
    return {
        "postings": len(durations),
        "p50_seconds": percentile(durations, 50),
        "p95_seconds": percentile(durations, 95),
    }


def reconciliation_completeness(run) -> dict:
    """Of the billing documents the latest completed run compared: how many, and how much
    value per currency, a rule or a person paired with the ERP."""
    if run is None:
        return {"run": None, "documents": 0, "matched": 0, "share": None, "by_currency": {}}
    rows = (
        BillingSnapshotRow.objects.filter(run=run)
        .annotate(
            paired=Exists(
                Match.objects.filter(
                    run=run, billing_row=OuterRef("pk"), status__in=PAIRED_STATUSES
                )
            )
        )
        .values("currency")
        .annotate(
            documents=Count("pk"),
            matched=Count("pk", filter=Q(paired=True)),
            value=Sum("total_amount"),
            matched_value=Sum("total_amount", filter=Q(paired=True)),
        )
        .order_by("currency")
    )
    by_currency, documents, matched = {}, 0, 0
    for row in rows:
        documents += row["documents"]
        matched += row["matched"]
        currency = row["currency"]
        value, matched_value = money(row["value"], currency), money(row["matched_value"], currency)
        by_currency[row["currency"]] = {
            "value": value,
            "matched_value": matched_value,
            "share": share(matched_value, value),
        }
    return {
        "run": run.pk,
        "documents": documents,
        "matched": matched,
        "share": share(matched, documents),
        "by_currency": by_currency,
    }


def unreconciled_value(entity: LegalEntity, period: Period) -> dict:
    """Open breaks of the period: the absolute differences per currency; breaks between two
    currencies have no comparable amount and are counted apart."""
    rows = (
        Break.objects.filter(
            entity=entity, period_start=period.start, period_end=period.end, state=BreakState.OPEN
        )
        .values("difference_currency")
        .annotate(breaks=Count("pk"), value=Sum(Abs("difference_amount"), output_field=MONEY))
        .order_by("difference_currency")
    )
    by_currency, without_amount = {}, 0
    for row in rows:
        if row["difference_currency"]:
            by_currency[row["difference_currency"]] = {
                "breaks": row["breaks"],
                "value": money(row["value"], row["difference_currency"]),
            }
        else:
            without_amount += row["breaks"]
    return {"by_currency": by_currency, "breaks_without_amount": without_amount}


def duplicate_events(entity: LegalEntity, period: Period) -> dict:
    """Duplicate events rejected: the deliveries of an already stored event the ingest
    answered 200 (same body) or 409 (another body) on the period's days, from billing's
    DuplicateDeliveryCount; and the events quarantined because their record existed."""
    delivered = DuplicateDeliveryCount.objects.filter(
        entity=entity.code, **period.days("day")
    ).aggregate(duplicates=Sum("duplicates"), conflicts=Sum("conflicts"))
    duplicates, conflicts = delivered["duplicates"] or 0, delivered["conflicts"] or 0
    return {
        "deliveries_recorded": True,
        "rejected": duplicates + conflicts,
        "duplicate_deliveries": duplicates,
        "conflicting_deliveries": conflicts,
        "duplicate_record_quarantined": FinanceEvent.objects.filter(
            entity=entity.code,
            quarantine_reason=QuarantineReason.DUPLICATE_RECORD,
            **period.instants("received_at"),
        ).count(),
    }


def exception_backlog(entity: LegalEntity, *, now: dt.datetime) -> dict:
    """Open and acknowledged cases of the entity now, by severity and age (since first
    seen); one query."""
    buckets = {}
    for name, age in AGE_BUCKETS:
        older = Q(first_seen_at__lte=now - age)
        # ... and younger than the next bucket up (the buckets run oldest first).
        bounds = [other for _, other in AGE_BUCKETS if other > age]
        if bounds:
            older &= Q(first_seen_at__gt=now - min(bounds))
        buckets[name] = Count("pk", filter=older)
    rows = (
        Case.objects.filter(entity=entity.code, state__in=ACTIVE_STATES)
        .values("severity")
        .annotate(total=Count("pk"), **buckets)
        .order_by("severity")
    )
    found = {row["severity"]: row for row in rows}
    by_severity = {
        severity: {
            "total": found.get(severity, {}).get("total", 0),
            **{name: found.get(severity, {}).get(name, 0) for name, _ in AGE_BUCKETS},
        }
        for severity in CaseSeverity.values
    }
    return {"total": sum(v["total"] for v in by_severity.values()), "by_severity": by_severity}


def mean_time_to_resolve(entity: LegalEntity, period: Period) -> dict:
    """Cases of the entity resolved in the period: how many and the mean first seen →
    resolved, in seconds."""
    figures = Case.objects.filter(
        entity=entity.code, state=CaseState.RESOLVED, **period.instants("resolved_at")
    ).aggregate(
        resolved=Count("pk"),
        mean=Avg(ExpressionWrapper(F("resolved_at") - F("first_seen_at"), DurationField())),
    )
    return {"resolved": figures["resolved"], "mean_seconds": _seconds(figures["mean"])}


def settlement_cycle(entity: LegalEntity, period: Period) -> dict:
    """Settlements the entity pays, of periods inside this one, approved: how many and the
    mean calculated → approved time in seconds (history says the same; these two columns
    are enough)."""
    figures = Settlement.objects.filter(
        partner__paying_entity=entity,
        period_start__gte=period.start,
        period_end__lte=period.end,
        calculated_at__isnull=False,
        approved_at__isnull=False,
    ).aggregate(
        approved=Count("pk"),
        mean=Avg(ExpressionWrapper(F("approved_at") - F("calculated_at"), DurationField())),
    )
    return {"approved": figures["approved"], "mean_seconds": _seconds(figures["mean"])}


def erp_rejections(entity: LegalEntity, period: Period) -> dict:
    """Attempts started in the period that the ERP answered, and the share it refused."""
    figures = SyncAttempt.objects.filter(
        job__connection__entity=entity, **period.instants("started_at")
    ).aggregate(
        accepted=Count("pk", filter=Q(outcome__in=ERP_ACCEPTED)),
        rejected=Count("pk", filter=Q(outcome__in=ERP_REFUSED)),
    )
    answered = figures["accepted"] + figures["rejected"]
    return {
        "requests": answered,
        "rejected": figures["rejected"],
        "ratio": share(figures["rejected"], answered),
    }


def unapplied_cash(entity: LegalEntity, period: Period) -> dict:
    """Payments received in the period not (fully) allocated to invoices: per currency,
    how many and the unallocated amount."""
    rows = (
        Payment.objects.filter(entity=entity, **period.instants("received_at"))
        .filter(allocated_amount__lt=F("amount"))
        .values("currency")
        .annotate(
            payments=Count("pk"),
            value=Sum(F("amount") - F("allocated_amount"), output_field=MONEY),
        )
        .order_by("currency")
    )
    return {
        row["currency"]: {
            "payments": row["payments"],
            "value": money(row["value"], row["currency"]),
        }
        for row in rows
    }


def kpis(*, entity: LegalEntity, period: Period, now: dt.datetime | None = None) -> dict:
    """Every KPI of `entity` and `period` (the exception backlog is as of `now`)."""
    now = now or timezone.now()
    run = latest_completed_run(entity, period)
    checklist = close_checklist(entity=entity, period=period)
    figures: dict = {
        "entity": entity.code,
        "period_start": period.start,
        "period_end": period.end,
        "latest_run": run.pk if run is not None else None,
    }
    figures.update(invoice_figures(entity, period, run))
    figures["posting_latency"] = posting_latency(entity, period)
    figures["reconciliation_completeness"] = reconciliation_completeness(run)
    figures["unreconciled_value"] = unreconciled_value(entity, period)
    figures["duplicate_events_rejected"] = duplicate_events(entity, period)
    figures["exception_backlog"] = exception_backlog(entity, now=now)
    figures["mean_time_to_resolve"] = mean_time_to_resolve(entity, period)
    figures["settlement_cycle_time"] = settlement_cycle(entity, period)
    figures["erp_rejected_ratio"] = erp_rejections(entity, period)
    figures["unapplied_cash"] = unapplied_cash(entity, period)
    figures["close_cycle_exceptions"] = {
        "blocking": checklist.blocking,
        "items": {item.key: item.count for item in checklist.items},
    }
    return figures


def jsonable(value):
    """KPIs as JSON: Decimals and dates as strings (money never through a float)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value
