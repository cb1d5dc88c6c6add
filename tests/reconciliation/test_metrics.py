"""The KPIs as Prometheus gauges: the collector reads the same selectors, caches them for
its TTL, and a failing read yields only `concord_recon_kpis_up 0`."""

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from reconciliation.metrics import KpiCollector, collector
from reconciliation.periods import Period
from tests.reconciliation import kpi_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


def _scrape(instance) -> str:
    registry = CollectorRegistry()
    registry.register(instance)
    return generate_latest(registry).decode()


def test_collector_exports_the_kpis_of_last_month(finance_ops, monkeypatch):
    month = kpi_data.build(run=False)
    # Last month is May 2026 for these figures.
    may = Period.month(2026, 5)
    monkeypatch.setattr(Period, "previous_month", classmethod(lambda cls, today=None: may))
    kpi_data.execute(month.entity, finance_ops)

    text = _scrape(KpiCollector())

    assert "concord_recon_kpis_up 1.0" in text
    assert 'concord_recon_invoices_issued{entity="US01"} 4.0' in text
    assert 'concord_recon_unreconciled_value{currency="USD",entity="US01"} 162.5' in text
    assert 'concord_recon_close_blocking{entity="US01",item="reconciliation_clean"} 3.0' in text


def test_collector_caches_for_its_ttl(finance_ops, settings, django_assert_num_queries):
    kpi_data.build(run=False)
    settings.RECONCILIATION_METRICS_TTL = 3600
    instance = KpiCollector()
    _scrape(instance)

    with django_assert_num_queries(0):
        text = _scrape(instance)

    assert 'concord_recon_invoices_issued{entity="US01"}' in text


def test_collector_read_failure_yields_up_zero(monkeypatch):
    instance = KpiCollector()
    monkeypatch.setattr(instance, "_figures", lambda: 1 / 0)

    text = _scrape(instance)

    assert "concord_recon_kpis_up 0.0" in text
    assert "concord_recon_invoices_issued" not in text


def test_collector_is_on_the_default_registry():
    collector.clear()

    text = generate_latest(REGISTRY).decode()

    assert "concord_recon_kpis_up 1.0" in text
