"""The finance KPIs as Prometheus gauges, read from the same selectors as the API.

`KpiCollector` is registered on the default registry by the app's `ready()`, so django-
prometheus' `/metrics` carries it. To stay cheap on every scrape it computes the KPIs of
the previous month (the period the nightly run reconciles) for every legal entity with an
active ERP connection, once per `RECONCILIATION_METRICS_TTL` seconds (default 60); a
failing read is logged and yields only `concord_recon_kpis_up 0`. Prometheus values are
floats: that is the export format, the figures themselves stay Decimal.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db.models import Exists, OuterRef
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)
DEFAULT_TTL = 60
PREFIX = "concord_recon_"


def _number(value) -> float | None:
    return None if value is None else float(value)


class KpiCollector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, list] | None = None

    def describe(self) -> list:
        return []  # never touch the database at registration

    def _figures(self) -> list[dict]:
        from billing.models import LegalEntity
        from erp_sync.models import Connection
        from reconciliation.kpis import kpis
        from reconciliation.periods import Period

        period = Period.previous_month()
        entities = LegalEntity.objects.filter(
            Exists(Connection.objects.filter(entity=OuterRef("pk"), is_active=True))
        ).order_by("code")
        return [kpis(entity=entity, period=period) for entity in entities]

    def figures(self) -> list[dict]:
        ttl = getattr(settings, "RECONCILIATION_METRICS_TTL", DEFAULT_TTL)
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] >= ttl:
                self._cached = (time.monotonic(), self._figures())
            return self._cached[1]

    def clear(self) -> None:
        with self._lock:
            self._cached = None

    def collect(self):
        up = GaugeMetricFamily(PREFIX + "kpis_up", "1 when the KPIs could be read")
        try:
            figures = self.figures()
        except Exception:
            logger.exception("reconciliation KPIs could not be read for /metrics")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families(figures)


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=["entity", *labels])


def families(figures: list[dict]):
    """Gauge families of the KPIs of several entities (values that are None are left out)."""
    g = {
        "issued": _gauge("invoices_issued", "Invoices issued in the period", []),
        "posted": _gauge("invoices_posted", "Invoices issued in the period and posted", []),
        "accuracy": _gauge("invoice_accuracy_ratio", "Invoices posted, matched, unbroken", []),
        "latency": _gauge(
            "posting_latency_seconds", "Event received to ERP acknowledged", ["quantile"]
        ),
        "matched": _gauge("matched_ratio", "Billing documents matched (latest run)", []),
        "matched_value": _gauge(
            "matched_value_ratio", "Billing value matched (latest run)", ["currency"]
        ),
        "unreconciled": _gauge(
            "unreconciled_value", "Open breaks' absolute difference", ["currency"]
        ),
        "duplicates": _gauge(
            "duplicate_record_quarantined", "Events quarantined as duplicate records", []
        ),
        "rejected_deliveries": _gauge(
            "duplicate_deliveries_rejected", "Deliveries of a stored event (200 or 409)", []
        ),
        "backlog": _gauge(
            "exception_backlog", "Open cases by severity and age", ["severity", "age"]
        ),
        "mttr": _gauge("mean_time_to_resolve_seconds", "Cases resolved in the period", []),
        "settlement": _gauge("settlement_cycle_seconds", "Settlement calculated to approved", []),
        "rejected": _gauge("erp_rejected_ratio", "ERP requests refused", []),
        "unapplied": _gauge("unapplied_cash", "Payments' unallocated amount", ["currency"]),
        "close": _gauge("close_blocking", "Records blocking the close checklist", ["item"]),
    }

    def add(key: str, entity: str, value, *labels: str) -> None:
        if value is not None:
            g[key].add_metric([entity, *labels], _number(value))

    for f in figures:
        e = f["entity"]
        add("issued", e, f["invoice_completeness"]["issued"])
        add("posted", e, f["invoice_completeness"]["posted"])
        add("accuracy", e, f["invoice_accuracy"]["share"])
        add("latency", e, f["posting_latency"]["p50_seconds"], "0.5")
        add("latency", e, f["posting_latency"]["p95_seconds"], "0.95")
        add("matched", e, f["reconciliation_completeness"]["share"])
        for currency, v in f["reconciliation_completeness"]["by_currency"].items():
            add("matched_value", e, v["share"], currency)
        for currency, v in f["unreconciled_value"]["by_currency"].items():
            add("unreconciled", e, v["value"], currency)
        add("duplicates", e, f["duplicate_events_rejected"]["duplicate_record_quarantined"])
        add("rejected_deliveries", e, f["duplicate_events_rejected"]["rejected"])
        for severity, ages in f["exception_backlog"]["by_severity"].items():
            for age, count in ages.items():
                if age != "total":
                    add("backlog", e, count, severity, age)
        add("mttr", e, f["mean_time_to_resolve"]["mean_seconds"])
        add("settlement", e, f["settlement_cycle_time"]["mean_seconds"])
        add("rejected", e, f["erp_rejected_ratio"]["ratio"])
        for currency, v in f["unapplied_cash"].items():
            add("unapplied", e, v["value"], currency)
        for item, count in f["close_cycle_exceptions"]["items"].items():
            add("close", e, count, item)
    yield from g.values()


collector = KpiCollector()
_registered = False


def register() -> None:
    """Put the collector on prometheus_client's default registry (once per process)."""
    global _registered
    if _registered:
        return
    from prometheus_client import REGISTRY

    REGISTRY.register(collector)
    _registered = True
