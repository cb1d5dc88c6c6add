"""Console pages of erp_sync: mapping rules (list, create, revise, preview) and connections.

Views parse input, call one service, and render; refusals (DomainError) are shown on the
page, never as a 500. Sync-job pages live in job_views.py.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.console import filtered_page, get_or_404, history_entries
from config.errors import DomainError
from erp_sync.filters import ConnectionFilterSet, MappingRuleFilterSet
from erp_sync.forms import (
    ConnectionForm,
    ConnectionPauseForm,
    MaintenanceWindowForm,
    MappingPreviewForm,
    MappingRuleForm,
)
from erp_sync.guide_views import case_flow
from erp_sync.models import Connection, MaintenanceWindow, MappingRule
from erp_sync.selectors import (
    connection_get,
    connection_in_flight,
    connection_list,
    mapping_rule_get,
    mapping_rule_list,
    mapping_rule_versions,
)
from erp_sync.services import connections as connection_services
from erp_sync.services import rules as rule_services
from erp_sync.services.rules import EDITABLE_FIELDS
from exceptions.selectors import open_cases_touching

# --- rules and connections ----------------------------------------------------------------


def _rule_or_404(pk: int) -> MappingRule:
    return get_or_404(mapping_rule_get, pk, "mapping rule")


def _connection_or_404(pk: int) -> Connection:
    return get_or_404(connection_get, pk, "connection")


@login_required
@permission_required("erp_sync.view_mappingrule", raise_exception=True)
def rule_list_view(request):
    context = filtered_page(request, MappingRuleFilterSet, mapping_rule_list())
    return render(request, "erp_sync/rule_list.html", context)


def _save_rule(request, form, save, flow: dict | None = None):
    """Run `save(data)`; a refusal is shown on the form, warnings as messages. In a case's
    flow, back to the case, where the blocked jobs can be replayed."""
    if not form.is_valid():
        return None
    try:
        result = save(form.cleaned_data)
    except DomainError as error:
        form.add_error(None, error.message)
        return None
    for warning in result.warnings:
        messages.warning(request, warning)
    messages.success(request, f"Saved {result.rule} (id {result.rule.pk}).")
    if flow is not None:
        return redirect(flow["case_url"])
    return redirect("erp_sync:rule-list")


@login_required
@permission_required("erp_sync.add_mappingrule", raise_exception=True)
def rule_create_view(request):
    """A new rule; with `?case=<pk>` (a missing mapping) prefilled from the case, the
    accounts chosen from its connection's chart, a preview on a blocked document."""
    flow = case_flow(request)
    form = MappingRuleForm(
        request.POST or None,
        initial=flow["initial"] if flow else None,
        chart=flow["chart"] if flow else None,
    )
    if request.method == "POST":
        done = _save_rule(
            request,
            form,
            lambda data: rule_services.mapping_rule_create(data=data, actor=request.user),
            flow,
        )
        if done is not None:
            return done
    return render(request, "erp_sync/rule_form.html", {"form": form, "rule": None, "flow": flow})


@login_required
@permission_required("erp_sync.change_mappingrule", raise_exception=True)
def rule_edit_view(request, pk: int):
    rule = _rule_or_404(pk)
    flow = case_flow(request)
    initial = {name: getattr(rule, name) for name in EDITABLE_FIELDS}
    form = MappingRuleForm(
        request.POST or None, initial=initial, chart=flow["chart"] if flow else None
    )
    if request.method == "POST":
        done = _save_rule(
            request,
            form,
            lambda data: rule_services.mapping_rule_revise(
                rule=rule, data=data, actor=request.user
            ),
            flow,
        )
        if done is not None:
            return done
    return render(
        request,
        "erp_sync/rule_form.html",
        {"form": form, "rule": rule, "versions": mapping_rule_versions(rule), "flow": flow},
    )


@require_POST
@login_required
@permission_required("erp_sync.change_mappingrule", raise_exception=True)
def rule_deactivate_view(request, pk: int):
    rule = _rule_or_404(pk)
    rule_services.mapping_rule_deactivate(rule=rule, actor=request.user)
    messages.success(request, f"Deactivated {rule}.")
    return redirect("erp_sync:rule-list")


@login_required
@permission_required("erp_sync.view_mappingrule", raise_exception=True)
def rule_preview_view(request):
    """GET: the page. POST (htmx or not): the result of the preview. Stores nothing."""
    form = MappingPreviewForm(request.POST or None, initial=request.GET or None)
    result = error = None
    if request.method == "POST" and form.is_valid():
        try:
            result = rule_services.mapping_preview(
                body=form.cleaned_data.get("event"),
                source=form.cleaned_data.get("source", ""),
                event_id=form.cleaned_data.get("event_id", ""),
            )
        except DomainError as refused:
            error = refused.message
    context = {"form": form, "result": result, "error": error}
    if request.htmx:
        return render(request, "erp_sync/rule_preview.html#preview-result", context)
    return render(request, "erp_sync/rule_preview.html", context)


@login_required
@permission_required("erp_sync.view_connection", raise_exception=True)
def connection_list_view(request):
    filterset = ConnectionFilterSet(request.GET or None, queryset=connection_list())
    rows = []
    for connection in filterset.qs:
        try:
            in_flight = connection_in_flight(connection)
        except Exception:  # the semaphore store down must not break the page
            in_flight = None
        rows.append({"connection": connection, "in_flight": in_flight})
    return render(request, "erp_sync/connection_list.html", {"filterset": filterset, "rows": rows})


@login_required
@permission_required("erp_sync.view_connection", raise_exception=True)
def connection_detail_view(request, pk: int):
    connection = _connection_or_404(pk)
    return render(
        request,
        "erp_sync/connection_detail.html",
        {
            "connection": connection,
            "pause_form": ConnectionPauseForm(),
            "window_form": MaintenanceWindowForm(),
            "can_change": request.user.has_perm("erp_sync.change_connection"),
            "history": history_entries(connection),
            "open_cases": open_cases_touching([connection]),
        },
    )


def _save_connection(request, form, save):
    """Run `save(data)`; a refusal is shown beside its field (or above the form)."""
    if not form.is_valid():
        return None
    try:
        connection = save(form.cleaned_data)
    except DomainError as refused:
        field = refused.field if refused.field in form.fields else None
        form.add_error(field, refused.message)
        return None
    messages.success(request, f"Connection {connection.name} saved.")
    return redirect("erp_sync:connection-detail", pk=connection.pk)


@login_required
@permission_required("erp_sync.add_connection", raise_exception=True)
def connection_create_view(request):
    form = ConnectionForm(request.POST or None)
    if request.method == "POST":
        done = _save_connection(
            request,
            form,
            lambda data: connection_services.connection_create(data=data, actor=request.user),
        )
        if done is not None:
            return done
    return render(request, "erp_sync/connection_form.html", {"form": form, "connection": None})


@login_required
@permission_required("erp_sync.change_connection", raise_exception=True)
def connection_edit_view(request, pk: int):
    connection = _connection_or_404(pk)
    initial = {name: getattr(connection, name) for name in connection_services.EDITABLE_FIELDS}
    initial["settings"] = json.dumps(connection.settings, indent=2)
    form = ConnectionForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST":
        done = _save_connection(
            request,
            form,
            lambda data: connection_services.connection_update(
                connection=connection, data=data, actor=request.user
            ),
        )
        if done is not None:
            return done
    return render(
        request, "erp_sync/connection_form.html", {"form": form, "connection": connection}
    )


@login_required
@permission_required("erp_sync.view_connection", raise_exception=True)
def connection_health_view(request, pk: int):
    """The health partial (htmx). connection_health never raises: a down ERP is a message."""
    connection = _connection_or_404(pk)
    health = connection_services.connection_health(connection)
    return render(
        request,
        "erp_sync/connection_detail.html#health",
        {"connection": connection, "health": health},
    )


def _connection_command(request, pk: int, command, done: str):
    connection = _connection_or_404(pk)
    try:
        command(connection)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("erp_sync:connection-detail", pk=connection.pk)


@require_POST
@login_required
@permission_required("erp_sync.change_connection", raise_exception=True)
def connection_pause_view(request, pk: int):
    form = ConnectionPauseForm(request.POST)
    form.is_valid()
    reason = form.cleaned_data.get("reason", "")
    return _connection_command(
        request,
        pk,
        lambda c: connection_services.connection_pause(
            connection=c, reason=reason, actor=request.user
        ),
        "Connection paused.",
    )


@require_POST
@login_required
@permission_required("erp_sync.change_connection", raise_exception=True)
def connection_resume_view(request, pk: int):
    return _connection_command(
        request,
        pk,
        lambda c: connection_services.connection_resume(connection=c, actor=request.user),
        "Connection resumed.",
    )


@require_POST
@login_required
@permission_required("erp_sync.change_connection", raise_exception=True)
def connection_window_add_view(request, pk: int):
    form = MaintenanceWindowForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A window needs a start and an end.")
        return redirect("erp_sync:connection-detail", pk=pk)
    return _connection_command(
        request,
        pk,
        lambda c: connection_services.maintenance_window_add(
            connection=c, actor=request.user, **form.cleaned_data
        ),
        "Maintenance window added.",
    )


@require_POST
@login_required
@permission_required("erp_sync.change_connection", raise_exception=True)
def connection_window_remove_view(request, pk: int, window_pk: int):
    window = MaintenanceWindow.objects.filter(pk=window_pk, connection_id=pk).first()
    if window is None:
        raise Http404("no such maintenance window")
    return _connection_command(
        request,
        pk,
        lambda c: connection_services.maintenance_window_remove(window=window, actor=request.user),
        "Maintenance window removed.",
    )
