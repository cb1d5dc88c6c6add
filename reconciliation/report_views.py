"""Console pages of the finance KPIs and the close checklist, and the dashboard's partials.

Each view checks the reconciliation read permission and calls one selector; the dashboard's
figures check one permission per panel.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.shortcuts import render
from django.utils import timezone

from billing.models import LegalEntity
from erp_sync.models import Connection
from reconciliation.close import close_checklist
from reconciliation.dashboard import dashboard, visible_panels
from reconciliation.forms import EntityPeriodForm
from reconciliation.kpis import kpis
from reconciliation.periods import Period

VIEW_RUN = "reconciliation.view_reconciliationrun"
# The dashboard panel shows at most this many entities (those with an active connection).
PANEL_ENTITIES = 4


def _form(request) -> EntityPeriodForm:
    data = request.GET.copy()
    data.setdefault("period", Period.previous_month().label)
    if "entity" not in data:
        first = LegalEntity.objects.order_by("code").values_list("code", flat=True).first()
        data["entity"] = first or ""
    return EntityPeriodForm(data)


@login_required
@permission_required(VIEW_RUN, raise_exception=True)
def kpi_view(request):
    form = _form(request)
    figures = kpis(**form.cleaned_data) if form.is_valid() else None
    return render(request, "reconciliation/kpis.html", {"form": form, "kpis": figures})


@login_required
@permission_required(VIEW_RUN, raise_exception=True)
def kpi_panel_view(request):
    """The dashboard panel (an htmx partial): the previous month of the first few entities
    with an active ERP connection."""
    period = Period.previous_month()
    entities = LegalEntity.objects.filter(
        Exists(Connection.objects.filter(entity=OuterRef("pk"), is_active=True))
    ).order_by("code")[:PANEL_ENTITIES]
    panels = [kpis(entity=entity, period=period) for entity in entities]
    return render(request, "reconciliation/_kpi_panel.html", {"panels": panels, "period": period})


@login_required
@permission_required(VIEW_RUN, raise_exception=True)
def close_checklist_view(request):
    form = _form(request)
    checklist = close_checklist(**form.cleaned_data) if form.is_valid() else None
    return render(
        request, "reconciliation/close_checklist.html", {"form": form, "checklist": checklist}
    )


@login_required
def dashboard_view(request):
    """The dashboard's live figures (an htmx partial that reloads itself every 30 s): the
    panels whose records the person may view; none of them is a 403."""
    if not visible_panels(request.user):
        raise PermissionDenied
    now = timezone.now()
    return render(
        request,
        "reconciliation/_dashboard.html",
        {"panels": dashboard(user=request.user, now=now), "now": now},
    )
